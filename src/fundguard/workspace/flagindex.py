"""The flag index: one audit run's flags in an indexed SQLite file, for pages that answer in milliseconds.

`build_index` reads `flags.parquet` (and, when present, the audited dataset and the knowledge edition's
item names) once, adds what the pages filter and group by (date, month, region, department, doctor,
institution name, rule category), and writes a SQLite file with B-tree indexes that end in `flag_id`, so
every page of the flag browser is an index range walk with keyset pagination (`(sort value, flag_id)`
after the last row shown), never an OFFSET or a scan. Aggregates for the dashboards are computed once
at build time into small cube tables. The run is immutable, so the index is built once per run.

Money is stored as integer cents and returned as `Decimal`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from fundguard.contract.masking import mask_id

INDEX_VERSION = "4"
CENT = Decimal("0.01")

_FLAG_COLUMNS = (
    "flag_id", "rule_id", "category", "rule_version", "sev_deg", "granularity", "psn_no", "mdtrt_id",
    "setl_id", "fixmedins_code", "fixmedins_name", "admdvs", "dept_code", "dr_code", "flag_date", "month",
    "vola_cents", "message", "evidence", "feedetl_sn", "mdtrt_ids", "flag_key",
)

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE flag (
  flag_id TEXT NOT NULL, rule_id TEXT NOT NULL, category TEXT NOT NULL, rule_version TEXT NOT NULL,
  sev_deg INTEGER NOT NULL, granularity TEXT NOT NULL, psn_no TEXT, mdtrt_id TEXT, setl_id TEXT,
  fixmedins_code TEXT NOT NULL, fixmedins_name TEXT NOT NULL, admdvs TEXT NOT NULL, dept_code TEXT NOT NULL,
  dr_code TEXT NOT NULL, flag_date TEXT NOT NULL, month TEXT NOT NULL, vola_cents INTEGER NOT NULL,
  message TEXT NOT NULL, evidence TEXT NOT NULL, feedetl_sn TEXT NOT NULL, mdtrt_ids TEXT NOT NULL,
  flag_key TEXT NOT NULL,
  -- region prefixes (province 2, city 4 digits) as their own columns: a region filter is an equality
  adm2 TEXT GENERATED ALWAYS AS (substr(admdvs, 1, 2)) VIRTUAL,
  adm4 TEXT GENERATED ALWAYS AS (substr(admdvs, 1, 4)) VIRTUAL
);
CREATE TABLE fee (
  feedetl_sn TEXT PRIMARY KEY, mdtrt_id TEXT NOT NULL, fee_ocur_time TEXT, hilist_code TEXT, item_name TEXT,
  medins_list_codg TEXT, med_chrgitm_type TEXT, cnt TEXT, pric TEXT, amt_cents INTEGER, bilg_dept_codg TEXT,
  bilg_dr_codg TEXT, prd_days INTEGER, refd_flag INTEGER, hosp_appr_flag INTEGER
) WITHOUT ROWID;
CREATE TABLE enc (
  mdtrt_id TEXT PRIMARY KEY, setl_id TEXT, psn_no TEXT, fixmedins_code TEXT, med_type TEXT, begntime TEXT,
  endtime TEXT, dept_code TEXT, atddr_no TEXT, medfee_cents INTEGER, hifp_cents INTEGER, drg_code TEXT
) WITHOUT ROWID;
CREATE TABLE diag (mdtrt_id TEXT, diag_srt_no INTEGER, maindiag_flag INTEGER, diag_code TEXT, diag_name TEXT,
  PRIMARY KEY (mdtrt_id, diag_srt_no)) WITHOUT ROWID;
CREATE TABLE psn (psn_no TEXT PRIMARY KEY, gend TEXT, brdy TEXT, insutype TEXT, insu_admdvs TEXT,
  death_date TEXT) WITHOUT ROWID;
CREATE TABLE org (fixmedins_code TEXT PRIMARY KEY, fixmedins_name TEXT, fixmedins_type TEXT, medins_lv TEXT,
  admdvs TEXT, public_flag INTEGER) WITHOUT ROWID;
"""

