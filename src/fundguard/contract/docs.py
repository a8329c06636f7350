"""Render the data contract (from `tables.py`) as the Markdown page `docs/data-contract.md`."""

from __future__ import annotations

from fundguard.contract.tables import TABLES, Table


def _type_text(table: Table, name: str) -> str:
    col = table.column(name)
    parts = [col.type.value]
    if name in table.key:
        parts.append("key" if len(table.key) == 1 else "key part")
    if any(name in u for u in table.unique):
        parts.append("unique")
    if col.nullable:
        parts.append("nullable")
    if col.optional:
        parts.append("optional column")
    return ", ".join(parts)


def render_markdown() -> str:
    lines = [
        "# 数据契约 Data contract",
        "",
        "<!-- Generated from src/fundguard/contract/tables.py by `fundguard docs build`; do not edit. -->",
        "",
        "A dataset is a folder with one file per table, `<table>.parquet` (preferred) or `<table>.csv`",
        "(UTF-8, comma-separated, a header row of lowercase column names, each named once), never both",
        "for one table. Dates are `YYYY-MM-DD`, times `YYYY-MM-DD HH:MM:SS`; money is yuan, DECIMAL(16,2);",
        "quantities and unit prices DECIMAL(16,4). A number with more decimals than its column's type holds",
        "(10.005 as money, 1.5 as an integer) is an error, never rounded; a DOUBLE column counts as its",
        "value to 15 significant digits. `fundguard validate DIR` checks a dataset; loading is",
        "all-or-nothing and every error names the file, the 1-based data row and the column. Unknown extra",
        "columns are kept and ignored (no rule reads them, even one named like a value the engine computes,",
        "such as `gend` or `stay_days` in `mdtrt`), except that a Parquet column may not be named",
        "`file_row_number` (the reader numbers rows under that name).",
        "",
    ]
    for table in TABLES:
        lines.append(f"## `{table.name}` — {table.title} ({table.meaning}){' — optional' if table.optional else ''}")
        lines.append("")
        lines.append("| column | type | meaning | codes |")
        lines.append("|---|---|---|---|")
        for col in table.columns:
            codes = "; ".join(f"`{k}` {v}" for k, v in col.codes.items()) if col.codes else ""
            lines.append(f"| {col.name} | {_type_text(table, col.name)} | {col.meaning} | {codes} |")
        lines.append("")
        if table.key:
            lines.append(f"Primary key: ({', '.join(table.key)}).")
        for uniq in table.unique:
            lines.append(f"Unique: ({', '.join(uniq)}).")
        for ref in table.references:
            lines.append(f"Reference: ({', '.join(ref.columns)}) → `{ref.target}`({', '.join(ref.target_columns)}).")
        for note in table.notes:
            lines.append(f"- {note}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
