"""The real-time evaluator: each rule kind's Python implementation over a frame's in-memory rows.

A query engine per request is too slow for 事前/事中 (design.md, Engines); here a rule runs as its
kind's Python twin (`realtime/kinds/<kind>.py`) or, for a rule with its own SQL, its Python twin
(`realtime/custom/<id>.py`). The rows they return are assembled into flags as the batch backend does:
the same `flag_key`, `vola_amt` rounded half away from zero to cents, the message rendered from the
same template, and `flag_id` from the same hash. The parity tests run every example of every pre/in
rule through here and compare with its expected flags.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from fundguard.engine.flags import flag_id, message_pieces, rule_version
from fundguard.engine.kinds import get_kind
from fundguard.engine.registry import Registry, load_registry
from fundguard.engine.rule import Granularity, ParamValue, Rule, Scene
from fundguard.realtime.custom import custom_rules
from fundguard.realtime.frame import Frame
from fundguard.realtime.kinds import realtime_kinds
from fundguard.realtime.kinds._common import round_amt
from fundguard.realtime.knowledge import Knowledge
from fundguard.realtime.sqlrun import SqlRunner, flag_fields

REALTIME_SCENES = (Scene.PRE, Scene.IN)


@dataclass
class Flag:
    rule: Rule
    flag_key: str
    flag_id: str
    vola_amt: Decimal
    message: str
    psn_no: str | None
    mdtrt_id: str | None
    feedetl_sns: list[str]
    mdtrt_ids: list[str]
    involved: list[str] = field(default_factory=list)
    line_amts: dict[str, Decimal] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Skipped:
    rule_id: str
    reason: str


def _text(value: Any) -> Any:
    """A value as the batch backend's `CAST(x AS VARCHAR)` would show it in a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal) and value.as_tuple().exponent < -2:
        # quantities and unit prices: without trailing zeros, as the batch backend shows them
        text = format(value, "f").rstrip("0").rstrip(".")
        return "0" if text in ("", "-0") else text
    return value


def _normal_sql(sql: str | None) -> str:
    """SQL text compared without line-ending and trailing-space differences (an editor's, not a change)."""
    return "\n".join(line.rstrip() for line in (sql or "").replace("\r\n", "\n").strip().split("\n"))


def _rests_on_focus(frame: Frame, lines: list[str], encs: list[str]) -> bool:
    """A finding of this request: one of its lines or encounters is in the frame's focus (history is context)."""
    return frame.focus is None or any(frame.in_focus(e) for e in encs) or any(
        frame.in_focus(frame.line_by_sn[s]["mdtrt_id"]) for s in lines if s in frame.line_by_sn
    )


@lru_cache(maxsize=1024)
def _pieces(template: str) -> tuple[tuple[str, str], ...]:
    return tuple(message_pieces(template))


def render_message(template: str, values: dict[str, Any]) -> str:
    """The engine's message rendering (`engine.flags.render_message`), with the template parsed once."""
    return "".join(v if kind == "text" else ("" if values.get(v) is None else str(values[v])) for kind, v in _pieces(template))


