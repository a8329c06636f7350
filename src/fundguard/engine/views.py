"""Curated views shared by rules: refund netting, context joins, ages, stays and knowledge code matching.

Written once in portable SQL with engine macros, so every backend builds the same views and no rule
re-derives them. Rules read these by name:

- `fee_refunds`, `fee_netting`: the refund lines, and what they take off each original line (steps of
  `fee_lines`, kept as tables so an engine sees their real, small size).
- `fee_net`: fee lines after refund netting (refund lines and fully refunded lines left out), with
  `net_cnt`, `net_amt` (what remains) and `fee_date`.
- `fee_lines` (materialised once; `fee_net` is its fee-line columns): with the encounter, person,
  institution, ordering doctor and item name:
  `med_type`, `setl_id`, `begntime`, `endtime`, `hifp_pay`, `gend`, `brdy`, `insutype`, `age_at_fee`,
  `medins_lv`, `fixmedins_type`, `org_admdvs`, `dr_profttl`, `item_name`.
- `mdtrt_ctx`: encounters with person and institution: `begn_date`, `end_date`, `age_at_begn`,
  `is_inpatient`, `stay_days` (end date − begin date, minimum 1), `gend`, `brdy`, `psn_insutype`,
  `death_date`, `medins_lv`, `org_admdvs`.
- `inpatient_stays`: `mdtrt_ctx` rows with med_type 21 or 52.
- `kb_code_map(kb_table, kb_column, hilist_code, kb_code)`: for every billed `hilist_code`, the
  knowledge code that applies to it in each code column (exact beats a `*` prefix; the longest prefix
  wins). `<kb_table>_match` views join it to the knowledge rows: `hilist_code` is the billed code,
  `kb_hilist_code` the entry's own code.
- `diag_code_map(kb_table, diag_code, diag_prefix)`: every diagnosis code of the dataset with each
  knowledge diagnosis prefix it starts with (`N40` matches `N40.x00`).
"""

from __future__ import annotations

from fundguard.contract.tables import TABLES_BY_NAME
from fundguard.kb.tables import KB_TABLES

INPATIENT_MED_TYPES = ("21", "52")

#: knowledge columns holding item codes that may be `*` prefixes (data-contract.md, knowledge base)
ITEM_CODE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("kb_item_gender", "hilist_code"),
    ("kb_item_age", "hilist_code"),
    ("kb_item_indication", "hilist_code"),
    ("kb_item_medins_lv", "hilist_code"),
    ("kb_item_setting", "hilist_code"),
    ("kb_item_insutype", "hilist_code"),
    ("kb_item_limit", "hilist_code"),
    ("kb_item_cycle", "hilist_code"),
    ("kb_item_course", "hilist_code"),
    ("kb_item_title", "hilist_code"),
    ("kb_drug_days", "hilist_code"),
    ("kb_exclusive", "hilist_code_a"),
    ("kb_exclusive", "hilist_code_b"),
    ("kb_bundle", "bundle_code"),
    ("kb_bundle", "part_code"),
)

#: knowledge tables keyed by a diagnosis prefix
DIAG_PREFIX_TABLES: tuple[str, ...] = ("kb_diag_gender", "kb_diag_age", "kb_item_indication")

#: refund lines (few): a table of their own so every engine sees they are small (Spark broadcasts them)
FEE_REFUNDS = """
CREATE TABLE fee_refunds AS
SELECT feedetl_sn, mdtrt_id, hilist_code, pric, fee_ocur_time, cnt, det_item_fee_sumamt, orig_feedetl_sn
FROM feedetl WHERE refd_flag
"""

