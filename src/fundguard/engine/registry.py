"""The rule registry: the folder `fundguard/rules/<category>/<ID>_<slug>.yaml` (+ `.sql`), validated at load.

A bad rule file fails loudly with the file and the field; nothing here names a rule.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from fundguard import yamlio
from fundguard.engine.kinds import kinds
from fundguard.engine.rule import Rule
from fundguard.kb.tables import KB_TABLES
from fundguard.validation import validation_problems

_FILE = re.compile(r"^(?P<id>[A-Z][0-9]{2})_(?P<slug>[a-z][a-z0-9_]*)\.yaml$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# knowledge table names in SQL, directly or through their `<table>_match` view or `'<table>'` in a code map
_KB_NAME = re.compile(r"\b(kb_[a-z_]+?)(?:_match)?\b")


class RuleFileError(ValueError):
    """A rule file is malformed: names the file and the field."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"规则文件有误 {path}:\n" + "\n".join(f"  {p}" for p in problems))


class UnknownRuleError(KeyError):
    def __init__(self, ids: list[str], known: list[str]):
        self.ids = ids
        super().__init__(f"未知的规则编号: {', '.join(ids)} (共 {len(known)} 条规则, 用 `fundguard rules list` 查看)")

    def __str__(self) -> str:
        return str(self.args[0])


def rules_root() -> Path:
    import fundguard.rules

    return Path(fundguard.rules.__file__).parent


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()[:16]


