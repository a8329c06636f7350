"""Valid default rows for building small datasets from a few given fields (rule examples, tests).

`build_tables(given)` fills every unmentioned column with a valid default and creates the parents a
row refers to (encounter, person, institution), so an example states only what matters to it.
`write_dataset` writes the tables as Parquet with the contract's types, for the real loader to read.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fundguard.contract.tables import TABLES, TABLES_BY_NAME, Column, ColumnType

DEFAULT_TIME = "2025-03-03 09:00:00"
INPATIENT_MED_TYPES = ("21", "52")
CENT = Decimal("0.01")


def _dec(value: Any, places: str = "0.01") -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _parse_time(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    text = str(value)
    if len(text) == 10:
        text += " 00:00:00"
    return dt.datetime.fromisoformat(text)


def _parse_date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


def _fmt(ts: dt.datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def build_tables(given: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Complete the given rows of contract tables; keys that are not contract tables are ignored."""
    rows: dict[str, list[dict]] = {t.name: [dict(r) for r in given.get(t.name) or []] for t in TABLES}

    psn_by_id = {r.get("psn_no", "P1"): r for r in rows["psn"]}
    org_by_id = {r.get("fixmedins_code", "H1"): r for r in rows["fixmedins"]}
    for r in rows["psn"]:
        r.setdefault("psn_no", "P1")
    for r in rows["fixmedins"]:
        r.setdefault("fixmedins_code", "H1")

    mdtrt_by_id: dict[str, dict] = {}
    for i, r in enumerate(rows["mdtrt"], start=1):
        r.setdefault("mdtrt_id", f"M{i}")
        mdtrt_by_id[r["mdtrt_id"]] = r

    def ensure_mdtrt(mdtrt_id: str, psn_no: str | None = None, org: str | None = None, when: Any = None) -> dict:
        if mdtrt_id not in mdtrt_by_id:
            row: dict[str, Any] = {"mdtrt_id": mdtrt_id}
            if psn_no:
                row["psn_no"] = psn_no
            if org:
                row["fixmedins_code"] = org
            if when:
                row["begntime"] = _fmt(_parse_time(when))
            rows["mdtrt"].append(row)
            mdtrt_by_id[mdtrt_id] = row
        return mdtrt_by_id[mdtrt_id]

    first_mdtrt = rows["mdtrt"][0]["mdtrt_id"] if rows["mdtrt"] else "M1"
    for i, r in enumerate(rows["feedetl"], start=1):
        r.setdefault("feedetl_sn", f"F{i}")
        r.setdefault("mdtrt_id", first_mdtrt)
        ensure_mdtrt(r["mdtrt_id"], r.get("psn_no"), r.get("fixmedins_code"), r.get("fee_ocur_time"))
    for name in ("diag", "oprn", "checkin"):
        for r in rows[name]:
            r.setdefault("mdtrt_id", first_mdtrt)
            ensure_mdtrt(r["mdtrt_id"])

    # encounters
    for r in rows["mdtrt"]:
        r.setdefault("psn_no", "P1")
        r.setdefault("fixmedins_code", "H1")
        r.setdefault("med_type", "11")
        begin = _parse_time(r.get("begntime") or DEFAULT_TIME)
        r["begntime"] = begin
        inpatient = r["med_type"] in INPATIENT_MED_TYPES
        end = _parse_time(r.get("endtime")) or (begin + dt.timedelta(days=5) if inpatient else begin)
        r["endtime"] = end
        r.setdefault("dscg_way", "1" if inpatient else None)
        r.setdefault("setl_id", f"S{r['mdtrt_id']}")
        r.setdefault("dept_code", "A03")
        r.setdefault("atddr_no", "D1")
        r["setl_time"] = _parse_time(r.get("setl_time")) or end
        r.setdefault("drg_code", None)
        r.setdefault("dip_code", None)
        if r["psn_no"] not in psn_by_id:
            p = {"psn_no": r["psn_no"]}
            rows["psn"].append(p)
            psn_by_id[r["psn_no"]] = p
        if r["fixmedins_code"] not in org_by_id:
            o = {"fixmedins_code": r["fixmedins_code"]}
            rows["fixmedins"].append(o)
            org_by_id[r["fixmedins_code"]] = o

    for r in rows["psn"]:
        r.setdefault("gend", "1")
        r["brdy"] = _parse_date(r.get("brdy") or "1980-06-15")
        r.setdefault("insutype", "310")
        r.setdefault("insu_admdvs", "440100")
        r["death_date"] = _parse_date(r.get("death_date"))
    for r in rows["fixmedins"]:
        r.setdefault("fixmedins_name", f"测试医院{r['fixmedins_code']}")
        r.setdefault("fixmedins_type", "1")
        r.setdefault("medins_lv", "1" if r["fixmedins_type"] == "1" else "9")
        r.setdefault("admdvs", "440100")
        r.setdefault("public_flag", True)
    for r in rows["mdtrt"]:
        r.setdefault("insu_admdvs", psn_by_id[r["psn_no"]]["insu_admdvs"])

    # fee lines
    for r in rows["feedetl"]:
        enc = mdtrt_by_id[r["mdtrt_id"]]
        r.setdefault("psn_no", enc["psn_no"])
        r.setdefault("fixmedins_code", enc["fixmedins_code"])
        r["fee_ocur_time"] = _parse_time(r.get("fee_ocur_time")) or enc["begntime"]
        r.setdefault("hilist_code", "001102000010000")
        r.setdefault("medins_list_codg", r["hilist_code"])
        r.setdefault("med_chrgitm_type", "05")
        refund = bool(r.get("refd_flag", False))
        r["refd_flag"] = refund
        cnt = _dec(r.get("cnt", -1 if refund else 1), "0.0001")
        if r.get("pric") is None and r.get("det_item_fee_sumamt") is not None and cnt:
            pric = _dec(Decimal(str(r["det_item_fee_sumamt"])) / cnt, "0.0001")
        else:
            pric = _dec(r.get("pric", 10), "0.0001")
        r["cnt"], r["pric"] = cnt, pric
        r["det_item_fee_sumamt"] = _dec(r.get("det_item_fee_sumamt", cnt * pric))
        r.setdefault("bilg_dept_codg", enc["dept_code"])
        r.setdefault("bilg_dr_codg", enc["atddr_no"])
        r.setdefault("prd_days", None)
        r.setdefault("orig_feedetl_sn", None)
        r.setdefault("hosp_appr_flag", False)

    totals: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows["feedetl"]:
        totals[r["mdtrt_id"]] += r["det_item_fee_sumamt"]
    for r in rows["mdtrt"]:
        total = _dec(r.get("medfee_sumamt", totals.get(r["mdtrt_id"], Decimal(0))))
        r["medfee_sumamt"] = total
        acct = _dec(r.get("acct_pay", 0))
        if "hifp_pay" in r:
            hifp = _dec(r["hifp_pay"])
            cash = _dec(r.get("psn_cash_pay", total - hifp - acct))
        else:
            cash = _dec(r.get("psn_cash_pay", 0))
            hifp = total - acct - cash
        r["hifp_pay"], r["acct_pay"], r["psn_cash_pay"] = hifp, acct, cash

    srt: dict[str, int] = defaultdict(int)
    for r in rows["diag"]:
        srt[r["mdtrt_id"]] += 1
        r.setdefault("diag_srt_no", srt[r["mdtrt_id"]])
        r.setdefault("maindiag_flag", r["diag_srt_no"] == 1)
        r.setdefault("diag_code", "J06.900")
        r.setdefault("diag_name", r["diag_code"])
    srt.clear()
    for r in rows["oprn"]:
        srt[r["mdtrt_id"]] += 1
        r.setdefault("oprn_srt_no", srt[r["mdtrt_id"]])
        r.setdefault("oprn_oprt_code", "47.0900")
        r["oprn_date"] = _parse_time(r.get("oprn_date")) or mdtrt_by_id[r["mdtrt_id"]]["begntime"]
    for i, r in enumerate(rows["drug_trac"], start=1):
        r.setdefault("feedetl_sn", "F1")
        r.setdefault("drug_trac_codg", f"{81000000000000000000 + i}")
    for r in rows["checkin"]:
        r["chk_time"] = _parse_time(r.get("chk_time")) or mdtrt_by_id[r["mdtrt_id"]]["begntime"] + dt.timedelta(days=1)
        r.setdefault("result", "1")
    for i, r in enumerate(rows["practitioner"], start=1):
        r.setdefault("prac_psn_code", f"D{i}")
        r.setdefault("fixmedins_code", "H1")
        r.setdefault("profttl", "3")
        r.setdefault("dept_code", "A03")
    return rows