# Every index ends in flag_id: the keyset tiebreak, so `(value, flag_id) < (?, ?)` is an index seek.
_INDEXES = """
CREATE UNIQUE INDEX ix_flag_id ON flag (flag_id);
CREATE INDEX ix_amt ON flag (vola_cents, flag_id);
CREATE INDEX ix_date ON flag (flag_date, flag_id);
CREATE INDEX ix_org_amt ON flag (fixmedins_code, vola_cents, flag_id);
CREATE INDEX ix_org_date ON flag (fixmedins_code, flag_date, flag_id);
CREATE INDEX ix_rule_amt ON flag (rule_id, vola_cents, flag_id);
CREATE INDEX ix_rule_date ON flag (rule_id, flag_date, flag_id);
CREATE INDEX ix_sev_amt ON flag (sev_deg, vola_cents, flag_id);
CREATE INDEX ix_cat_amt ON flag (category, vola_cents, flag_id);
CREATE INDEX ix_region_amt ON flag (admdvs, vola_cents, flag_id);
CREATE INDEX ix_region_date ON flag (admdvs, flag_date, flag_id);
CREATE INDEX ix_adm2_amt ON flag (adm2, vola_cents, flag_id);
CREATE INDEX ix_adm4_amt ON flag (adm4, vola_cents, flag_id);
CREATE INDEX ix_psn ON flag (psn_no, vola_cents, flag_id);
CREATE INDEX ix_mdtrt ON flag (mdtrt_id);
CREATE INDEX ix_fee_mdtrt ON fee (mdtrt_id);
CREATE TABLE agg_cube AS
  SELECT fixmedins_code, admdvs, rule_id, category, sev_deg, month, count(*) AS n, sum(vola_cents) AS cents,
         count(DISTINCT psn_no) AS persons
  FROM flag GROUP BY fixmedins_code, admdvs, rule_id, category, sev_deg, month;
CREATE INDEX ix_cube_org ON agg_cube (fixmedins_code);
CREATE INDEX ix_cube_region ON agg_cube (admdvs);
CREATE TABLE agg_dept AS
  SELECT fixmedins_code, admdvs, dept_code, count(*) AS n, sum(vola_cents) AS cents
  FROM flag GROUP BY fixmedins_code, admdvs, dept_code;
CREATE TABLE agg_dr AS
  SELECT fixmedins_code, admdvs, dr_code, count(*) AS n, sum(vola_cents) AS cents
  FROM flag GROUP BY fixmedins_code, admdvs, dr_code;
CREATE INDEX ix_dept_org ON agg_dept (fixmedins_code);
CREATE INDEX ix_dr_org ON agg_dr (fixmedins_code);
"""


def cents_to_decimal(cents: int | None) -> Decimal:
    return (Decimal(int(cents or 0)) * CENT).quantize(CENT)


#: amounts are DECIMAL(16,2): a filter bound beyond that matches everything or nothing, and overflows SQLite
_MAX_AMOUNT = Decimal(10) ** 14


def decimal_to_cents(value: Decimal | str | float | int) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


# ---- building -----------------------------------------------------------------------------------------


def _sql_str(path: Path) -> str:
    # Paths are ours (the workspace), not user input; quotes are escaped for read_parquet.
    return "'" + str(path).replace("'", "''") + "'"


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()[0])