#: what refunds take off each original line: the line named by `orig_feedetl_sn`; a refund that names
#: none takes from the latest earlier line of the same encounter, item and price that still has units
#: left (what named refunds and later unnamed ones have not taken), moving to the next earlier line for
#: what remains; units beyond every earlier line are dropped. That is a stack per (encounter, item,
#: price) in (fee_ocur_time, feedetl_sn) order, computed without a loop: with `top` the running sum of
#: the units pushed (originals) and taken (refunds), an original keeps the part of its levels
#: (top - q, top] that no later low point of the running sum reaches. Amounts taken by unnamed refunds
#: are units x price, in cents.
FEE_NETTING = """
CREATE TABLE fee_netting AS
WITH named AS (
  SELECT orig_feedetl_sn AS orig_sn, SUM(cnt) AS cnt, SUM(det_item_fee_sumamt) AS amt
  FROM fee_refunds WHERE orig_feedetl_sn IS NOT NULL GROUP BY orig_feedetl_sn
),
unnamed AS (
  SELECT feedetl_sn, mdtrt_id, hilist_code, pric, fee_ocur_time, cnt FROM fee_refunds WHERE orig_feedetl_sn IS NULL
),
stack_items AS (
  SELECT o.feedetl_sn, o.mdtrt_id, o.hilist_code, o.pric, o.fee_ocur_time,
         CASE WHEN o.cnt + COALESCE(n.cnt, 0) > 0 THEN o.cnt + COALESCE(n.cnt, 0) ELSE 0 END AS q, 1 AS is_orig
  FROM feedetl o
  JOIN (SELECT DISTINCT mdtrt_id, hilist_code, pric FROM unnamed) g
    ON g.mdtrt_id = o.mdtrt_id AND g.hilist_code = o.hilist_code AND g.pric = o.pric
  LEFT JOIN named n ON n.orig_sn = o.feedetl_sn
  WHERE NOT o.refd_flag
  UNION ALL
  SELECT feedetl_sn, mdtrt_id, hilist_code, pric, fee_ocur_time, CASE WHEN cnt < 0 THEN cnt ELSE 0 END AS q, 0 AS is_orig
  FROM unnamed
),
levels AS (
  SELECT s.*, SUM(s.q) OVER (PARTITION BY s.mdtrt_id, s.hilist_code, s.pric ORDER BY s.fee_ocur_time, s.feedetl_sn
                             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS top
  FROM stack_items s
),
lows AS (
  SELECT l.*, MIN(l.top) OVER (PARTITION BY l.mdtrt_id, l.hilist_code, l.pric ORDER BY l.fee_ocur_time, l.feedetl_sn
                               ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS low
  FROM levels l
),
taken AS (
  SELECT feedetl_sn AS orig_sn, pric,
         q - CASE WHEN low - (top - q) <= 0 THEN 0 WHEN low - (top - q) >= q THEN q ELSE low - (top - q) END AS units
  FROM lows WHERE is_orig = 1
)
SELECT orig_sn, SUM(cnt) AS refund_cnt, SUM(amt) AS refund_amt FROM (
  SELECT orig_sn, cnt, amt FROM named
  UNION ALL
  SELECT orig_sn, -units AS cnt, -ROUND(units * pric, 2) AS amt FROM taken WHERE units > 0
) u GROUP BY orig_sn
"""

#: the original lines refunds take every unit of (refund lines have `cnt` < 0 and originals `cnt` >= 0 by
#: the contract, so only a netted line can be left with none). A small table that `fee_lines` leaves out
#: with NOT IN: filtering the 10M-row join on `cnt + refund_cnt` instead cost DuckDB ~2 s at 10M lines
FEE_GONE = """
CREATE TABLE fee_gone AS
SELECT n.orig_sn FROM fee_netting n JOIN feedetl f ON f.feedetl_sn = n.orig_sn
WHERE NOT f.refd_flag AND f.cnt + n.refund_cnt <= 0
"""

