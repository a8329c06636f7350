"""`fundguard rules list / show ID / test [ID] / docs`: the rule library from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fundguard.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_USAGE,
    RulesDirOption,
    err_console,
    load_rule_library,
    out_console,
    progress_bar,
    staged_folder,
)

rules_app = typer.Typer(help="规则库 The rule library.", no_args_is_help=True)


def _get(rule_id: str, rules_dir: Path | None = None):
    from fundguard.engine import UnknownRuleError

    registry = load_rule_library(rules_dir)
    try:
        return registry.get(rule_id.upper())
    except UnknownRuleError as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(EXIT_USAGE) from None


@rules_app.command("list")
def list_rules(
    as_json: Annotated[bool, typer.Option("--json", help="JSON, each rule with its examples")] = False,
    rules_dir: RulesDirOption = None,
) -> None:
    """列出所有规则 List every rule."""
    registry = load_rule_library(rules_dir)
    if as_json:
        data = [
            r.model_dump(mode="json", by_alias=True, exclude={"sql", "path", "source_digest"}) | {"runs_in_batch": r.runs_in_batch}
            for r in registry
        ]
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    t = Table(title=f"规则库 ({len(registry)} 条)")
    for col in ("编号", "名称", "粒度", "严重", "场景", "类型", "示例"):
        t.add_column(col)
    for r in registry:
        t.add_row(r.id, r.name, r.granularity.value, str(int(r.severity)), " ".join(s.value for s in r.scenes), r.kind, str(len(r.examples)))
    out_console.print(t)


@rules_app.command("show")
def show(rule_id: Annotated[str, typer.Argument(help="规则编号, 如 A01")], rules_dir: RulesDirOption = None) -> None:
    """显示规则文档、示例与执行的 SQL Show a rule's documentation, examples and the SQL it runs."""
    from rich.markdown import Markdown

    from fundguard.engine.docs import render_rule

    text = render_rule(_get(rule_id, rules_dir))
    if out_console.is_terminal:
        out_console.print(Markdown(text))
    else:
        typer.echo(text)