class Evaluator:
    """Runs pre/in rules of a registry over frames, with a knowledge edition held in memory."""

    def __init__(self, registry: Registry | Iterable[Rule], kb: Knowledge, *, sql_only: bool = False,
                 strict_messages: bool = False):
        """`sql_only`: judge every `sql` rule by its SQL, twins unused (to check the twins against it).
        `strict_messages`: a message field the rule's result lacks is an error (examples, `rules test`),
        where a request renders it empty rather than fail the HIS's call."""
        self.kb = kb
        self._sql_only = sql_only
        self._strict_messages = strict_messages
        self.rules: dict[str, Rule] = {r.id: r for r in registry if any(s in r.scenes for s in REALTIME_SCENES)}
        self._kinds = realtime_kinds()
        self._custom = custom_rules()
        #: sql rules of a bureau's library whose twin cannot stand for them (computed once: the check
        #: reads the built-in library, too slow for every request): they run by their own SQL
        self._edited = {r.id for r in self.rules.values() if r.kind == "sql" and self.sql_edited(r)}
        self._sql = SqlRunner(kb)
        self._configs: dict[str, Any] = {}
        self._versions: dict[tuple[str, str], str] = {}

    def implementation(self, rule: Rule) -> str | None:
        """Where the rule's real-time logic lives, or None when it has none yet."""
        if rule.kind == "sql":
            return f"{rule.id} 的 SQL (DuckDB, realtime/sqlrun.py)" if self.by_sql(rule) else f"custom/{rule.id}.py"
        return f"kinds/{rule.kind}.py" if rule.kind in self._kinds else None

    def by_sql(self, rule: Rule) -> bool:
        """A `sql` rule judged by its own SQL in real time: its SQL was edited in a bureau's library, or it
        is a new rule with no Python twin (realtime/sqlrun.py)."""
        return rule.kind == "sql" and (self._sql_only or rule.id not in self._custom or rule.id in self._edited)

    @staticmethod
    def sql_edited(rule: Rule) -> bool:
        """A `sql` rule of a bureau's library whose SQL is not the built-in rule's: the real-time twin
        (`custom/<ID>.py`) implements the built-in SQL only, so it cannot stand for the edited one.
        Parameters, messages, scenes and severity of an edited rule are read from the library as usual."""
        builtin = load_registry().rules.get(rule.id)
        if builtin is None or builtin.kind != "sql":
            return True
        return _normal_sql(rule.sql) != _normal_sql(builtin.sql)

    def select(self, stages: Iterable[str], rule_ids: Iterable[str] = ()) -> list[Rule]:
        """The rules whose scenes meet `stages` (`pre`, `in`), restricted to `rule_ids` when any is known."""
        wanted = {Scene(s) for s in stages}
        ids = {i for i in rule_ids if i in self.rules}
        return [r for r in self.rules.values() if wanted & set(r.scenes) and (not ids or r.id in ids)]

    def skip_reason(self, rule: Rule) -> str | None:
        if self.implementation(rule) is None:
            return "尚无实时实现"
        missing = [m for m in rule.requires_kb_manifest if self.kb.manifest.get(m) is not True]
        if missing:
            return f"知识库版本未声明 {', '.join(m + ': true' for m in missing)}"
        return None

    def _config(self, rule: Rule):
        cfg = self._configs.get(rule.id)
        if cfg is None:
            cfg = get_kind(rule.kind).parse_config(rule.config)
            self._configs[rule.id] = cfg
        return cfg

    def rows(self, rule: Rule, params: dict[str, ParamValue], frame: Frame) -> list[dict]:
        if rule.kind == "sql":
            return self._custom[rule.id].evaluate(rule, params, frame, self.kb)
        return self._kinds[rule.kind].evaluate(rule, self._config(rule), params, frame, self.kb)

    def evaluate(
        self,
        frame: Frame,
        rules: Iterable[Rule] | None = None,
        params: dict[str, dict[str, ParamValue]] | None = None,
        skipped: list[Skipped] | None = None,
    ) -> list[Flag]:
        flags: list[Flag] = []
        by_sql: list[Rule] = []
        for rule in self.rules.values() if rules is None else rules:
            reason = self.skip_reason(rule)
            if reason:
                if skipped is not None:
                    skipped.append(Skipped(rule.id, reason))
                continue
            if self.by_sql(rule):
                by_sql.append(rule)
                continue
            p = (params or {}).get(rule.id) or rule.defaults()
            flags.extend(self._assemble(rule, p, self.rows(rule, p, frame), frame))
        if by_sql:
            found = self._sql.evaluate(by_sql, params or {}, frame)
            for rule in by_sql:
                for row in found[rule.id]:
                    flag = Flag(**flag_fields(rule, row))
                    if _rests_on_focus(frame, flag.feedetl_sns, flag.mdtrt_ids):
                        flags.append(flag)
        return flags

    def close(self) -> None:
        self._sql.close()

    def _version(self, rule: Rule, params: dict[str, ParamValue]) -> str:
        key = (rule.id, repr(sorted(params.items())))
        v = self._versions.get(key)
        if v is None:
            v = rule_version(rule, params)
            self._versions[key] = v
        return v

    def _assemble(self, rule: Rule, params: dict, rows: list[dict], frame: Frame) -> list[Flag]:
        g = rule.granularity
        key_col = g.key_column
        version = self._version(rule, params)
        out: list[Flag] = []
        seen: set[str] = set()
        for row in rows:
            if "flag_key" in row:
                fkey = str(row["flag_key"])
            elif "flag_detail" in row:
                fkey = f"{row[key_col]}|{row['flag_detail']}"
            else:
                fkey = str(row[key_col])
            if fkey in seen:
                raise RuntimeError(f"规则 {rule.id} 的实时实现对同一键 {fkey!r} 返回了多行")
            seen.add(fkey)
            lines = row.get("feedetl_sns")
            encs = row.get("mdtrt_ids")
            if g is Granularity.LINE:
                line = frame.line_by_sn[row["feedetl_sn"]]
                psn_no, mdtrt_id = line["psn_no"], line["mdtrt_id"]
                lines = lines if lines is not None else [row["feedetl_sn"]]
                if encs is None:  # the encounters of every line the flag rests on (as the batch rules list them)
                    rested = (*lines, *(row.get("_involved") or ()))
                    encs = sorted({mdtrt_id} | {frame.line_by_sn[s]["mdtrt_id"] for s in rested if s in frame.line_by_sn})
            elif g is Granularity.MDTRT:
                m = frame.mdtrt[row["mdtrt_id"]]
                psn_no, mdtrt_id = m["psn_no"], m["mdtrt_id"]
                lines = lines or []
                encs = encs if encs is not None else [mdtrt_id]
            else:
                psn_no, mdtrt_id = row.get("psn_no"), row.get("mdtrt_id")
                lines, encs = lines or [], encs or []
            if not _rests_on_focus(frame, lines, encs):
                continue  # rests on history only: not this request's finding
            amount = round_amt(row["vola_amt"])
            values = {k: _text(v) for k, v in row.items() if not k.startswith("_")}
            for name, value in params.items():
                values.setdefault(name, value)
            if self._strict_messages:
                missing = [v for kind, v in _pieces(rule.message) if kind == "field" and v not in values]
                if missing:
                    raise RuntimeError(f"规则 {rule.id} 的消息模板字段 {', '.join('{' + m + '}' for m in missing)} "
                                       f"不在实时实现返回的结果中 (也不是参数)")
            line_amts = row.get("_line_amts")
            if line_amts is None:
                line_amts = {lines[0]: amount} if g is Granularity.LINE else {}
            out.append(
                Flag(
                    rule=rule,
                    flag_key=fkey,
                    flag_id=flag_id(rule.id, version, self.kb.content_hash, fkey),
                    vola_amt=amount,
                    message=render_message(rule.message, values),
                    psn_no=psn_no,
                    mdtrt_id=mdtrt_id,
                    feedetl_sns=list(lines),
                    mdtrt_ids=list(encs),
                    involved=[s for s in row.get("_involved") or () if s not in lines],
                    line_amts={s: round_amt(a) for s, a in line_amts.items()},
                    evidence={k[3:]: v for k, v in row.items() if k.startswith("ev_")},
                )
            )
        return out