def build_index(flags_path: Path, out: Path, *, dataset: Path | None = None, categories: dict[str, str] | None = None,
                item_names: Any = None, meta: dict[str, str] | None = None) -> dict[str, Any]:
    """Write the index for one run's `flags.parquet` to `out` (atomically); returns build statistics.

    `dataset`: the audited dataset folder (for dates, departments, doctors, regions and the evidence fee
    lines); without it the index still serves every flag, with those columns empty.
    `categories`: rule_id → category. `item_names`: a pyarrow table (hilist_code, hilist_name).
    """
    from fundguard.contract import load_dataset

    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    con = duckdb.connect()
    stats: dict[str, Any] = {"dataset": None}
    try:
        con.execute(f"CREATE VIEW f AS SELECT * FROM read_parquet({_sql_str(flags_path)})")  # noqa: S608
        cat_rows = sorted((categories or {}).items())
        con.execute("CREATE TABLE cat (rule_id VARCHAR, category VARCHAR)")
        if cat_rows:
            con.executemany("INSERT INTO cat VALUES (?, ?)", cat_rows)
        has_data = False
        if dataset is not None and Path(dataset).is_dir():
            load_dataset(Path(dataset), con)
            has_data = True
            stats["dataset"] = str(dataset)
        if item_names is not None and item_names.num_rows:
            con.register("_names", item_names)
            con.execute("CREATE TABLE names AS SELECT hilist_code, min(hilist_name) AS hilist_name FROM _names GROUP BY 1")
        else:
            con.execute("CREATE TABLE names (hilist_code VARCHAR, hilist_name VARCHAR)")
        if not has_data:
            for ddl in (
                "CREATE TABLE feedetl (feedetl_sn VARCHAR, mdtrt_id VARCHAR, psn_no VARCHAR, fixmedins_code VARCHAR,"
                " fee_ocur_time TIMESTAMP, hilist_code VARCHAR, medins_list_codg VARCHAR, med_chrgitm_type VARCHAR,"
                " cnt DECIMAL(16,4), pric DECIMAL(16,4), det_item_fee_sumamt DECIMAL(16,2), bilg_dept_codg VARCHAR,"
                " bilg_dr_codg VARCHAR, prd_days INTEGER, refd_flag BOOLEAN, hosp_appr_flag BOOLEAN)",
                "CREATE TABLE mdtrt (mdtrt_id VARCHAR, setl_id VARCHAR, psn_no VARCHAR, fixmedins_code VARCHAR,"
                " med_type VARCHAR, begntime TIMESTAMP, endtime TIMESTAMP, dept_code VARCHAR, atddr_no VARCHAR,"
                " medfee_sumamt DECIMAL(16,2), hifp_pay DECIMAL(16,2))",
                "CREATE TABLE psn (psn_no VARCHAR, gend VARCHAR, brdy DATE, insutype VARCHAR, insu_admdvs VARCHAR)",
                "CREATE TABLE fixmedins (fixmedins_code VARCHAR, fixmedins_name VARCHAR, fixmedins_type VARCHAR,"
                " medins_lv VARCHAR, admdvs VARCHAR, public_flag BOOLEAN)",
                "CREATE TABLE diag (mdtrt_id VARCHAR, diag_srt_no INTEGER, maindiag_flag BOOLEAN, diag_code VARCHAR,"
                " diag_name VARCHAR)",
            ):
                con.execute(ddl)
        mdtrt_cols = {r[0] for r in con.execute("DESCRIBE mdtrt").fetchall()}
        psn_cols = {r[0] for r in con.execute("DESCRIBE psn").fetchall()}
        drg = "m.drg_code" if "drg_code" in mdtrt_cols else "CAST(NULL AS VARCHAR)"
        death = "strftime(p.death_date, '%Y-%m-%d')" if "death_date" in psn_cols else "CAST(NULL AS VARCHAR)"

        con.execute("""
CREATE TABLE fl AS SELECT flag_id, unnest(feedetl_sn) AS sn FROM f;
CREATE TABLE fm AS SELECT DISTINCT flag_id, mid FROM (
  SELECT flag_id, unnest(mdtrt_ids) AS mid FROM f UNION ALL SELECT flag_id, mdtrt_id FROM f WHERE mdtrt_id IS NOT NULL);
CREATE TABLE line_ctx AS
  SELECT fl.flag_id, min(d.fee_ocur_time) AS t, arg_min(d.bilg_dept_codg, d.fee_ocur_time) AS dept,
         arg_min(d.bilg_dr_codg, d.fee_ocur_time) AS dr
  FROM fl JOIN feedetl d ON d.feedetl_sn = fl.sn GROUP BY fl.flag_id;
CREATE TABLE enc_ctx AS
  SELECT fm.flag_id, min(m.begntime) AS t, arg_min(m.dept_code, m.begntime) AS dept,
         arg_min(m.atddr_no, m.begntime) AS dr
  FROM fm JOIN mdtrt m ON m.mdtrt_id = fm.mid GROUP BY fm.flag_id;
""")
        flag_sql = """
SELECT f.flag_id, f.rule_id, coalesce(c.category, ''), f.rule_version, f.sev_deg, f.granularity, f.psn_no,
       f.mdtrt_id, f.setl_id, coalesce(f.fixmedins_code, ''), coalesce(o.fixmedins_name, ''),
       coalesce(o.admdvs, p.insu_admdvs, ''), coalesce(l.dept, e.dept, ''), coalesce(l.dr, e.dr, ''),
       coalesce(strftime(coalesce(l.t, e.t), '%Y-%m-%d'), ''), coalesce(strftime(coalesce(l.t, e.t), '%Y-%m'), ''),
       CAST(round(f.vola_amt * 100) AS BIGINT), coalesce(f.message, ''), coalesce(f.evidence, '{}'),
       CAST(to_json(coalesce(f.feedetl_sn, [])) AS VARCHAR), CAST(to_json(coalesce(f.mdtrt_ids, [])) AS VARCHAR),
       coalesce(f.flag_key, '')
FROM f LEFT JOIN cat c ON c.rule_id = f.rule_id
LEFT JOIN line_ctx l ON l.flag_id = f.flag_id
LEFT JOIN enc_ctx e ON e.flag_id = f.flag_id
LEFT JOIN fixmedins o ON o.fixmedins_code = f.fixmedins_code
LEFT JOIN psn p ON p.psn_no = f.psn_no
"""
        con.execute("CREATE TABLE enc_ids AS SELECT DISTINCT mid AS mdtrt_id FROM fm")
        lite = sqlite3.connect(tmp)
        try:
            lite.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY;"
                               "PRAGMA cache_size=-200000;" + _SCHEMA)
            n_flags = _copy(con, flag_sql, lite, "flag", len(_FLAG_COLUMNS))
            _copy(con, """
SELECT d.feedetl_sn, d.mdtrt_id, strftime(d.fee_ocur_time, '%Y-%m-%d %H:%M:%S'), d.hilist_code, n.hilist_name,
       d.medins_list_codg, d.med_chrgitm_type, CAST(d.cnt AS VARCHAR), CAST(d.pric AS VARCHAR),
       CAST(round(d.det_item_fee_sumamt * 100) AS BIGINT), d.bilg_dept_codg, d.bilg_dr_codg, d.prd_days,
       CAST(d.refd_flag AS INTEGER), CAST(d.hosp_appr_flag AS INTEGER)
FROM feedetl d JOIN enc_ids e ON e.mdtrt_id = d.mdtrt_id LEFT JOIN names n ON n.hilist_code = d.hilist_code
UNION ALL
SELECT d.feedetl_sn, d.mdtrt_id, strftime(d.fee_ocur_time, '%Y-%m-%d %H:%M:%S'), d.hilist_code, n.hilist_name,
       d.medins_list_codg, d.med_chrgitm_type, CAST(d.cnt AS VARCHAR), CAST(d.pric AS VARCHAR),
       CAST(round(d.det_item_fee_sumamt * 100) AS BIGINT), d.bilg_dept_codg, d.bilg_dr_codg, d.prd_days,
       CAST(d.refd_flag AS INTEGER), CAST(d.hosp_appr_flag AS INTEGER)
FROM feedetl d JOIN (SELECT DISTINCT sn FROM fl) s ON s.sn = d.feedetl_sn
LEFT JOIN names n ON n.hilist_code = d.hilist_code
WHERE d.mdtrt_id NOT IN (SELECT mdtrt_id FROM enc_ids)
""", lite, "fee", 15)
            _copy(con, f"""
SELECT m.mdtrt_id, m.setl_id, m.psn_no, m.fixmedins_code, m.med_type,
       strftime(m.begntime, '%Y-%m-%d %H:%M:%S'), strftime(m.endtime, '%Y-%m-%d %H:%M:%S'), m.dept_code, m.atddr_no,
       CAST(round(m.medfee_sumamt * 100) AS BIGINT), CAST(round(m.hifp_pay * 100) AS BIGINT), {drg}
FROM mdtrt m JOIN enc_ids e ON e.mdtrt_id = m.mdtrt_id
""", lite, "enc", 12)  # noqa: S608
            _copy(con, """
SELECT g.mdtrt_id, g.diag_srt_no, CAST(g.maindiag_flag AS INTEGER), g.diag_code, g.diag_name
FROM diag g JOIN enc_ids e ON e.mdtrt_id = g.mdtrt_id
""", lite, "diag", 5)
            _copy(con, f"""
SELECT p.psn_no, p.gend, strftime(p.brdy, '%Y-%m-%d'), p.insutype, p.insu_admdvs, {death}
FROM psn p WHERE p.psn_no IN (SELECT DISTINCT psn_no FROM f)
""", lite, "psn", 6)  # noqa: S608
            _copy(con, """
SELECT fixmedins_code, fixmedins_name, fixmedins_type, medins_lv, admdvs, CAST(public_flag AS INTEGER)
FROM fixmedins
""", lite, "org", 6)
            lite.executescript(_INDEXES)
            persons = lite.execute("SELECT count(DISTINCT psn_no) FROM flag").fetchone()[0]
            info = dict(meta or {})
            info.update({
                "index_version": INDEX_VERSION,
                "flags": str(n_flags),
                "persons": str(persons),
                "has_dataset": "1" if has_data else "0",
                "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            })
            lite.executemany("INSERT INTO meta VALUES (?, ?)", sorted(info.items()))
            lite.commit()
            lite.execute("ANALYZE")
            lite.commit()
        finally:
            lite.close()
        os.replace(tmp, out)
        stats.update({"flags": n_flags, "seconds": round(time.perf_counter() - started, 2), "path": str(out)})
        return stats
    finally:
        con.close()
        if tmp.exists():
            tmp.unlink()


def _copy(con: duckdb.DuckDBPyConnection, sql: str, lite: sqlite3.Connection, table: str, ncols: int) -> int:
    cur = con.execute(sql)
    marks = ", ".join("?" * ncols)
    total = 0
    while True:
        rows = cur.fetchmany(50_000)
        if not rows:
            break
        lite.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)  # noqa: S608
        total += len(rows)
    return total


# ---- querying -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What a caller may see: one institution, a region (admdvs prefix), or everything (both None)."""

    fixmedins_code: str | None = None
    admdvs_prefix: str | None = None

    @property
    def is_all(self) -> bool:
        return self.fixmedins_code is None and self.admdvs_prefix is None


@dataclass
class FlagFilter:
    rule_id: list[str] = field(default_factory=list)
    sev_deg: list[int] = field(default_factory=list)
    category: str | None = None
    fixmedins_code: str | None = None
    admdvs: str | None = None  # exact code or prefix (a province's or city's first digits)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    psn_no: str | None = None
    mdtrt_id: str | None = None
    dept_code: str | None = None
    dr_code: str | None = None

    def problems(self) -> list[str]:
        """What a caller sent that no flag can match and the index cannot take (Chinese, for a 4xx)."""
        out = []
        for name, value in (("amount_min", self.amount_min), ("amount_max", self.amount_max)):
            if value is not None and (not value.is_finite() or abs(value) >= _MAX_AMOUNT):
                out.append(f"{name}: 金额应为小于 10^14 的有限数值")
        bad = [s for s in self.sev_deg if s not in (1, 2, 3)]
        if bad:
            out.append(f"sev_deg: 严重程度应为 1、2 或 3, 得到 {bad[0]}")
        def bad(text: str) -> bool:
            return len(text) > 200 or any(ord(ch) < 32 for ch in text)

        for name in ("rule_id", "category", "fixmedins_code", "admdvs", "psn_no", "mdtrt_id", "dept_code", "dr_code"):
            value = getattr(self, name)
            if any(bad(v) for v in value) if isinstance(value, list) else (value is not None and bad(value)):
                out.append(f"{name}: 含控制字符或超过 200 个字符")
        return out

    def describe(self) -> list[tuple[str, str]]:
        out = []
        for label, value in (
            ("规则", ",".join(self.rule_id)), ("严重程度", ",".join(map(str, self.sev_deg))),
            ("类别", self.category), ("机构", self.fixmedins_code), ("区划", self.admdvs),
            ("开始日期", self.date_from), ("结束日期", self.date_to), ("最低金额", self.amount_min),
            ("最高金额", self.amount_max), ("科室", self.dept_code), ("医师", self.dr_code),
            # an export of one person's or encounter's flags says so, masked as the rows are
            ("参保人 (已脱敏)", mask_id(self.psn_no)), ("就诊ID (已脱敏)", mask_id(self.mdtrt_id)),
        ):
            if value not in (None, ""):
                out.append((label, str(value)))
        return out


SORTS: dict[str, tuple[str, bool]] = {
    "amount_desc": ("vola_cents", True),
    "amount_asc": ("vola_cents", False),
    "date_desc": ("flag_date", True),
    "date_asc": ("flag_date", False),
}


class CursorError(ValueError):
    pass


def encode_cursor(sort: str, value: Any, flag_id: str) -> str:
    raw = json.dumps([sort, value, flag_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        got_sort, value, flag_id = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise CursorError("翻页游标无效") from exc
    if got_sort != sort or not isinstance(flag_id, str):
        raise CursorError("翻页游标与排序方式不符")
    if not (value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)
                                                       and -(2**63) <= value < 2**63)):
        raise CursorError("翻页游标无效")  # the sort keys are text or 64-bit integers (cents, dates)
    return value, flag_id


@dataclass
class FlagPage:
    items: list[dict]
    next_cursor: str | None
    prev_cursor: str | None
    total: int
    limit: int
    sort: str


def _where(flt: FlagFilter, scope: Scope) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []

    def prefix(col: str, p: str) -> None:
        # Province (2) and city (4) prefixes are indexed columns; a full code is an equality; other
        # lengths are a range ([p, p + '~'): region codes are digits).
        if len(p) in (2, 4):
            clauses.append(f"adm{len(p)} = ?")
            args.append(p)
        elif len(p) == 6:
            clauses.append(f"{col} = ?")
            args.append(p)
        else:
            clauses.append(f"{col} >= ? AND {col} < ?")
            args.extend([p, p + "~"])

    if scope.fixmedins_code is not None:
        clauses.append("fixmedins_code = ?")
        args.append(scope.fixmedins_code)
    if scope.admdvs_prefix:
        prefix("admdvs", scope.admdvs_prefix)
    if flt.rule_id:
        clauses.append(f"rule_id IN ({', '.join('?' * len(flt.rule_id))})")
        args.extend(flt.rule_id)
    if flt.sev_deg:
        clauses.append(f"sev_deg IN ({', '.join('?' * len(flt.sev_deg))})")
        args.extend(int(s) for s in flt.sev_deg)
    if flt.category:
        clauses.append("category = ?")
        args.append(flt.category)
    if flt.fixmedins_code:
        clauses.append("fixmedins_code = ?")
        args.append(flt.fixmedins_code)
    if flt.admdvs:
        prefix("admdvs", flt.admdvs)
    if flt.date_from:
        clauses.append("flag_date >= ?")
        args.append(flt.date_from.isoformat())
    if flt.date_to:
        clauses.append("flag_date <= ? AND flag_date <> ''")
        args.append(flt.date_to.isoformat())
    if flt.amount_min is not None:
        clauses.append("vola_cents >= ?")
        args.append(decimal_to_cents(flt.amount_min))
    if flt.amount_max is not None:
        clauses.append("vola_cents <= ?")
        args.append(decimal_to_cents(flt.amount_max))
    for col in ("psn_no", "mdtrt_id", "dept_code", "dr_code"):
        value = getattr(flt, col)
        if value:
            clauses.append(f"{col} = ?")
            args.append(value)
    return clauses, args


_LIST_COLUMNS = ("flag_id", "rule_id", "category", "sev_deg", "granularity", "psn_no", "mdtrt_id", "setl_id",
                 "fixmedins_code", "fixmedins_name", "admdvs", "dept_code", "dr_code", "flag_date", "vola_cents",
                 "message", "mdtrt_ids")  # mdtrt_ids: the encounters a message names, masked with the rest


def _flag_dict(row: sqlite3.Row) -> dict:
    d = dict(row)
    d["vola_amt"] = cents_to_decimal(d.pop("vola_cents"))
    for key in ("feedetl_sn", "mdtrt_ids"):
        if key in d:
            d[key] = json.loads(d[key])
    if "evidence" in d:
        try:
            d["evidence"] = json.loads(d["evidence"])
        except ValueError:
            d["evidence"] = {"raw": d["evidence"]}
    return d


class FlagIndex:
    """Read-only queries over one run's index file; safe to share between threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self.meta = dict(self._con().execute("SELECT key, value FROM meta").fetchall())

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA query_only=1")
            con.execute("PRAGMA cache_size=-64000")
            self._local.con = con
        return con

    def _q(self, sql: str, args: list | tuple = ()) -> list[sqlite3.Row]:
        return self._con().execute(sql, args).fetchall()

    # ---- flags --------------------------------------------------------------------------------------

    def count(self, flt: FlagFilter, scope: Scope) -> int:
        clauses, args = _where(flt, scope)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return int(self._q(f"SELECT count(*) FROM flag {where}", args)[0][0])  # noqa: S608

    def page(self, flt: FlagFilter, scope: Scope, *, sort: str = "amount_desc", after: str | None = None,
             before: str | None = None, limit: int = 50, with_total: bool = True) -> FlagPage:
        if sort not in SORTS:
            raise CursorError(f"未知的排序方式 {sort!r} (可用: {', '.join(SORTS)})")
        limit = max(1, min(int(limit), 1000))
        col, desc = SORTS[sort]
        clauses, args = _where(flt, scope)
        backwards = before is not None and after is None
        cursor = before if backwards else after
        if cursor:
            value, fid = decode_cursor(cursor, sort)
            forward_op = "<" if desc else ">"
            op = {"<": ">", ">": "<"}[forward_op] if backwards else forward_op
            clauses.append(f"({col}, flag_id) {op} (?, ?)")
            args.extend([value, fid])
        order_desc = desc != backwards
        direction = "DESC" if order_desc else "ASC"
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = (f"SELECT {', '.join(_LIST_COLUMNS)} FROM flag {where} "  # noqa: S608
               f"ORDER BY {col} {direction}, flag_id {direction} LIMIT ?")
        rows = self._q(sql, [*args, limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
        items = [_flag_dict(r) for r in rows]
        sort_key = "vola_cents" if col == "vola_cents" else "flag_date"

        def cur(row: sqlite3.Row) -> str:
            return encode_cursor(sort, row[sort_key], row["flag_id"])

        if backwards:
            next_c = cur(rows[-1]) if rows else None
            prev_c = cur(rows[0]) if rows and has_more else None
        else:
            next_c = cur(rows[-1]) if rows and has_more else None
            prev_c = cur(rows[0]) if rows and cursor else None
        total = self.count(flt, scope) if with_total else -1
        return FlagPage(items, next_c, prev_c, total, limit, sort)

    def iter_flags(self, flt: FlagFilter, scope: Scope, *, sort: str = "amount_desc",
                   limit: int | None = None) -> Iterator[dict]:
        col, desc = SORTS[sort]
        clauses, args = _where(flt, scope)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        direction = "DESC" if desc else "ASC"
        sql = (f"SELECT {', '.join(_LIST_COLUMNS)} FROM flag {where} "  # noqa: S608
               f"ORDER BY {col} {direction}, flag_id {direction}")
        if limit is not None:
            sql += " LIMIT ?"
            args = [*args, int(limit)]
        for row in self._con().execute(sql, args):
            yield _flag_dict(row)

    def get(self, flag_id: str, scope: Scope) -> dict | None:
        """One flag with everything it rests on, or None when it does not exist or is outside `scope`."""
        clauses, args = _where(FlagFilter(), scope)
        clauses.insert(0, "flag_id = ?")
        args.insert(0, flag_id)
        rows = self._q(f"SELECT * FROM flag WHERE {' AND '.join(clauses)}", args)  # noqa: S608
        if not rows:
            return None
        flag = _flag_dict(rows[0])
        sns = list(flag["feedetl_sn"])
        encs = list(dict.fromkeys([*flag["mdtrt_ids"], *([flag["mdtrt_id"]] if flag["mdtrt_id"] else [])]))
        encounters = [self._enc(r) for r in self._in("enc", "mdtrt_id", encs, "begntime")]
        if scope.fixmedins_code is not None:
            # an institution sees its own encounters only: a finding about an overlap with another
            # institution's stay (D03/D07/D09) names it (message, mdtrt_ids) but does not open it
            encounters = [e for e in encounters if e["fixmedins_code"] == scope.fixmedins_code]
            encs = [e["mdtrt_id"] for e in encounters]
        flag["fee_lines"] = [f for f in self._fee_lines(sns) if scope.fixmedins_code is None or f["mdtrt_id"] in encs]
        flag["encounters"] = encounters
        flag["diagnoses"] = [dict(r) for r in self._in("diag", "mdtrt_id", encs, "mdtrt_id, diag_srt_no")]
        psn = self._q("SELECT * FROM psn WHERE psn_no = ?", [flag["psn_no"]]) if flag["psn_no"] else []
        flag["person"] = dict(psn[0]) if psn else None
        org = self._q("SELECT * FROM org WHERE fixmedins_code = ?", [flag["fixmedins_code"]])
        flag["institution"] = dict(org[0]) if org else None
        flag["encounter_lines"] = self._fee_lines_of(encs, exclude=set(sns), limit=200)
        return flag

    def _in(self, table: str, col: str, values: list[str], order: str) -> list[sqlite3.Row]:
        if not values:
            return []
        out: list[sqlite3.Row] = []
        for i in range(0, len(values), 500):
            chunk = values[i : i + 500]
            out += self._q(f"SELECT * FROM {table} WHERE {col} IN ({', '.join('?' * len(chunk))}) "  # noqa: S608
                           f"ORDER BY {order}", chunk)
        return out

    @staticmethod
    def _fee(row: sqlite3.Row) -> dict:
        d = dict(row)
        d["amount"] = cents_to_decimal(d.pop("amt_cents"))
        return d

    @staticmethod
    def _enc(row: sqlite3.Row) -> dict:
        d = dict(row)
        d["medfee_sumamt"] = cents_to_decimal(d.pop("medfee_cents"))
        d["hifp_pay"] = cents_to_decimal(d.pop("hifp_cents"))
        return d

    def _fee_lines(self, sns: list[str]) -> list[dict]:
        rows = self._in("fee", "feedetl_sn", sns, "fee_ocur_time, feedetl_sn")
        return [self._fee(r) for r in sorted(rows, key=lambda r: (r["fee_ocur_time"] or "", r["feedetl_sn"]))]

    def _fee_lines_of(self, encs: list[str], *, exclude: set[str], limit: int) -> list[dict]:
        rows = [r for r in self._in("fee", "mdtrt_id", encs[:50], "fee_ocur_time, feedetl_sn")
                if r["feedetl_sn"] not in exclude]
        rows.sort(key=lambda r: (r["fee_ocur_time"] or "", r["feedetl_sn"]))
        return [self._fee(r) for r in rows[:limit]]

    # ---- aggregates -----------------------------------------------------------------------------------

    def _cube_where(self, scope: Scope, flt: FlagFilter | None = None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if scope.fixmedins_code is not None:
            clauses.append("fixmedins_code = ?")
            args.append(scope.fixmedins_code)
        if scope.admdvs_prefix:
            clauses.append("admdvs >= ? AND admdvs < ?")
            args.extend([scope.admdvs_prefix, scope.admdvs_prefix + "~"])
        if flt is not None and flt.fixmedins_code:
            clauses.append("fixmedins_code = ?")
            args.append(flt.fixmedins_code)
        if flt is not None and flt.admdvs:
            clauses.append("admdvs >= ? AND admdvs < ?")
            args.extend([flt.admdvs, flt.admdvs + "~"])
        return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), args

    def breakdown(self, dim: str, scope: Scope, flt: FlagFilter | None = None, *, limit: int | None = None,
                  order: str = "cents") -> list[dict]:
        """Counts and amounts grouped by a dimension: rule_id, category, sev_deg, month, fixmedins_code,
        admdvs (from the cube), dept_code or dr_code (their own small tables)."""
        table = {"dept_code": "agg_dept", "dr_code": "agg_dr"}.get(dim, "agg_cube")
        allowed = {"rule_id", "category", "sev_deg", "month", "fixmedins_code", "admdvs", "dept_code", "dr_code"}
        if dim not in allowed:
            raise ValueError(f"unknown dimension {dim!r}")
        where, args = self._cube_where(scope, flt)
        order_by = {"cents": "cents DESC, n DESC", "n": "n DESC, cents DESC", "key": "k"}[order]
        sql = f"SELECT {dim} AS k, sum(n) AS n, sum(cents) AS cents FROM {table} {where} GROUP BY {dim} ORDER BY {order_by}"  # noqa: S608,E501
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [{"key": r["k"], "flags": int(r["n"]), "vola_amt": cents_to_decimal(r["cents"])} for r in self._q(sql, args)]

    def totals(self, scope: Scope, flt: FlagFilter | None = None) -> dict:
        where, args = self._cube_where(scope, flt)
        r = self._q(f"SELECT coalesce(sum(n), 0) AS n, coalesce(sum(cents), 0) AS cents, "  # noqa: S608
                    f"count(DISTINCT fixmedins_code) AS orgs, count(DISTINCT rule_id) AS rules FROM agg_cube {where}", args)[0]
        return {"flags": int(r["n"]), "vola_amt": cents_to_decimal(r["cents"]), "institutions": int(r["orgs"]),
                "rules": int(r["rules"])}

    def institution_names(self, codes: list[str]) -> dict[str, str]:
        return {r["fixmedins_code"]: r["fixmedins_name"] or "" for r in self._in("org", "fixmedins_code", codes, "fixmedins_code")}

    def institution(self, code: str) -> dict | None:
        rows = self._q("SELECT * FROM org WHERE fixmedins_code = ?", [code])
        return dict(rows[0]) if rows else None

    def institutions(self, scope: Scope) -> list[dict]:
        rows = self.breakdown("fixmedins_code", scope)
        names = self.institution_names([r["key"] for r in rows if r["key"]])
        orgs = {r["fixmedins_code"]: dict(r) for r in self._in("org", "fixmedins_code", list(names), "fixmedins_code")}
        for r in rows:
            org = orgs.get(r["key"], {})
            r["fixmedins_code"] = r.pop("key")
            r["fixmedins_name"] = org.get("fixmedins_name") or ""
            r["admdvs"] = org.get("admdvs") or ""
            r["medins_lv"] = org.get("medins_lv") or ""
            r["fixmedins_type"] = org.get("fixmedins_type") or ""
        return rows