@rules_app.command("test")
def test(
    rule_id: Annotated[str | None, typer.Argument(help="规则编号; 省略则运行全部")] = None,
    rules_dir: RulesDirOption = None,
) -> None:
    """运行规则示例并检查 SQL 可移植性 Run the rules' examples (exact match of flags and amounts) and lint their SQL."""
    from fundguard.engine.examples import run_example
    from fundguard.engine.sql_lint import lint_rule
    from fundguard.realtime.evaluator import REALTIME_SCENES, Evaluator
    from fundguard.realtime.examples import run_realtime_example
    from fundguard.realtime.knowledge import Knowledge

    rules = [_get(rule_id, rules_dir)] if rule_id else list(load_rule_library(rules_dir))
    # the portable subset first: SQL outside it would give different flags on Spark (docs/spark.md)
    lint_issues = [issue for r in rules for issue in lint_rule(r)]
    for issue in lint_issues:
        err_console.print(f"✗ {issue}", markup=False)
    cases = [(r, i) for r in rules for i in range(len(r.examples))]
    # the rules of the real-time scenes run their examples through the real-time evaluator too (kinds,
    # twins, or the rule's SQL for an edited sql rule): both scenes are held to the same expectations
    live = [(r, i) for r, i in cases if any(s in r.scenes for s in REALTIME_SCENES)]
    counts = {"batch": [0, 0, 0], "realtime": [0, 0, 0]}  # passed, failed, known gaps
    skipped = 0

    def judge(engine: str, rule, i: int, o) -> None:
        tally = counts[engine]
        tag = "" if engine == "batch" else " (实时)"
        ok = o.error is None and o.expected == o.actual
        if o.error is not None and not o.known_gap:
            tally[1] += 1
            err_console.print(f"✗ {rule.id} 示例 {i + 1}{tag} {o.title}\n    规则运行出错: {o.error}", markup=False)
        elif o.known_gap:
            tally[2] += 1
            if ok:
                tally[1] += 1
                err_console.print(f"✗ {rule.id} 示例 {i + 1}{tag} 标为 known_gap 但已通过: {o.title}", markup=False)
        elif ok:
            tally[0] += 1
        else:
            tally[1] += 1
            err_console.print(
                f"✗ {rule.id} 示例 {i + 1}{tag} {o.title}\n    预期 {sorted(o.expected)}\n    实际 {sorted(o.actual)}", markup=False
            )

    with progress_bar() as bar:
        task = bar.add_task("示例", total=len(cases) + len(live))
        for rule, i in cases:
            o = run_example(rule, i)
            bar.advance(task)
            if o.skipped:
                skipped += 1
            else:
                judge("batch", rule, i, o)
        for rule, i in live:
            judge("realtime", rule, i, run_realtime_example(rule, i))
            bar.advance(task)
    (passed, failed, gaps), (rt_passed, rt_failed, rt_gaps) = counts["batch"], counts["realtime"]
    out_console.print(f"示例: {passed} 通过, {failed} 失败, {skipped} 跳过 (非批量场景), {gaps} 已知差距", markup=False)
    if live:
        out_console.print(f"实时示例 (事前/事中规则): {rt_passed} 通过, {rt_failed} 失败, {rt_gaps} 已知差距", markup=False)
    if lint_issues:
        out_console.print(f"SQL 可移植性: {len(lint_issues)} 处不在可移植子集内", markup=False)
    if rules_dir is not None:
        evaluator = Evaluator(rules, Knowledge({}))
        edited = [r.id for r in evaluator.rules.values() if evaluator.by_sql(r)]
        if edited:
            out_console.print(f"实时审核 (serve): {', '.join(edited)} 的 SQL 与内置版本不同 (或为新增规则), "
                              "实时审核中将按规则 SQL 运行 (无对应 Python 实现, 每次请求约多 0.1 秒)", markup=False)
    if failed or rt_failed or lint_issues:
        raise typer.Exit(EXIT_BAD_INPUT)


@rules_app.command("docs")
def docs(
    out: Annotated[Path | None, typer.Option("--out", help="输出目录 (默认: 内置规则库为 docs/rules, --rules-dir DIR 为 DIR/docs)")] = None,
    rules_dir: RulesDirOption = None,
) -> None:
    """由规则文件生成规则文档 Regenerate docs/rules/ from the rule files."""
    from fundguard.engine.docs import write_docs

    library = load_rule_library(rules_dir)
    if out is None:  # a bureau's library documents itself beside its rules, never over the built-in docs
        out = Path(rules_dir) / "docs" if rules_dir is not None else Path("docs/rules")
    try:
        names = write_docs(library, out)
    except OSError as exc:
        err_console.print(f"{out}: 无法写入 ({exc.strerror or exc})", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    out_console.print(f"已生成 {len(names)} 个文件 → {out}", markup=False)


@rules_app.command("export")
def export(target: Annotated[Path, typer.Argument(help="目标目录 (不存在或为空)")]) -> None:
    """复制内置规则库到一个目录, 供修改后用 --rules-dir 运行 Copy the built-in rule library to a folder."""
    import shutil

    from fundguard.engine.registry import rule_files, rules_root

    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        err_console.print(f"{target}: 目标应为不存在或为空的目录", markup=False)
        raise typer.Exit(EXIT_USAGE)
    root = rules_root()
    files = rule_files(root, ".yaml", ".sql")
    try:
        with staged_folder(target) as staging:  # all or nothing: a half copy would fail --rules-dir
            for path in files:
                dest = staging / path.relative_to(root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
    except OSError as exc:
        err_console.print(f"{target}: 无法写入 ({exc.strerror or exc}), 未复制任何规则", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    rules = sum(1 for p in files if p.suffix == ".yaml")
    out_console.print(
        f"已复制 {rules} 条规则 → {target}\n修改后: fundguard rules test --rules-dir {target}; "
        f"fundguard audit DATA --out OUT --rules-dir {target}",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