def _not_utf8(data: bytes) -> str | None:
    """Why `data` is not UTF-8 text (a rule file saved as GBK, say), or None."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"不是 UTF-8 文本 (第 {exc.start + 1} 字节起无法按 UTF-8 解码; 请以 UTF-8 保存)"
    return None


#: the HIS orders of a real-time request in an example (`fundguard.realtime.examples.ORDER_TABLE`)
ORDER_TABLE = "fsi_order_dtos"


@lru_cache(maxsize=1)
def _example_columns() -> dict[str, frozenset[str] | None]:
    """The tables an example may give and their columns (None: not checked)."""
    from fundguard.contract.tables import TABLES

    out: dict[str, frozenset[str] | None] = {t.name: frozenset(c.name for c in t.columns) for t in TABLES}
    out.update({name: frozenset(c for c, _ in cols) for name, cols in KB_TABLES.items()})
    out[ORDER_TABLE] = None
    return out


def load_rule_file(path: Path) -> Rule:
    """Read and validate one rule file (and its `.sql` when the kind is `sql`)."""
    match = _FILE.match(path.name)
    if not match:
        raise RuleFileError(path, ["文件名应为 <ID>_<slug>.yaml, 如 A01_item_for_other_sex.yaml"])
    raw_bytes = path.read_bytes()
    bad = _not_utf8(raw_bytes)
    if bad:
        raise RuleFileError(path, [bad])
    try:
        data = yamlio.load(raw_bytes)
    except yaml.YAMLError as exc:
        raise RuleFileError(path, [f"YAML 无法解析: {yamlio.problem(exc)}"]) from None
    if not isinstance(data, dict):
        raise RuleFileError(path, ["顶层应为映射 (id: …, name: …)"])
    try:
        rule = Rule.model_validate(data)
    except ValidationError as exc:
        raise RuleFileError(path, validation_problems(exc)) from exc
    problems: list[str] = []
    if rule.id != match["id"]:
        problems.append(f"字段 id: {rule.id} 与文件名中的 {match['id']} 不一致")
    if rule.slug != match["slug"]:
        problems.append(f"字段 slug: {rule.slug} 与文件名中的 {match['slug']} 不一致")
    known_kinds = kinds()
    sql_path = path.with_suffix(".sql")
    sql_bytes = b""
    sql = ""
    if rule.kind not in known_kinds:
        problems.append(f"字段 kind: 未知的类型 {rule.kind!r} (可用: {', '.join(sorted(known_kinds))})")
    else:
        try:
            known_kinds[rule.kind].parse_config(rule.config)
        except ValidationError as exc:
            problems.extend(validation_problems(exc, "with."))
    if rule.kind == "sql":
        if not sql_path.exists():
            problems.append(f"kind 为 sql, 但缺少 {sql_path.name}")
        else:
            sql_bytes = sql_path.read_bytes()
            bad = _not_utf8(sql_bytes)
            if bad:
                raise RuleFileError(sql_path, [bad])
            rule.sql = sql_bytes.decode("utf-8")
    elif sql_path.exists():
        problems.append(f"kind 为 {rule.kind}, 不应有 {sql_path.name}")
    for table in rule.kb_tables:
        if table not in KB_TABLES:
            problems.append(f"字段 kb_tables: 未知的知识库表 {table!r}")
    if not problems:
        try:
            sql = known_kinds[rule.kind].batch_sql(rule)
        except NotImplementedError:
            sql = ""
        except ValidationError as exc:
            problems.extend(validation_problems(exc, "with."))
            sql = ""
        except ValueError as exc:
            problems.append(f"kind {rule.kind}: {exc}")
            sql = ""
        used = {t for t in _KB_NAME.findall(sql) if t in KB_TABLES}
        undeclared = sorted(used - set(rule.kb_tables))
        if undeclared:
            problems.append(f"字段 kb_tables: SQL 使用了 {', '.join(undeclared)}, 须在 kb_tables 中声明")
    cfg_table = rule.config.get("kb_table")
    if cfg_table and cfg_table not in rule.kb_tables:
        problems.append(f"字段 kb_tables: 应列出 with.kb_table 使用的 {cfg_table}")
    example_columns = _example_columns()
    for i, ex in enumerate(rule.examples):
        for table, rows in ex.given.items():
            if table.startswith("kb_") and table not in KB_TABLES:
                problems.append(f"字段 examples.{i}.given: 未知的知识库表 {table!r}")
                continue
            if table not in example_columns:
                problems.append(f"字段 examples.{i}.given: 未知的表 {table!r} (数据契约的表、知识库表或 {ORDER_TABLE})")
                continue
            columns = example_columns[table]
            for j, row in enumerate(rows):
                unknown_cols = sorted(set(row) - columns) if columns is not None and isinstance(row, dict) else []
                if unknown_cols:
                    problems.append(f"字段 examples.{i}.given.{table}.{j}: 未知的列 {', '.join(unknown_cols)}")
        unknown = sorted(set(ex.params) - set(rule.params))
        if unknown:
            problems.append(f"字段 examples.{i}.params: 未知参数 {', '.join(unknown)}")
        else:
            try:
                rule.bind_params(ex.params)
            except ValueError as exc:
                problems.append(f"字段 examples.{i}.params: {exc}")
    if not problems:
        problems += _threshold_problems(rule, sql)
    if problems:
        raise RuleFileError(path, problems)
    rule.category = path.parent.name
    rule.path = str(path)
    rule.source_digest = _digest(raw_bytes, sql_bytes)
    return rule


def _threshold_problems(rule: Rule, sql: str) -> list[str]:
    """An example's `threshold:` names the limit it sits beside (a parameter, a column of a declared
    knowledge table, or a name the rule's SQL computes, e.g. stay days), and every limit so named has a
    pair: an example that is flagged and one that is not."""
    limits = set(rule.params) | {c for t in rule.kb_tables for c, _ in KB_TABLES.get(t, ())}
    sides: dict[str, set[bool]] = {}
    problems = []
    for i, ex in enumerate(rule.examples):
        if not ex.threshold:
            continue
        if ex.threshold not in limits and not re.search(rf"\b{re.escape(ex.threshold)}\b", sql):
            problems.append(f"字段 examples.{i}.threshold: {ex.threshold!r} 不是此规则的参数、知识库列或 SQL 中的名称")
            continue
        sides.setdefault(ex.threshold, set()).add(bool(ex.expect_flags))
    for name, seen in sides.items():
        if seen != {True, False}:
            missing = "违规 (expect_flags 非空)" if True not in seen else "合规 (expect_flags: [])"
            problems.append(f"字段 examples: 阈值 {name} 的示例应在两侧各有一个, 缺少{missing}的一侧")
    return problems


@dataclass
class Registry:
    root: Path
    rules: dict[str, Rule] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.rules.values())

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule:
        try:
            return self.rules[rule_id]
        except KeyError:
            raise UnknownRuleError([rule_id], list(self.rules)) from None

    def select(self, ids: list[str] | None) -> list[Rule]:
        if not ids:
            return list(self.rules.values())
        wanted = [i.strip().upper() for i in ids if i.strip()]
        unknown = [i for i in wanted if i not in self.rules]
        if unknown:
            raise UnknownRuleError(unknown, list(self.rules))
        return [self.rules[i] for i in sorted(set(wanted))]


def load_registry(root: Path | str | None = None) -> Registry:
    """Every rule file under `root` (default: the packaged library), sorted by id.

    A library folder holds `<ID>_<slug>.yaml` (and `.sql`) files, in category subfolders as the packaged
    one does (`fundguard rules export` copies it) or directly in the folder."""
    if root is None:
        path = rules_root()
    else:
        path = Path(root).expanduser().resolve()
        if not path.is_dir():
            raise RuleFileError(root, ["规则库目录不存在" if not path.exists() else "应为规则库目录, 而不是文件"])
    # the cache is keyed by the files' sizes and times too: a rule edited in a long-running process
    # (the web app, a notebook) is read again
    stamp = tuple((str(f), st.st_mtime_ns, st.st_size) for f in _candidates(path) for st in (f.stat(),))
    # the built-in library is linted by the test suite; another library when it is read
    return _load_registry(path, stamp, lint=path.resolve() != rules_root().resolve())


def rule_files(root: Path, *suffixes: str) -> list[Path]:
    """A library's files with these suffixes, in the folder itself or one level of category folders."""
    return sorted(f for suffix in suffixes for pattern in (f"*{suffix}", f"*/*{suffix}") for f in root.glob(pattern))