def arrow_type(col: Column) -> pa.DataType:
    if col.type in (ColumnType.STR, ColumnType.CODE):
        return pa.string()
    if col.type is ColumnType.INT:
        return pa.int32()
    if col.type is ColumnType.DECIMAL:
        scale = 4 if (col.sql_type or "").endswith(",4)") else 2
        return pa.decimal128(16, scale)
    if col.type is ColumnType.DATE:
        return pa.date32()
    if col.type is ColumnType.TIME:
        return pa.timestamp("s")
    return pa.bool_()


def arrow_schema(table_name: str) -> pa.Schema:
    table = TABLES_BY_NAME[table_name]
    return pa.schema([pa.field(c.name, arrow_type(c), nullable=True) for c in table.columns])


def _coerce(col: Column, value: Any) -> Any:
    if value is None:
        return None
    if col.type is ColumnType.DECIMAL:
        scale = "0.0001" if (col.sql_type or "").endswith(",4)") else "0.01"
        return _dec(value, scale)
    if col.type is ColumnType.DATE:
        return _parse_date(value)
    if col.type is ColumnType.TIME:
        return _parse_time(value)
    if col.type in (ColumnType.STR, ColumnType.CODE):
        return str(value)
    return value


def to_arrow(table_name: str, rows: list[dict]) -> pa.Table:
    table = TABLES_BY_NAME[table_name]
    schema = arrow_schema(table_name)
    data = {c.name: [_coerce(c, r.get(c.name)) for r in rows] for c in table.columns}
    return pa.table(data, schema=schema)


def write_dataset(tables: dict[str, list[dict]], out_dir: Path | str) -> Path:
    """Write completed tables (from `build_tables`) as `<table>.parquet` files."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        rows = tables.get(table.name)
        if rows is None or (table.optional and not rows):
            continue
        pq.write_table(to_arrow(table.name, rows), out / f"{table.name}.parquet")
    return out
