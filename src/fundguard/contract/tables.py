"""The data contract as code: every input table, column, type, code dictionary, key and reference.

This module is the one source of truth for what FundGuard reads; `docs/data-contract.md`, the loader's
checks and the test factories are all derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ColumnType(StrEnum):
    STR = "str"
    CODE = "code"
    INT = "int"
    DECIMAL = "decimal"
    DATE = "date"
    TIME = "time"
    BOOL = "bool"

    @property
    def duckdb(self) -> str:
        return _DUCKDB_TYPES[self]


_DUCKDB_TYPES = {
    ColumnType.STR: "VARCHAR",
    ColumnType.CODE: "VARCHAR",
    ColumnType.INT: "INTEGER",
    ColumnType.DECIMAL: "DECIMAL(16,2)",
    ColumnType.DATE: "DATE",
    ColumnType.TIME: "TIMESTAMP",
    ColumnType.BOOL: "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    meaning: str
    nullable: bool = False
    codes: dict[str, str] | None = None
    #: a column that may be absent from the file (filled with NULL / its default)
    optional: bool = False
    #: DuckDB type override (e.g. more decimals for quantities and unit prices)
    sql_type: str | None = None
    #: minimum allowed value for numeric columns (None: no check)
    min_value: float | None = None

    @property
    def duckdb_type(self) -> str:
        return self.sql_type or self.type.duckdb


@dataclass(frozen=True)
class Reference:
    """`columns` of this table must exist as `target_columns` of `target` (NULLs are not checked)."""

    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    meaning: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    references: tuple[Reference, ...] = ()
    optional: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name}.{name}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


GEND = {"1": "男 male", "2": "女 female", "9": "未说明 unspecified"}
INSUTYPE = {
    "310": "职工基本医疗保险 employee basic",
    "390": "城乡居民基本医疗保险 resident basic",
    "320": "公务员医疗补助 civil-servant subsidy",
    "510": "生育保险 maternity",
}
FIXMEDINS_TYPE = {"1": "定点医疗机构 medical institution", "2": "定点零售药店 retail pharmacy"}
MEDINS_LV = {"1": "三级 tertiary", "2": "二级 secondary", "3": "一级 primary", "9": "未定级 unrated"}
PROFTTL = {
    "1": "正高级 senior",
    "2": "副高级 associate senior",
    "3": "中级 attending",
    "4": "初级 resident",
    "9": "其他 other",
}
MED_TYPE = {
    "11": "普通门诊 general outpatient",
    "13": "急诊 emergency",
    "14": "门诊慢特病 outpatient chronic/special disease",
    "21": "住院 inpatient",
    "41": "定点药店购药 pharmacy purchase",
    "51": "生育门诊 maternity outpatient",
    "52": "生育住院 maternity inpatient",
}
DSCG_WAY = {
    "1": "医嘱离院 on medical advice",
    "2": "医嘱转院 transfer to another hospital",
    "3": "医嘱转社区 transfer to community",
    "4": "非医嘱离院 against advice",
    "5": "死亡 death",
    "9": "其他 other",
}
MED_CHRGITM_TYPE = {
    "01": "床位费 bed",
    "02": "诊察费 consultation",
    "03": "检查费 examination",
    "04": "化验费 lab test",
    "05": "治疗费 treatment",
    "06": "手术费 surgery",
    "07": "护理费 nursing",
    "08": "卫生材料费 medical consumables",
    "09": "西药费 western medicine",
    "10": "中药饮片费 Chinese herbal pieces",
    "11": "中成药费 Chinese patent medicine",
    "12": "一般诊疗费 general diagnosis and treatment",
    "13": "挂号费 registration",
    "14": "其他费 other",
}
CHECKIN_RESULT = {"1": "在院核验通过 present", "2": "不在院 absent", "3": "人脸不符 face mismatch"}

QTY = "DECIMAL(16,4)"
UNIT_PRICE = "DECIMAL(16,4)"

PSN = Table(
    name="psn",
    title="参保人",
    meaning="insured persons",
    key=("psn_no",),
    columns=(
        Column("psn_no", ColumnType.STR, "person number 人员编号"),
        Column("gend", ColumnType.CODE, "sex (GB/T 2261.1)", codes=GEND),
        Column("brdy", ColumnType.DATE, "birthday 出生日期"),
        Column("insutype", ColumnType.CODE, "insurance type 险种类型", codes=INSUTYPE),
        Column("insu_admdvs", ColumnType.STR, "insured region code 参保地医保区划 (6 digits)"),
        Column("death_date", ColumnType.DATE, "date of death 死亡日期", nullable=True, optional=True),
    ),
    notes=(
        "Identity numbers (`certno`, `idcard`, `mdtrt_cert_no`, `身份证号`, `证件号码`…) and names (`psn_name`, "
        "`姓名`…) are not part of the contract: if a source has them, the loader replaces identity numbers by a "
        "SHA-256 salted with `FUNDGUARD_ID_SALT` (`certno_hash`), or drops them when that salt is not set, "
        "and drops names. A column outside the contract whose first 1,000 values include one in the form of "
        "an ID number (18 characters, or the old 15 digits) is an identity number column whatever its name. "
        "FundGuard never stores, shows or writes to a rejects file a raw identity number.",
    ),
)

FIXMEDINS = Table(
    name="fixmedins",
    title="定点医药机构",
    meaning="designated institutions",
    key=("fixmedins_code",),
    columns=(
        Column("fixmedins_code", ColumnType.STR, "institution code 定点医药机构编号"),
        Column("fixmedins_name", ColumnType.STR, "name 机构名称"),
        Column("fixmedins_type", ColumnType.CODE, "institution type", codes=FIXMEDINS_TYPE),
        Column("medins_lv", ColumnType.CODE, "hospital level (pharmacies 9)", codes=MEDINS_LV),
        Column("admdvs", ColumnType.STR, "region code of the institution 医保区划"),
        Column("public_flag", ColumnType.BOOL, "public 公立 (true) or private/social 社会办医 (false)"),
    ),
)

PRACTITIONER = Table(
    name="practitioner",
    title="医保医师/药师",
    meaning="insurance physicians and pharmacists",
    optional=True,
    key=("prac_psn_code",),
    columns=(
        Column("prac_psn_code", ColumnType.STR, "national practitioner code 医保医师编码"),
        Column("fixmedins_code", ColumnType.STR, "institution"),
        Column("profttl", ColumnType.CODE, "professional title 职称", codes=PROFTTL),
        Column("dept_code", ColumnType.STR, "main department 科室"),
    ),
    references=(Reference(("fixmedins_code",), "fixmedins", ("fixmedins_code",)),),
)

MDTRT = Table(
    name="mdtrt",
    title="就诊及结算",
    meaning="encounters with their settlement; one row per settled encounter",
    key=("mdtrt_id",),
    unique=(("setl_id",),),
    columns=(
        Column("mdtrt_id", ColumnType.STR, "encounter id 就诊ID"),
        Column("setl_id", ColumnType.STR, "settlement id 结算ID"),
        Column("psn_no", ColumnType.STR, "person"),
        Column("fixmedins_code", ColumnType.STR, "institution"),
        Column("med_type", ColumnType.CODE, "medical type 医疗类别", codes=MED_TYPE),
        Column("begntime", ColumnType.TIME, "admission / visit start 开始时间"),
        Column("endtime", ColumnType.TIME, "discharge / visit end 结束时间"),
        Column("dscg_way", ColumnType.CODE, "discharge way 离院方式", nullable=True, codes=DSCG_WAY),
        Column("dept_code", ColumnType.STR, "admitting/visit department 科室"),
        Column("atddr_no", ColumnType.STR, "attending doctor (practitioner code) 主诊医师"),
        Column("medfee_sumamt", ColumnType.DECIMAL, "total medical cost 医疗费总额"),
        Column("hifp_pay", ColumnType.DECIMAL, "pooled fund paid 统筹基金支付"),
        Column("acct_pay", ColumnType.DECIMAL, "personal account paid 个人账户支付"),
        Column("psn_cash_pay", ColumnType.DECIMAL, "cash paid by the person 个人现金支付"),
        Column("setl_time", ColumnType.TIME, "settlement time 结算时间"),
        Column("insu_admdvs", ColumnType.STR, "insured region 参保地医保区划"),
        Column("drg_code", ColumnType.STR, "DRG group (inpatient only)", nullable=True, optional=True),
        Column("dip_code", ColumnType.STR, "DIP disease group", nullable=True, optional=True),
    ),
    references=(
        Reference(("psn_no",), "psn", ("psn_no",)),
        Reference(("fixmedins_code",), "fixmedins", ("fixmedins_code",)),
    ),
    notes=(
        "Invariant: `hifp_pay + acct_pay + psn_cash_pay` equals `medfee_sumamt` within 0.01 "
        "(extra fund columns ending in `_pay`, when present, enter the sum).",
        "`endtime` is not before `begntime`.",
    ),
)

DIAG = Table(
    name="diag",
    title="诊断",
    meaning="diagnoses",
    key=("mdtrt_id", "diag_srt_no"),
    columns=(
        Column("mdtrt_id", ColumnType.STR, "encounter"),
        Column("diag_srt_no", ColumnType.INT, "order; 1 with maindiag_flag = 1 is the main diagnosis", min_value=1),
        Column("maindiag_flag", ColumnType.BOOL, "main diagnosis 主诊断"),
        Column("diag_code", ColumnType.STR, "ICD-10 national insurance edition code 医保版, e.g. N40.x00"),
        Column("diag_name", ColumnType.STR, "name 诊断名称"),
    ),
    references=(Reference(("mdtrt_id",), "mdtrt", ("mdtrt_id",)),),
)

OPRN = Table(
    name="oprn",
    title="手术操作",
    meaning="operations and procedures",
    optional=True,
    key=("mdtrt_id", "oprn_srt_no"),
    columns=(
        Column("mdtrt_id", ColumnType.STR, "encounter"),
        Column("oprn_srt_no", ColumnType.INT, "order, 1 main", min_value=1),
        Column("oprn_oprt_code", ColumnType.STR, "ICD-9-CM-3 national insurance edition code"),
        Column("oprn_date", ColumnType.TIME, "when"),
    ),
    references=(Reference(("mdtrt_id",), "mdtrt", ("mdtrt_id",)),),
)

FEEDETL = Table(
    name="feedetl",
    title="费用明细",
    meaning="fee detail lines",
    key=("feedetl_sn",),
    columns=(
        Column("feedetl_sn", ColumnType.STR, "detail serial number 费用明细流水号"),
        Column("mdtrt_id", ColumnType.STR, "encounter"),
        Column("psn_no", ColumnType.STR, "person (must agree with the encounter)"),
        Column("fixmedins_code", ColumnType.STR, "institution (must agree with the encounter)"),
        Column("fee_ocur_time", ColumnType.TIME, "when the fee occurred 费用发生时间"),
        Column("hilist_code", ColumnType.STR, "national catalog code 医保目录编码"),
        Column("medins_list_codg", ColumnType.STR, "the institution's own item code 医药机构目录编码"),
        Column("med_chrgitm_type", ColumnType.CODE, "charge item type 医疗收费项目类别", codes=MED_CHRGITM_TYPE),
        Column("cnt", ColumnType.DECIMAL, "quantity (negative only on refund lines)", sql_type=QTY),
        Column("pric", ColumnType.DECIMAL, "unit price 单价", sql_type=UNIT_PRICE, min_value=0),
        Column("det_item_fee_sumamt", ColumnType.DECIMAL, "line total = cnt × pric (within 0.01)"),
        Column("bilg_dept_codg", ColumnType.STR, "ordering department 开单科室"),
        Column("bilg_dr_codg", ColumnType.STR, "ordering doctor (practitioner code) 开单医生"),
        Column("prd_days", ColumnType.INT, "days supplied for drugs 周期天数", nullable=True, min_value=0),
        Column("refd_flag", ColumnType.BOOL, "refund line 退费标志"),
        Column(
            "orig_feedetl_sn",
            ColumnType.STR,
            "for a refund line, the line it refunds 原费用明细流水号",
            nullable=True,
            optional=True,
        ),
        Column("hosp_appr_flag", ColumnType.BOOL, "approved by the hospital for a restricted item 医院审批标志"),
    ),
    references=(
        Reference(("mdtrt_id",), "mdtrt", ("mdtrt_id",)),
        Reference(("psn_no",), "psn", ("psn_no",)),
        Reference(("fixmedins_code",), "fixmedins", ("fixmedins_code",)),
        Reference(("orig_feedetl_sn",), "feedetl", ("feedetl_sn",)),
    ),
    notes=(
        "`psn_no` and `fixmedins_code` must agree with the line's encounter.",
        "`cnt` is negative only on refund lines (`refd_flag` = true); refund lines have `cnt` < 0.",
    ),
)

DRUG_TRAC = Table(
    name="drug_trac",
    title="药品追溯码",
    meaning="drug traceability codes scanned at dispensing",
    optional=True,
    key=("feedetl_sn", "drug_trac_codg"),
    columns=(
        Column("feedetl_sn", ColumnType.STR, "the fee line that sold the box"),
        Column("drug_trac_codg", ColumnType.STR, "20-digit traceability code; first 7 digits identify the product"),
    ),
    references=(Reference(("feedetl_sn",), "feedetl", ("feedetl_sn",)),),
)

CHECKIN = Table(
    name="checkin",
    title="住院患者签到",
    meaning="inpatient presence checks",
    optional=True,
    key=("mdtrt_id", "chk_time"),
    columns=(
        Column("mdtrt_id", ColumnType.STR, "inpatient encounter"),
        Column("chk_time", ColumnType.TIME, "when the check was attempted"),
        Column("result", ColumnType.CODE, "check result", codes=CHECKIN_RESULT),
    ),
    references=(Reference(("mdtrt_id",), "mdtrt", ("mdtrt_id",)),),
)

#: Tables in load order (parents before children).
TABLES: tuple[Table, ...] = (PSN, FIXMEDINS, PRACTITIONER, MDTRT, DIAG, OPRN, FEEDETL, DRUG_TRAC, CHECKIN)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}

#: Source columns that identify a person (names compared trimmed and lower-case): identity numbers are
#: hashed at load (dropped when no salt is set), names are dropped. `mdtrt_cert_no` (就诊凭证编号, national
#: platform) holds the ID number when the credential is the ID card.
IDENTITY_COLUMNS_HASHED = (
    "certno", "idcard", "id_card", "cert_no", "psn_cert_no", "psn_certno", "mdtrt_cert_no", "sfzh", "sfzhm", "zjhm",
    "身份证", "身份证号", "身份证号码", "公民身份号码", "证件号", "证件号码", "就诊凭证编号",
)
IDENTITY_COLUMNS_DROPPED = (
    "psn_name", "name", "xm", "patient_name", "patn_name", "hzxm", "姓名", "患者姓名", "人员姓名", "参保人姓名", "病人姓名",
)
#: a column whose (Chinese) name contains one of these is taken for one of the kind too: `患者身份证号码`,
#: `证件号码(18位)`, `参保人姓名`
_HASHED_NAME_PARTS = ("身份证", "证件号", "身份号码", "就诊凭证")
_DROPPED_NAME_PARTS = ("姓名",)


def identity_kind(column_name: str) -> str | None:
    """"hash" for a column named like an identity number, "drop" for a person's name, else None.

    Only for columns outside the contract: the loader also takes a column for an identity number by its
    content (`fundguard.contract.masking.looks_like_id_number`)."""
    name = column_name.strip().lower()
    if name in IDENTITY_COLUMNS_HASHED or any(part in name for part in _HASHED_NAME_PARTS):
        return "hash"
    if name in IDENTITY_COLUMNS_DROPPED or any(part in name for part in _DROPPED_NAME_PARTS):
        return "drop"
    return None


def table(name: str) -> Table:
    return TABLES_BY_NAME[name]
