"""Excel export of a filtered flag list (identifiers masked, amounts as numbers with two decimals)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from fundguard.workspace.flagindex import FlagFilter, FlagIndex, Scope
from fundguard.workspace.runs import SEVERITY_LABELS
from fundguard.workspace.services import mask_flag, mask_id

EXPORT_LIMIT = 100_000
HEADERS = ("疑点编号", "规则编号", "规则名称", "类别", "严重程度", "机构编码", "机构名称", "医保区划", "科室", "医师",
           "日期", "参保人", "就诊ID", "金额(元)", "疑点描述")


def _safe(ws, values: list) -> list:
    """Text cells stay text: a value starting with "=" (a filter the user typed, an item name from the
    data) is written as a string, not a live formula; characters Excel cannot hold are dropped."""
    out = []
    for v in values:
        if isinstance(v, str) and v and (v[0] == "=" or ILLEGAL_CHARACTERS_RE.search(v)):
            cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", v))
            cell.data_type = "s"
            v = cell
        out.append(v)
    return out


def write_flags_xlsx(target: IO[bytes] | Path, index: FlagIndex, flt: FlagFilter, scope: Scope, *, run_id: str,
                     sort: str = "amount_desc", rule_names: dict[str, str] | None = None, user: str = "",
                     limit: int = EXPORT_LIMIT) -> int:
    """Write the flags matching `flt` within `scope` (at most `limit`); returns the number of rows written."""
    names = rule_names or {}
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("疑点")
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for h in HEADERS:
        cell = WriteOnlyCell(ws, value=h)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    n = 0
    for f in index.iter_flags(flt, scope, sort=sort, limit=limit):
        amount = WriteOnlyCell(ws, value=f["vola_amt"])
        amount.number_format = "#,##0.00"
        ws.append(_safe(ws, [f["flag_id"], f["rule_id"], names.get(f["rule_id"], ""), f["category"],
                             SEVERITY_LABELS.get(f["sev_deg"], str(f["sev_deg"])), f["fixmedins_code"], f["fixmedins_name"],
                             f["admdvs"], f["dept_code"], f["dr_code"], f["flag_date"], mask_id(f["psn_no"]),
                             mask_id(f["mdtrt_id"]), amount, mask_flag(f)["message"]]))
        n += 1
    total = index.count(flt, scope)
    about = wb.create_sheet("筛选条件")
    about.append(["运行", run_id])
    about.append(["导出时间", dt.datetime.now().isoformat(timespec="seconds")])
    about.append(["导出用户", user])
    for label, value in flt.describe():
        about.append(_safe(about, [label, value]))
    about.append(["符合条件的疑点数", total])
    about.append(["本文件行数", n])
    if n < total:
        about.append(["说明", f"超过 {limit} 行，仅导出前 {limit} 行（按当前排序）；请缩小筛选范围"])
    about.append(["说明", "参保人编号、就诊ID 已脱敏"])
    wb.save(target)
    return n