FEE_LINES = """
CREATE TABLE fee_lines AS
SELECT f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.fee_ocur_time,
       {{ to_date(f.fee_ocur_time) }} AS fee_date,
       f.hilist_code, f.medins_list_codg, f.med_chrgitm_type, f.cnt, f.pric, f.det_item_fee_sumamt,
       CAST(f.cnt + COALESCE(n.refund_cnt, 0) AS DECIMAL(16,4)) AS net_cnt,
       CAST(f.det_item_fee_sumamt + COALESCE(n.refund_amt, 0) AS DECIMAL(16,2)) AS net_amt,
       f.bilg_dept_codg, f.bilg_dr_codg, f.prd_days, f.hosp_appr_flag,
       m.med_type, m.setl_id, m.begntime, m.endtime, m.hifp_pay, m.dscg_way,
       p.gend, p.brdy, p.insutype, p.death_date,
       {{ age_years(p.brdy, f.fee_ocur_time) }} AS age_at_fee,
       o.medins_lv, o.fixmedins_type, o.admdvs AS org_admdvs,
       d.profttl AS dr_profttl,
       COALESCE(h.hilist_name, f.hilist_code) AS item_name
FROM feedetl f
LEFT JOIN fee_netting n ON n.orig_sn = f.feedetl_sn
JOIN mdtrt m ON m.mdtrt_id = f.mdtrt_id
JOIN psn p ON p.psn_no = f.psn_no
JOIN fixmedins o ON o.fixmedins_code = f.fixmedins_code
LEFT JOIN practitioner d ON d.prac_psn_code = f.bilg_dr_codg
LEFT JOIN kb_hilist h ON h.hilist_code = f.hilist_code
WHERE NOT f.refd_flag AND f.cnt > 0 AND f.feedetl_sn NOT IN (SELECT orig_sn FROM fee_gone)
"""

FEE_NET = """
CREATE VIEW fee_net AS
SELECT feedetl_sn, mdtrt_id, psn_no, fixmedins_code, fee_ocur_time, fee_date, hilist_code, medins_list_codg,
       med_chrgitm_type, cnt, pric, det_item_fee_sumamt, net_cnt, net_amt, bilg_dept_codg, bilg_dr_codg,
       prd_days, hosp_appr_flag
FROM fee_lines
"""

#: the encounter columns of the contract, named one by one: a source's extra column (kept and ignored by
#: the loader) must not shadow a column computed here, such as `gend` or `stay_days`
_MDTRT_COLUMNS = ", ".join(f"m.{c.name}" for c in TABLES_BY_NAME["mdtrt"].columns)

MDTRT_CTX = """
CREATE VIEW mdtrt_ctx AS
SELECT <mdtrt columns>,
       {{ to_date(m.begntime) }} AS begn_date,
       {{ to_date(m.endtime) }} AS end_date,
       {{ age_years(p.brdy, m.begntime) }} AS age_at_begn,
       m.med_type IN ('21', '52') AS is_inpatient,
       GREATEST({{ days_between(m.begntime, m.endtime) }}, 1) AS stay_days,
       p.gend, p.brdy, p.insutype AS psn_insutype, p.death_date,
       o.medins_lv, o.fixmedins_type, o.admdvs AS org_admdvs
FROM mdtrt m
JOIN psn p ON p.psn_no = m.psn_no
JOIN fixmedins o ON o.fixmedins_code = m.fixmedins_code
""".replace("<mdtrt columns>", _MDTRT_COLUMNS)

INPATIENT_STAYS = """
CREATE VIEW inpatient_stays AS SELECT * FROM mdtrt_ctx WHERE is_inpatient
"""


#: the distinct diagnosis codes (bounded by ICD-10): read by every diagnosis-map part
DIAG_CODES = """
CREATE TABLE diag_codes AS SELECT DISTINCT diag_code FROM diag
"""

#: the distinct billed item codes (bounded by the catalog, not by the claims): read by every code-map part
BILLED_CODES = """
CREATE TABLE billed_codes AS SELECT DISTINCT hilist_code FROM feedetl
"""


def _code_map_part(kb_table: str, column: str) -> str:
    # exact entries join on equality; `*` entries by prefix on the (few) distinct billed codes
    return f"""
  SELECT '{kb_table}' AS kb_table, '{column}' AS kb_column, c.hilist_code, k.kb_code,
         CASE WHEN k.kb_code LIKE '%*' THEN 0 ELSE 1 END AS is_exact, length(k.kb_code) AS code_len
  FROM billed_codes c
  JOIN (SELECT DISTINCT {column} AS kb_code FROM {kb_table} WHERE {column} IS NOT NULL AND {column} NOT LIKE '%*') k
    ON k.kb_code = c.hilist_code
  UNION ALL
  SELECT '{kb_table}', '{column}', c.hilist_code, k.kb_code, 0, length(k.kb_code)
  FROM (
    -- each billed code cut at every length a prefix entry has: an equality join, not a comparison of
    -- every billed code with every prefix (which Spark runs as a nested loop)
    SELECT b.hilist_code, substr(b.hilist_code, 1, l.prefix_len) AS code_prefix
    FROM billed_codes b
    CROSS JOIN (SELECT DISTINCT length({column}) - 1 AS prefix_len FROM {kb_table} WHERE {column} LIKE '%*') l
  ) c
  JOIN (SELECT DISTINCT {column} AS kb_code, substr({column}, 1, length({column}) - 1) AS code_prefix
        FROM {kb_table} WHERE {column} LIKE '%*') k
    ON k.code_prefix = c.code_prefix"""  # noqa: S608


