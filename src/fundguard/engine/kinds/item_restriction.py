"""Kind `item_restriction`: a billed item restricted by a knowledge table against an attribute of the
line's person, encounter, institution or doctor (sex, age, level, setting, title, insurance type).

One flag per offending fee line (after refund netting); `vola_amt` is what remains of the line.
Tests: `differs` (subject ≠ the entry's value, both among `valid_values`), `outside_range` (subject
below `kb_min` or above `kb_max`, null ends open; evidence `ev_kb_range` is the range as text with
`range_unit`: `0~17 岁`, `60 岁及以上`, `17 岁及以下`), `rank_above` (subject ranks lower than the entry's
limit: its rank number is greater), `not_allowed` (subject not among `allowed[entry value]`) and
`listed` (being listed is the violation, once `only_if`/`unless` filters hold).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from fundguard.engine.kinds import literal_list, quote_literal
from fundguard.engine.sqltext import case_labels, case_ranks, range_text

NAME = "item_restriction"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kb_table: str
    test: Literal["differs", "outside_range", "rank_above", "not_allowed", "listed"]
    subject: str | None = None  # a column of `fee_lines`
    kb_column: str | None = None
    kb_min: str | None = None
    kb_max: str | None = None
    range_unit: str = ""  # outside_range: the unit written after the range in `ev_kb_range` (岁)
    valid_values: list[str] = []
    ranks: dict[str, int] = {}
    allowed: dict[str, list[str]] = {}
    only_if: dict[str, list[str]] = {}  # fee_lines column → values the line must have
    unless: dict[str, list[str]] = {}  # fee_lines column → values that exempt the line
    labels: dict[str, dict[str, str]] = {}  # column → code → 中文, as `ev_<column>_label`

    @model_validator(mode="after")
    def _fields_for_test(self) -> Config:
        need = {
            "differs": ("subject", "kb_column"),
            "outside_range": ("subject", "kb_min", "kb_max"),
            "rank_above": ("subject", "kb_column", "ranks"),
            "not_allowed": ("subject", "kb_column", "allowed"),
            "listed": (),
        }[self.test]
        missing = [f for f in need if not getattr(self, f)]
        if missing:
            raise ValueError(f"test {self.test} 需要: {', '.join(missing)}")
        return self


def _filters(config: Config) -> list[str]:
    out = [f"l.{col} IN {literal_list(vals)}" for col, vals in sorted(config.only_if.items())]
    out += [f"(l.{col} IS NULL OR l.{col} NOT IN {literal_list(vals)})" for col, vals in sorted(config.unless.items())]
    return out


def _test(config: Config) -> str:
    s = f"l.{config.subject}"
    if config.test == "differs":
        k = f"k.{config.kb_column}"
        cond = f"{s} <> {k}"
        if config.valid_values:
            vals = literal_list(config.valid_values)
            cond = f"{s} IN {vals} AND {k} IN {vals} AND {cond}"
        return cond
    if config.test == "outside_range":
        lo, hi = f"k.{config.kb_min}", f"k.{config.kb_max}"
        return f"(({lo} IS NOT NULL AND {s} < {lo}) OR ({hi} IS NOT NULL AND {s} > {hi}))"
    if config.test == "rank_above":
        return f"{case_ranks(s, config.ranks)} > {case_ranks('k.' + config.kb_column, config.ranks)}"
    if config.test == "not_allowed":
        k = f"k.{config.kb_column}"
        known = literal_list(sorted(config.allowed))
        allowed = " OR ".join(
            f"({k} = {quote_literal(v)} AND {s} IN {literal_list(vals)})" for v, vals in sorted(config.allowed.items())
        )
        return f"{k} IN {known} AND {s} IS NOT NULL AND NOT ({allowed})"
    return "TRUE"


#: what a missing subject is, for the count of lines a rule could not judge
SUBJECT_WORDS = {
    "gend": "参保人性别",
    "age_at_fee": "参保人年龄 (出生日期)",
    "medins_lv": "机构等级 (机构不在 fixmedins 表或未填等级)",
    "dr_profttl": "开单医师职称 (医师不在 practitioner 表或未填职称)",
    "insutype": "险种",
    "med_type": "医疗类别",
}


def unjudged_sql(rule: Any, config: Config) -> tuple[str, str] | None:
    """The restricted lines whose subject is missing: the test cannot hold or fail for them."""
    if not config.subject:
        return None
    conds = [f"l.{config.subject} IS NULL", *_filters(config)]
    sql = f"""
SELECT COUNT(DISTINCT l.feedetl_sn)
FROM fee_lines l
JOIN {config.kb_table}_match k ON k.hilist_code = l.hilist_code
WHERE {" AND ".join(conds)}
"""  # noqa: S608
    return sql, SUBJECT_WORDS.get(config.subject, config.subject)


def batch_sql(rule: Any, config: Config) -> str:
    conds = [_test(config), *_filters(config)]
    ev = [("k.kb_hilist_code", "ev_kb_code"), ("k.source", "ev_kb_source")]
    cols = [c for c in (config.kb_column, config.kb_min, config.kb_max) if c]
    ev += [(f"k.{c}", f"ev_kb_{c}") for c in cols]
    if config.test == "outside_range":
        ev.append((range_text(f"k.{config.kb_min}", f"k.{config.kb_max}", config.range_unit), "ev_kb_range"))
    if config.subject:
        ev.append((f"l.{config.subject}", f"ev_{config.subject}"))
    for col in sorted(set(config.only_if) | set(config.unless)):
        if col != config.subject:
            ev.append((f"l.{col}", f"ev_{col}"))
    for col, labels in sorted(config.labels.items()):
        if col == config.subject or col in config.only_if or col in config.unless:
            ev.append((case_labels("l." + col, labels), f"ev_{col}_label"))
        if col in cols:
            ev.append((case_labels("k." + col, labels), f"ev_kb_{col}_label"))
    where = "\n  AND ".join(conds)
    return f"""
SELECT feedetl_sn, psn_no, mdtrt_id, setl_id, fixmedins_code, vola_amt, hilist_code, item_name,
       {", ".join(alias for _, alias in ev)}
FROM (
  SELECT l.feedetl_sn, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code, l.net_amt AS vola_amt, l.hilist_code,
         CASE WHEN l.item_name = l.hilist_code AND k.item_name IS NOT NULL THEN k.item_name ELSE l.item_name END
           AS item_name,
         {", ".join(f"{expr} AS {alias}" for expr, alias in ev)},
         ROW_NUMBER() OVER (PARTITION BY l.feedetl_sn ORDER BY k.kb_hilist_code) AS rn
  FROM fee_lines l
  JOIN {config.kb_table}_match k ON k.hilist_code = l.hilist_code
  WHERE {where}
) x
WHERE rn = 1
"""  # noqa: S608

