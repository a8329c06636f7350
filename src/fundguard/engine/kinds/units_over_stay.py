"""Kind `units_over_stay`: per-day charges of one charge type (bed 01, nursing 07…) billed for more
units on an inpatient stay than the stay has days (end date − begin date, minimum 1).

One flag per stay; the units beyond the stay's days are taken on the latest lines in
(`fee_ocur_time`, `feedetl_sn`) order and valued at their unit price. The flag rests on every line of
the charge type on the stay (together they make the billed days).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from fundguard.engine.kinds import literal_list, quote_literal

NAME = "units_over_stay"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    med_chrgitm_types: list[str]  # charge types whose units are days of the stay
    #: only the items whose national code starts with one of these (e.g. the four levels of care among
    #: the nursing fees, not per-procedure nursing such as 吸痰护理); none: every item of the charge types
    hilist_code_prefixes: list[Annotated[str, Field(pattern=r"^[0-9A-Za-z]+$")]] | None = None


def _prefix_filter(config: Config) -> str:
    if not config.hilist_code_prefixes:
        return ""
    tests = " OR ".join(f"substr(f.hilist_code, 1, {len(p)}) = {quote_literal(p)}" for p in config.hilist_code_prefixes)
    return f"\n      AND ({tests})"


def batch_sql(rule: Any, config: Config) -> str:
    types = literal_list(config.med_chrgitm_types)
    items = _prefix_filter(config)
    return f"""
SELECT mdtrt_id, psn_no, setl_id, fixmedins_code,
       SUM(beyond_cnt * pric) AS vola_amt,
       MAX(total_cnt) AS ev_billed_days,
       MAX(stay_days) AS ev_stay_days,
       MAX(total_cnt) - MAX(stay_days) AS ev_excess_days,
       {{{{ list_agg(feedetl_sn) }}}} AS feedetl_sns
FROM (
  SELECT f.mdtrt_id, s.psn_no, s.setl_id, s.fixmedins_code, f.feedetl_sn, f.pric, s.stay_days,
         SUM(f.net_cnt) OVER (PARTITION BY f.mdtrt_id) AS total_cnt,
         CASE
           WHEN cum_cnt - s.stay_days <= 0 THEN 0
           WHEN cum_cnt - s.stay_days >= f.net_cnt THEN f.net_cnt
           ELSE cum_cnt - s.stay_days
         END AS beyond_cnt
  FROM (
    SELECT f.*, SUM(f.net_cnt) OVER (PARTITION BY f.mdtrt_id ORDER BY f.fee_ocur_time, f.feedetl_sn
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_cnt
    FROM fee_net f
    WHERE f.med_chrgitm_type IN {types}{items}
  ) f
  JOIN inpatient_stays s ON s.mdtrt_id = f.mdtrt_id
) x
-- who and where from the stay (one per encounter): no join back to mdtrt when the flags are assembled
GROUP BY mdtrt_id, psn_no, setl_id, fixmedins_code
HAVING MAX(total_cnt) > MAX(stay_days)
"""  # noqa: S608