def code_map_sql(kb_tables: set[str] | None = None) -> str:
    pairs = [(t, c) for t, c in ITEM_CODE_COLUMNS if kb_tables is None or t in kb_tables]
    if not pairs:
        return """
CREATE TABLE kb_code_map (kb_table VARCHAR, kb_column VARCHAR, hilist_code VARCHAR, kb_code VARCHAR)
"""
    parts = "\n  UNION ALL".join(_code_map_part(t, c) for t, c in pairs)
    return f"""
CREATE TABLE kb_code_map AS
WITH candidates AS ({parts}
)
SELECT kb_table, kb_column, hilist_code, kb_code FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY kb_table, kb_column, hilist_code
                               ORDER BY is_exact DESC, code_len DESC, kb_code) AS rn
  FROM candidates
) x WHERE rn = 1
"""  # noqa: S608


def match_view_sql(kb_table: str) -> str:
    cols = [name for name, _ in KB_TABLES[kb_table] if name != "hilist_code"]
    select = ", ".join(f"k.{c}" for c in cols)
    return f"""
CREATE VIEW {kb_table}_match AS
SELECT m.hilist_code, k.hilist_code AS kb_hilist_code, {select}
FROM kb_code_map m
JOIN {kb_table} k ON k.hilist_code = m.kb_code
WHERE m.kb_table = '{kb_table}' AND m.kb_column = 'hilist_code'
"""  # noqa: S608


def diag_map_sql(kb_tables: set[str] | None = None) -> str:
    tables = [t for t in DIAG_PREFIX_TABLES if kb_tables is None or t in kb_tables]
    if not tables:
        return """
CREATE TABLE diag_code_map (kb_table VARCHAR, diag_code VARCHAR, diag_prefix VARCHAR)
"""
    parts = "\n  UNION ALL\n".join(
        f"""  SELECT DISTINCT '{t}' AS kb_table, c.diag_code, k.diag_prefix
  FROM diag_codes c JOIN (SELECT DISTINCT diag_prefix FROM {t} WHERE diag_prefix IS NOT NULL) k
    ON substr(c.diag_code, 1, length(k.diag_prefix)) = k.diag_prefix"""  # noqa: S608
        for t in tables
    )
    return f"""
CREATE TABLE diag_code_map AS
{parts}
"""  # noqa: S608


def view_statements(kb_tables: set[str] | None = None) -> list[str]:
    """The statements that build every curated view, in order (portable SQL with macros).

    `kb_tables`: the knowledge tables the rules to run declare; code maps are built for those only
    (None: all of them).
    """
    stmts = [FEE_REFUNDS, FEE_NETTING, FEE_GONE, FEE_LINES, FEE_NET, MDTRT_CTX, INPATIENT_STAYS, BILLED_CODES, code_map_sql(kb_tables)]
    stmts += [match_view_sql(t) for t, c in ITEM_CODE_COLUMNS if c == "hilist_code"]
    stmts += [DIAG_CODES, diag_map_sql(kb_tables)]
    return stmts


#: names of everything `view_statements` creates (dropped before a rebuild)
VIEW_NAMES = ("fee_net", "fee_lines", "fee_gone", "fee_netting", "fee_refunds", "billed_codes", "diag_codes", "mdtrt_ctx", "inpatient_stays", "kb_code_map", "diag_code_map") + tuple(
    f"{t}_match" for t, c in ITEM_CODE_COLUMNS if c == "hilist_code"
)
