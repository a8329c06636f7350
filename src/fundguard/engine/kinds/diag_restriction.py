"""Kind `diag_restriction`: a diagnosis restricted by a knowledge table (keyed by diagnosis prefix)
against an attribute of the encounter's person (sex, age at the encounter's start).

One flag per encounter with any offending diagnosis (evidence: the first by `diag_srt_no`; for
`outside_range`, `ev_kb_range` is the range as text with `range_unit`, as in `item_restriction`);
`vola_amt` is 0: the flag is evidence of a false record, not an amount.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from fundguard.engine.kinds import literal_list
from fundguard.engine.sqltext import case_labels, range_text

NAME = "diag_restriction"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kb_table: str
    test: Literal["differs", "outside_range"]
    subject: str  # a column of `mdtrt_ctx`
    kb_column: str | None = None
    kb_min: str | None = None
    kb_max: str | None = None
    range_unit: str = ""  # outside_range: the unit written after the range in `ev_kb_range` (岁)
    valid_values: list[str] = []
    labels: dict[str, dict[str, str]] = {}

    @model_validator(mode="after")
    def _fields_for_test(self) -> Config:
        need = {"differs": ("kb_column",), "outside_range": ("kb_min", "kb_max")}[self.test]
        missing = [f for f in need if not getattr(self, f)]
        if missing:
            raise ValueError(f"test {self.test} 需要: {', '.join(missing)}")
        return self


def batch_sql(rule: Any, config: Config) -> str:
    s = f"m.{config.subject}"
    if config.test == "differs":
        k = f"k.{config.kb_column}"
        cond = f"{s} <> {k}"
        if config.valid_values:
            vals = literal_list(config.valid_values)
            cond = f"{s} IN {vals} AND {k} IN {vals} AND {cond}"
        cols = [config.kb_column]
    else:
        lo, hi = f"k.{config.kb_min}", f"k.{config.kb_max}"
        cond = f"(({lo} IS NOT NULL AND {s} < {lo}) OR ({hi} IS NOT NULL AND {s} > {hi}))"
        cols = [config.kb_min, config.kb_max]
    ev = [("d.diag_code", "ev_diag_code"), ("d.diag_name", "ev_diag_name"), ("k.diag_prefix", "ev_kb_diag_prefix"),
          ("k.source", "ev_kb_source")]
    ev += [(f"k.{c}", f"ev_kb_{c}") for c in cols]
    if config.test == "outside_range":
        ev.append((range_text(f"k.{config.kb_min}", f"k.{config.kb_max}", config.range_unit), "ev_kb_range"))
    ev.append((s, f"ev_{config.subject}"))
    for col, labels in sorted(config.labels.items()):
        if col == config.subject:
            ev.append((case_labels(s, labels), f"ev_{col}_label"))
        if col in cols:
            ev.append((case_labels("k." + col, labels), f"ev_kb_{col}_label"))
    return f"""
SELECT mdtrt_id, psn_no, setl_id, fixmedins_code, CAST(0 AS DECIMAL(16,2)) AS vola_amt,
       {", ".join(alias for _, alias in ev)}
FROM (
  SELECT m.mdtrt_id, m.psn_no, m.setl_id, m.fixmedins_code, {", ".join(f"{expr} AS {alias}" for expr, alias in ev)},
         ROW_NUMBER() OVER (PARTITION BY m.mdtrt_id ORDER BY d.diag_srt_no, k.diag_prefix) AS rn
  FROM mdtrt_ctx m
  JOIN diag d ON d.mdtrt_id = m.mdtrt_id
  JOIN diag_code_map c ON c.kb_table = '{config.kb_table}' AND c.diag_code = d.diag_code
  JOIN {config.kb_table} k ON k.diag_prefix = c.diag_prefix
  WHERE {cond}
) x
WHERE rn = 1
"""  # noqa: S608

