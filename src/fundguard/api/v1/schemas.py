"""Response models of the v1 API (they are its OpenAPI documentation). Money is a decimal string."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    fixmedins_code: str | None = None
    admdvs: str | None = None


class LoginIn(BaseModel):
    username: str
    password: str


class Count(BaseModel):
    key: Any = Field(description="分组值 (规则编号、月份、机构编号…)")
    label: str | None = None
    flags: int
    vola_amt: Decimal


class RunOut(BaseModel):
    run_id: str
    started: str | None = None
    finished: str | None = None
    engine: str | None = None
    kb_content_hash: str | None = None
    status: Literal["ready", "indexing"] = Field("ready", description="indexing: 疑点索引建立中, 计数为空, 稍后再取")
    flags: int | None = Field(None, description="调用者可见范围内的疑点数")
    vola_amt: Decimal | None = Field(None, description="调用者可见范围内的金额合计")
    institutions: int | None = None
    rules_triggered: int | None = None


class RunDetail(RunOut):
    rules: list[dict] = Field(default_factory=list, description="各规则的版本、参数、运行状态 (来自 run.json)")
    dataset_rows: dict[str, int | None] = Field(default_factory=dict)


class Summary(BaseModel):
    run_id: str
    totals: dict[str, Any]
    by_category: list[Count]
    by_severity: list[Count]
    by_rule: list[Count]
    by_institution: list[Count]
    by_region: list[Count]
    by_department: list[Count]
    by_doctor: list[Count]
    by_month: list[Count]
    realtime: dict | None = Field(None, description="实时审核调用日志的提醒/预警/反馈计数 (有调用日志时)")


class FlagItem(BaseModel):
    flag_id: str
    rule_id: str
    category: str
    sev_deg: int
    granularity: str
    psn_no: str | None = Field(None, description="已脱敏")
    mdtrt_id: str | None = Field(None, description="已脱敏")
    setl_id: str | None = Field(None, description="已脱敏")
    fixmedins_code: str
    fixmedins_name: str
    admdvs: str
    dept_code: str
    dr_code: str
    flag_date: str
    vola_amt: Decimal
    message: str


class FlagPageOut(BaseModel):
    items: list[FlagItem]
    total: int
    limit: int
    sort: str
    next_cursor: str | None = Field(None, description="传给 after= 取下一页")
    prev_cursor: str | None = Field(None, description="传给 before= 取上一页")


class FlagDetail(FlagItem):
    rule_version: str
    flag_key: str
    feedetl_sn: list[str]
    mdtrt_ids: list[str]
    evidence: dict[str, Any]
    fee_lines: list[dict]
    encounter_lines: list[dict]
    encounters: list[dict]
    diagnoses: list[dict]
    person: dict | None
    institution: dict | None
    knowledge: list[dict]
    rule: dict | None
    identifiers_masked: bool


class InstitutionItem(BaseModel):
    fixmedins_code: str
    fixmedins_name: str
    admdvs: str
    medins_lv: str
    fixmedins_type: str
    flags: int
    vola_amt: Decimal


class InstitutionProfile(BaseModel):
    institution: dict
    totals: dict[str, Any]
    by_rule: list[Count]
    by_severity: list[Count]
    by_month: list[Count]
    by_department: list[Count]
    by_doctor: list[Count]
