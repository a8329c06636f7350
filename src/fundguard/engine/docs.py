"""Rule documentation generated from the rule files (`docs/rules/`), and the same text for `rules show`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fundguard.engine.backends.duckdb import expand
from fundguard.engine.kinds import get_kind
from fundguard.engine.registry import Registry
from fundguard.engine.rule import Rule

SCENE_LABELS = {"pre": "事前提醒", "in": "事中审核", "post": "事后监管"}
GRANULARITY_LABELS = {"line": "费用明细", "mdtrt": "就诊", "psn": "参保人", "org": "机构/医师"}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table_markdown(rows: list[dict]) -> str:
    if not rows:
        return "(无)\n"
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def rule_sql_text(rule: Rule) -> str | None:
    try:
        return expand(get_kind(rule.kind).batch_sql(rule)).strip()
    except NotImplementedError:
        return None


def render_rule(rule: Rule, *, with_sql: bool = True) -> str:
    out = [f"# {rule.id} {rule.name} (`{rule.slug}`)\n", f"{rule.summary}\n"]
    meta = [
        ("严重程度 sev_deg", f"{int(rule.severity)} {rule.severity.label}"),
        ("场景 scenes", " ".join(f"{s.value} {SCENE_LABELS[s.value]}" for s in rule.scenes)),
        ("粒度 granularity", f"{rule.granularity.value} {GRANULARITY_LABELS[rule.granularity.value]}"),
        ("国家规则编码 gz_codes", ", ".join(rule.gz_codes) or "—"),
        ("违规依据", rule.legal_basis.regulation),
        ("国家规则", rule.legal_basis.national_rule or "—"),
        ("知识库表", ", ".join(f"`{t}`" for t in rule.kb_tables) or "—"),
        ("类型 kind", f"`{rule.kind}`"),
        ("涉及金额 vola_amt", rule.amount),
        ("提示信息模板", f"`{rule.message}`"),
    ]
    if rule.requires_inputs:
        meta.append(("所需可选输入", "、".join(f"`{x}`" for x in rule.requires_inputs) + " (数据集中没有时跳过本规则)"))
    if rule.requires_kb_manifest:
        meta.append(("运行条件", "知识库清单须声明 " + ", ".join(f"`{m}: true`" for m in rule.requires_kb_manifest)))
    out.append(table_markdown([{"项目": k, "内容": v} for k, v in meta]))
    if rule.description:
        out.append("## 说明\n\n" + rule.description.strip() + "\n")
    out.append("## 参数\n")
    out.append(
        table_markdown(
            [
                {"参数": n, "类型": p.type, "默认值": p.default, "取值范围": p.range_text(), "单位": p.unit or "", "说明": p.doc}
                for n, p in rule.params.items()
            ]
        )
    )
    out.append("## 示例\n")
    for i, ex in enumerate(rule.examples, start=1):
        verdict = "违规" if ex.expect_flags else "合规"
        out.append(f"### 示例 {i}（{verdict}）：{ex.title}\n")
        if ex.threshold:
            out.append(f"阈值边界：`{ex.threshold}`\n")
        if ex.params:
            out.append("参数覆盖：" + ", ".join(f"`{k}={v}`" for k, v in ex.params.items()) + "\n")
        if ex.kb_manifest:
            out.append("知识库清单：" + ", ".join(f"`{k}: {v}`" for k, v in ex.kb_manifest.items()) + "\n")
        if ex.known_gap:
            out.append(f"已知差距：{ex.known_gap}\n")
        for table, rows in ex.given.items():
            out.append(f"`{table}`\n\n" + table_markdown(rows))
        flags = [{k: v for k, v in f.model_dump().items() if v is not None} for f in ex.expect_flags]
        out.append("预期疑点\n\n" + table_markdown(flags))
    if with_sql:
        sql = rule_sql_text(rule)
        out.append("## 批量审核 SQL (DuckDB, 宏已展开)\n")
        out.append(f"```sql\n{sql}\n```\n" if sql else "本规则不在批量引擎中运行。\n")
    return "\n".join(out)


def render_index(registry: Registry) -> str:
    rows = [
        {
            "编号": f"[{r.id}]({r.id}_{r.slug}.md)",
            "名称": r.name,
            "粒度": r.granularity.value,
            "严重程度": int(r.severity),
            "场景": " ".join(s.value for s in r.scenes),
            "类型": r.kind,
            "示例": len(r.examples),
        }
        for r in registry
    ]
    return "# 规则库 Rule library\n\n由规则文件生成（`fundguard rules docs`），请勿手工编辑。\n\n" + table_markdown(rows)


def expected_docs(registry: Registry) -> dict[str, str]:
    docs = {f"{r.id}_{r.slug}.md": render_rule(r) for r in registry}
    docs["README.md"] = render_index(registry)
    return docs


def write_docs(registry: Registry, out_dir: Path) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    docs = expected_docs(registry)
    for name, text in docs.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    for stale in out_dir.glob("*.md"):
        if stale.name not in docs:
            stale.unlink()
    return sorted(docs)


def stale_docs(registry: Registry, out_dir: Path) -> list[str]:
    """Names of generated docs that differ from (or are missing in, or extra in) `out_dir`."""
    docs = expected_docs(registry)
    bad = [n for n, text in docs.items() if not (out_dir / n).exists() or (out_dir / n).read_text(encoding="utf-8") != text]
    bad += [p.name for p in out_dir.glob("*.md") if p.name not in docs]
    return sorted(bad)