def _candidates(root: Path) -> list[Path]:
    """Every file of the library that looks like a rule file (YAML or SQL, any case, any depth), hidden
    folders and caches aside."""
    return sorted(
        f for f in root.rglob("*")
        if f.suffix.lower() in (".yaml", ".yml", ".sql") and f.is_file()
        and not any(part.startswith(".") or part == "__pycache__" for part in f.relative_to(root).parts)
    )


def _unread_files(root: Path) -> list[tuple[Path, str]]:
    """Rule-like files the library would not read: a rule saved as `.yml` or `.YAML`, or one folder too
    deep, would otherwise be left out of the run without a word."""
    read = set(rule_files(root, ".yaml", ".sql"))
    out = []
    for f in _candidates(root):
        if f in read:
            continue
        if f.suffix not in (".yaml", ".sql"):
            out.append((f, f"扩展名应为小写的 {'.sql' if f.suffix.lower() == '.sql' else '.yaml'}; 此文件不会被读取"))
        else:
            out.append((f, "规则文件只能放在规则库目录或其下一级类别目录中; 此文件不会被读取"))
    return out


@lru_cache(maxsize=8)
def _load_registry(root: Path, _stamp: tuple, *, lint: bool = False) -> Registry:
    found: dict[str, Rule] = {}
    paths: dict[str, Path] = {}
    errors: list[RuleFileError] = []
    files = rule_files(root, ".yaml")
    if not files:
        raise RuleFileError(root, ["目录中没有规则文件 (<ID>_<slug>.yaml, 可在类别子目录中; 用 `fundguard rules export DIR` 复制内置规则库)"])
    for path in files:
        try:
            rule = load_rule_file(path)
            if lint:
                _lint(rule, path)
        except RuleFileError as exc:
            errors.append(exc)
            continue
        if rule.id in found:
            errors.append(RuleFileError(path, [f"规则编号 {rule.id} 与 {paths[rule.id]} 重复"]))
            continue
        found[rule.id] = rule
        paths[rule.id] = path
    for sql in rule_files(root, ".sql"):
        if not sql.with_suffix(".yaml").exists():
            errors.append(RuleFileError(sql, ["SQL 文件没有对应的 YAML 规则文件"]))
    errors += [RuleFileError(path, [why]) for path, why in _unread_files(root)]
    if lint and not errors:
        errors += _dry_run(found)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        # one block per file, its problems indented under it
        raise RuleFileError(root, [str(e).replace("\n", "\n  ") for e in errors])
    return Registry(root, {k: found[k] for k in sorted(found)})


def _lint(rule: Rule, path: Path) -> None:
    """A library other than the built-in one is held to the portable subset when it is read: its SQL
    then gives the same flags on both engines and reads only the contract, knowledge and view tables."""
    from fundguard.engine.sql_lint import lint_rule

    issues = lint_rule(rule)
    if issues:
        raise RuleFileError(rule.fix_path or path, [f"SQL: {i.construct} {i.problem} — {i.hint}" for i in issues])


def _dry_run(rules: dict[str, Rule]) -> list[RuleFileError]:
    """A library other than the built-in one is also run once over empty tables (the built-in one's
    examples are run by the test suite): columns and types are checked before any data is loaded."""
    from fundguard.engine.examples import dry_run_problems

    out = []
    for rule_id, problem in dry_run_problems(list(rules.values())).items():
        out.append(RuleFileError(rules[rule_id].fix_path, [f"在空数据上试运行失败: {problem}"]))
    return out


def message_placeholders(rule: Rule) -> list[str]:
    return _PLACEHOLDER.findall(rule.message)
