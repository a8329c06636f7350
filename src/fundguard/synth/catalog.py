"""Clinical profiles: the kinds of encounter the base data is made of, checked against the knowledge.

A profile is a diagnosis with its usual fee lines (a cold treated in a clinic, a chronic diabetes refill,
a pneumonia stay…). `compile_profiles` resolves every code through the edition and derives who the
profile may be used for (sex, age band, institution levels, doctor title) from the knowledge tables,
so that the clean base data breaks no rule: an item the edition restricts is only ever used where the
restriction allows it, and a line whose indication the diagnoses do not cover carries `hosp_appr_flag`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fundguard.synth.knowledge import Item, Knowledge

# codes the profiles are written in (all looked up in the edition; a missing code drops its line)
CONSULT = "001102000010000"  # 普通门诊诊查费
GENERAL_FEE = "001102000070000"  # 一般诊疗费 (primary care)
REGISTER = "001101000010000"  # 挂号费
EMERG = "001102000030000"  # 急诊诊查费
INP_CONSULT = "001102000050000"  # 住院诊查费
BED = "001109000010000"  # 普通病房床位费
NURSE = "001201000040000"  # Ⅱ级护理
IV = "001204000060000"  # 静脉输液
IM = "001204000010000"  # 肌肉注射
CBC = "002501010150000"  # 血常规
URINE = "002501020350000"  # 尿常规
GLU = "002503020010000"  # 葡萄糖测定
HBA1C = "002503020030000"  # 糖化血红蛋白
ALT = "002503050050000"  # 丙氨酸氨基转移酶
CT = "002103000010000"  # CT 平扫
US = "002206000010000"  # 彩超
ECG = "003107010010000"  # 常规心电图
ECG_MON = "003107010220000"  # 心电监测
SPO2 = "003107010280000"  # 血氧饱和度监测
SYRINGE = "C0000000000000000001"
INFUSION_SET = "C0000000000000000002"
SALINE = "XB05XAL191B002010100001"
GLUCOSE_INJ = "XB05BAP016B002010100001"
CEFTRIAXONE = "XJ01DDT076B001010100001"
AMOXICILLIN = "XJ01CAA040E001010100001"
CEFUROXIME = "XJ01DCT070A001010100001"
LEVOFLOXACIN = "XJ01MAZ061A001010100001"
IBUPROFEN = "XM01AEB083E003010100001"
OMEPRAZOLE = "XA02BCA080E002010100001"
METFORMIN = "XA10BAE046A001010100001"
DORZAGLIATIN = "XA10BXD360A001010100648"
EXENATIDE = "XA10BJA085B002010106474"
MECOBALAMIN = "XB03BAJ046A001010100001"
AMLODIPINE = "XC08CAA102A001010100001"
NIFEDIPINE = "XC08CAX099A010010100001"
ATORVASTATIN = "XC10AAA067A001010100001"
ASPIRIN = "XB01ACA056A012010100001"
APALUTAMIDE = "XL02BBA326A001010102180"
GASTRODIN = "XN07XXT050B002010100239"
AIDI = "ZC01AAA0042010105549"
ANGONG = "ZA07AAA0061010100166"
CHILD_LUNG = "ZA04CAE0023010100166"
CHILD_PILL = "ZA01BAX0341010100166"
CLOVE = "T000700200"
LNG_IUS = "XG02BAZ061Z007010279543"
DINOPROSTONE = "XG02ADD082D003010179504"
UTERUS_XRAY = "002101030300000"
VAGINAL_SWAB = "002501040140000"
IUD_INSERT = "003112010480000"
PROSTATE_FLUID = "002501040130000"
SEMEN = "002501040040000"
ANTENATAL = "003112010230000"
FETAL_HEART = "003112010260000"
OXYTOCIN = "003112010550000"
OP_ESOPH = "003310010140000"
OP_STRICTURE = "003310010160000"
OP_CHOLECYST = "003310060020000"  # 胆囊切除术
OP_APPENDIX = "003310030220000"  # 阑尾切除术
OP_HERNIA = "003310080010000"  # 腹股沟疝修补术
OP_CESAREAN = "003314000120000"  # 剖宫产术

VISIT_CLASSES = ("11", "13", "14", "41", "51")
STAY_CLASSES = ("21", "52")
LEVELS = ("1", "2", "3", "9")
LEVEL_RANK = {"1": 1, "2": 2, "3": 3, "9": 4}
TITLE_RANK = {"1": 1, "2": 2, "3": 3, "4": 4, "9": 5}


@dataclass
class L:
    """A template fee line: `once` (visits, or a given stay day; -1 = last day) or `daily` in a stay."""

    code: str
    cnt: tuple[int, int] = (1, 1)
    prd: tuple[int, int] | None = None  # drugs in visits: days supplied; cnt is then the daily dose
    daily: bool = False
    day: int = 0
    price_pct: int = 100
    filler: bool = False


@dataclass
class Spec:
    name: str
    med_type: str
    diags: list[tuple[str, str]]
    lines: list[L]
    weight: float = 1.0
    levels: tuple[str, ...] = ("1", "2", "3")
    sexes: tuple[str, ...] = ("1", "2", "9")
    age: tuple[int, int] = (0, 200)
    consult: bool = True  # visits: a consultation fee fitting the institution's level
    los: tuple[int, int] = (0, 0)
    drg: tuple[str, ...] = ()
    target: int = 0  # stays: usual total cost in yuan (filled by the filler lines)
    oprn: list[str] = field(default_factory=list)


def _specs() -> list[Spec]:
    J06 = ("J06.900", "急性上呼吸道感染")
    stay_base = [L(BED, daily=True), L(NURSE, daily=True), L(INP_CONSULT, daily=True)]
    return [
        # ---- general outpatient 普通门诊
        Spec("感冒", "11", [J06], [L(AMOXICILLIN, (3, 3), (3, 5)), L(IBUPROFEN, (2, 2), (3, 5))], 10, age=(15, 200)),
        Spec("急性支气管炎", "11", [("J20.900", "急性支气管炎")], [L(CBC), L(LEVOFLOXACIN, (1, 1), (3, 5))], 5, age=(18, 200)),
        Spec("慢性胃炎", "11", [("K29.700", "慢性胃炎")], [L(OMEPRAZOLE, (2, 2), (5, 7))], 5, age=(15, 200)),
        Spec("腰痛", "11", [("M54.500", "腰痛")], [L(IBUPROFEN, (2, 2), (3, 7)), L(IM)], 4, age=(18, 200)),
        Spec("尿路感染", "11", [("N39.000", "尿路感染")], [L(URINE), L(LEVOFLOXACIN, (1, 1), (3, 5))], 3, age=(18, 200)),
        Spec("高血压复查", "11", [("I10.x00", "高血压")], [L(ECG), L(ALT)], 4, age=(30, 200)),
        Spec("小儿感冒", "11", [J06], [L(CHILD_LUNG, (3, 3), (3, 3)), L(CHILD_PILL, (2, 2), (3, 3))], 12, age=(1, 14)),
        Spec("小儿支气管炎", "11", [("J20.900", "急性支气管炎")], [L(CBC), L(CHILD_LUNG, (3, 3), (2, 3))], 6, age=(1, 14)),
        Spec("阴道炎", "11", [("N76.000", "急性阴道炎")], [L(VAGINAL_SWAB)], 3, sexes=("2",), age=(18, 70)),
        Spec("女性不孕", "11", [("N97.900", "女性不孕症")], [L(UTERUS_XRAY)], 0.5, sexes=("2",), age=(22, 45),
             levels=("1", "2")),
        Spec("放置节育系统", "11", [("Z30.100", "放置宫内节育器")], [L(IUD_INSERT), L(LNG_IUS, (1, 1), (1, 1))],
             0.5, sexes=("2",), age=(22, 45), levels=("1", "2")),
        Spec("前列腺增生", "11", [("N40.x00", "前列腺增生")], [L(US), L(PROSTATE_FLUID)], 3, sexes=("1",), age=(45, 200)),
        Spec("男性不育", "11", [("N46.x00", "男性不育症")], [L(SEMEN)], 0.5, sexes=("1",), age=(22, 50)),
        # ---- emergency 急诊
        Spec("急诊肺炎", "13", [("J18.900", "肺炎")],
             [L(REGISTER), L(EMERG), L(CBC), L(IV), L(SALINE, (1, 1), (1, 1)), L(CEFTRIAXONE, (2, 2), (1, 1)),
              L(INFUSION_SET)], 5, consult=False, levels=("1", "2")),
        Spec("急诊腹痛", "13", [("R10.400", "腹痛")],
             [L(REGISTER), L(EMERG), L(CBC), L(URINE), L(US), L(GLU)], 5, consult=False, levels=("1", "2")),
        Spec("急诊脑梗死", "13", [("I63.900", "脑梗死")],
             [L(REGISTER), L(EMERG), L(CT), L(ANGONG, (1, 1), (1, 1))], 1, consult=False, levels=("1", "2"),
             age=(40, 200)),
        # ---- outpatient chronic disease 门诊慢特病 (monthly refills)
        Spec("糖尿病", "14", [("E11.900", "2型糖尿病")], [L(METFORMIN, (3, 3), (28, 30)), L(HBA1C), L(GLU)], 4, age=(30, 200)),
        Spec("糖尿病周围神经病变", "14", [("E11.400", "2型糖尿病伴神经并发症")],
             [L(METFORMIN, (2, 2), (28, 30)), L(MECOBALAMIN, (3, 3), (28, 30)), L(DORZAGLIATIN, (2, 2), (28, 30))],
             1, age=(30, 200)),
        Spec("糖尿病注射治疗", "14", [("E11.900", "2型糖尿病")],
             [L(EXENATIDE, (2, 2), (28, 30)), L(METFORMIN, (2, 2), (28, 30)), L(HBA1C)], 1, age=(30, 200)),
        Spec("高血压", "14", [("I10.x00", "高血压")], [L(AMLODIPINE, (1, 1), (28, 30)), L(ALT)], 5, age=(30, 200)),
        Spec("高血压合并血脂异常", "14", [("I10.x00", "高血压"), ("E78.500", "高脂血症")],
             [L(NIFEDIPINE, (2, 2), (28, 30)), L(ATORVASTATIN, (1, 1), (28, 30))], 3, age=(30, 200)),
        Spec("冠心病", "14", [("I25.100", "动脉粥样硬化性心脏病")],
             [L(ASPIRIN, (1, 1), (28, 30)), L(ATORVASTATIN, (1, 1), (28, 30)), L(ECG)], 3, age=(40, 200)),
        Spec("前列腺癌内分泌治疗", "14", [("C61.x00", "前列腺恶性肿瘤")], [L(APALUTAMIDE, (1, 1), (28, 30))],
             0.5, sexes=("1",), age=(50, 200), levels=("1", "2")),
        # ---- pharmacy 定点药店
        Spec("药店购退热药", "41", [J06], [L(IBUPROFEN, (2, 2), (3, 5))], 4, consult=False, levels=("9",), age=(15, 200)),
        Spec("药店购抗生素", "41", [J06], [L(AMOXICILLIN, (3, 3), (3, 5))], 3, consult=False, levels=("9",),
             age=(15, 200)),
        Spec("药店购头孢", "41", [("J02.900", "急性咽炎")], [L(CEFUROXIME, (2, 2), (3, 5))], 2, consult=False,
             levels=("9",), age=(15, 200)),
        Spec("药店购饮片", "41", [("K30.x00", "功能性消化不良")], [L(CLOVE, (10, 10), (5, 5))], 1, consult=False,
             levels=("9",), age=(15, 200)),
        # ---- maternity outpatient 生育门诊
        Spec("产前检查", "51", [("Z34.900", "正常妊娠监督")], [L(ANTENATAL), L(US), L(CBC), L(URINE)], 1,
             sexes=("2",), age=(18, 45), levels=("1", "2")),
        Spec("胎心监护", "51", [("Z34.900", "正常妊娠监督")], [L(FETAL_HEART), L(URINE)], 1, sexes=("2",),
             age=(18, 45), levels=("1", "2")),
        # ---- inpatient 住院
        Spec("肺炎住院", "21", [("J18.900", "肺炎")],
             stay_base + [L(IV, daily=True), L(SALINE, (1, 1), (1, 1), daily=True),
                          L(CEFTRIAXONE, (2, 2), (1, 1), daily=True, filler=True), L(INFUSION_SET, daily=True),
                          L(CBC), L(URINE), L(CT), L(ALT, day=1), L(CBC, day=-1)],
             4, los=(5, 10), drg=("ES21", "ES23", "ES25"), target=8000),
        Spec("慢阻肺住院", "21", [("J44.100", "慢性阻塞性肺病伴急性加重")],
             stay_base + [L(SPO2, (24, 24), daily=True), L(SALINE, (1, 1), (1, 1), daily=True),
                          L(CEFTRIAXONE, (2, 2), (1, 1), daily=True, filler=True), L(CBC), L(CT)],
             2, los=(6, 12), drg=("ET21", "ET23"), target=10000, age=(40, 200)),
        Spec("脑梗死住院", "21", [("I63.900", "脑梗死")],
             stay_base + [L(ECG_MON, (24, 24), daily=True), L(GASTRODIN, (2, 2), (1, 1), daily=True),
                          L(GLUCOSE_INJ, (1, 1), (1, 1), daily=True, filler=True), L(CT), L(CBC), L(ALT, day=1)],
             3, los=(8, 14), drg=("BR21", "BR23", "BR25"), target=10000, age=(40, 200), levels=("1", "2")),
        Spec("高血压住院", "21", [("I10.x00", "高血压")],
             stay_base + [L(ECG_MON, (12, 24), daily=True), L(SALINE, (1, 1), (1, 1), daily=True, filler=True),
                          L(CBC), L(ALT), L(US, day=1)],
             2, los=(5, 8), drg=("FT23", "FT25"), target=5500, age=(30, 200)),
        Spec("糖尿病住院", "21", [("E11.900", "2型糖尿病")],
             stay_base + [L(GLU, daily=True), L(IV, daily=True, filler=True), L(CBC), L(US, day=1)],
             2, los=(6, 10), drg=("KT13", "KT15"), target=6500, age=(30, 200)),
        Spec("肺癌化疗", "21", [("C34.900", "肺恶性肿瘤"), ("Z51.100", "为肿瘤化学治疗疗程")],
             stay_base + [L(AIDI, (4, 6), (1, 1), daily=True, filler=True), L(SALINE, (1, 1), (1, 1), daily=True),
                          L(CBC), L(ALT), L(CT)],
             2, los=(4, 7), drg=("RE19",), target=8500, age=(35, 200), levels=("1", "2")),
        Spec("食管癌手术", "21", [("C15.900", "食管恶性肿瘤")],
             stay_base + [L(OP_ESOPH, day=1), L(OP_STRICTURE, day=1, price_pct=50),
                          L(CEFTRIAXONE, (2, 2), (1, 1), daily=True), L(AIDI, (4, 6), (1, 1), daily=True, filler=True),
                          L(INFUSION_SET, daily=True), L(CBC), L(CT), L(ALT, day=2)],
             0.7, los=(12, 18), drg=("GB21", "GB25"), target=40000, age=(40, 200), levels=("1",),
             oprn=["42.4100x001", "42.8500"]),
        Spec("胆囊切除", "21", [("K80.100", "胆囊结石伴胆囊炎")],
             stay_base + [L(OP_CHOLECYST, day=1), L(CEFTRIAXONE, (2, 2), (1, 1), daily=True, filler=True),
                          L(SALINE, (1, 1), (1, 1), daily=True), L(CBC), L(US), L(ALT, day=2)],
             1.5, los=(5, 8), drg=("HC35",), target=12500, age=(25, 200), levels=("1", "2"), oprn=["51.2200"]),
        Spec("阑尾切除", "21", [("K35.800", "急性阑尾炎")],
             stay_base + [L(OP_APPENDIX, day=1), L(CEFTRIAXONE, (2, 2), (1, 1), daily=True, filler=True), L(CBC),
                          L(US)],
             1.5, los=(4, 7), target=7000, age=(10, 200), oprn=["47.0900"]),
        Spec("腹股沟疝修补", "21", [("K40.900", "腹股沟疝")],
             stay_base + [L(OP_HERNIA, day=1), L(SALINE, (1, 1), (1, 1), daily=True, filler=True), L(CBC)],
             1, los=(3, 5), target=6000, age=(18, 200), oprn=["53.0000"]),
        # ---- maternity inpatient 生育住院
        Spec("阴道分娩", "52", [("O80.000", "单胎顺产")],
             stay_base + [L(FETAL_HEART, daily=True), L(SALINE, (1, 1), (1, 1), daily=True, filler=True),
                          L(OXYTOCIN), L(DINOPROSTONE, (1, 1), (1, 1)), L(CBC)],
             1, los=(2, 4), drg=("OC19",), target=5500, sexes=("2",), age=(20, 42), levels=("1", "2")),
        Spec("剖宫产", "52", [("O82.000", "剖宫产术分娩")],
             stay_base + [L(OP_CESAREAN, day=1), L(CEFTRIAXONE, (2, 2), (1, 1), daily=True, filler=True),
                          L(FETAL_HEART), L(CBC)],
             0.6, los=(4, 7), drg=("OB29",), target=9500, sexes=("2",), age=(20, 42), levels=("1", "2"),
             oprn=["74.1x00"]),
    ]


@dataclass
class Profile:
    name: str
    med_type: str
    diags: list[tuple[str, str]]
    lines: list[tuple[Item, L, bool]]  # item, template, hosp_appr_flag
    weight: float
    levels: set[str]
    sexes: set[str]
    age: tuple[int, int]
    max_title: int  # doctor title rank required (5 = any)
    los: tuple[int, int]
    drg: list[str]
    target: int
    oprn: list[str]


class ProfileError(ValueError):
    pass


def _consult_variants(spec: Spec) -> list[Spec]:
    if not spec.consult or spec.med_type in STAY_CLASSES:
        return [spec]
    out = []
    hosp = tuple(lv for lv in spec.levels if lv in ("1", "2"))
    prim = tuple(lv for lv in spec.levels if lv == "3")
    if hosp:
        out.append(Spec(**{**spec.__dict__, "levels": hosp, "lines": [L(REGISTER), L(CONSULT)] + spec.lines}))
    if prim:
        out.append(Spec(**{**spec.__dict__, "levels": prim, "lines": [L(REGISTER), L(GENERAL_FEE)] + spec.lines}))
    return out


def _compile(spec: Spec, kn: Knowledge) -> Profile | None:
    inpatient = spec.med_type in STAY_CLASSES
    sexes = set(spec.sexes)
    lo, hi = spec.age
    levels = set(spec.levels)
    max_title = 5
    for code, _ in spec.diags:
        genders = kn.diag_gender(code)
        if genders:
            sexes &= genders
        a, b = kn.diag_age(code)
        lo, hi = max(lo, a), min(hi, b)
    lines: list[tuple[Item, L, bool]] = []
    for tl in spec.lines:
        if not kn.has(tl.code):
            continue
        item = kn.item(tl.code)
        if item.setting == "inpatient" and not inpatient:
            continue
        if item.setting == "inpatient_or_emergency" and not (inpatient or spec.med_type == "13"):
            continue
        if item.insutype and not (item.insutype == "510" and spec.med_type in ("51", "52")):
            continue
        if item.cycle and not (spec.med_type == "14" and item.cycle[0] >= tl.cnt[1] and item.cycle[1] <= 27):
            continue
        if item.course and (not inpatient or not item.is_drug or item.course[1]):
            continue
        if any(kn.conflicts(item.code, other.code) for other, _, _ in lines):
            continue
        if item.is_drug and tl.prd is None:
            raise ProfileError(f"{spec.name}: drug {item.code} without supply days")
        if item.gend:
            sexes &= {item.gend}
        if item.min_age is not None:
            lo = max(lo, item.min_age)
        if item.max_age is not None:
            hi = min(hi, item.max_age)
        if item.max_lv:
            levels = {lv for lv in levels if LEVEL_RANK[lv] <= LEVEL_RANK[item.max_lv]}
        if item.max_profttl:
            max_title = min(max_title, TITLE_RANK[item.max_profttl])
        approved = bool(item.indications) and not any(
            d.startswith(p) for d, _ in spec.diags for p in item.indications
        )
        lines.append((item, tl, approved))
    if not lines or not sexes or lo > hi or not levels:
        return None
    return Profile(spec.name, spec.med_type, spec.diags, lines, spec.weight, levels, sexes, (lo, hi), max_title,
                   spec.los, [d for d in spec.drg if d in kn.drg], spec.target, spec.oprn)


def compile_profiles(kn: Knowledge) -> list[Profile]:
    out = []
    for spec in _specs():
        for variant in _consult_variants(spec):
            prof = _compile(variant, kn)
            if prof is not None:
                out.append(prof)
    return out


MAX_VISIT_PRD = {"14": 30}


class Compiled:
    """Profiles as flat numpy arrays for vectorised expansion (one row per template line)."""

    def __init__(self, profiles: list[Profile]):
        self.profiles = profiles
        items: dict[str, int] = {}
        self.items: list[Item] = []
        rows = []
        self.start = np.zeros(len(profiles), np.int64)
        self.length = np.zeros(len(profiles), np.int64)
        for p_idx, prof in enumerate(profiles):
            self.start[p_idx] = len(rows)
            inpatient = prof.med_type in STAY_CLASSES
            for item, tl, approved in prof.lines:
                if item.code not in items:
                    items[item.code] = len(self.items)
                    self.items.append(item)
                cnt_lo, cnt_hi = tl.cnt
                per_unit = [v for k, v in item.limits.items() if k in ("hour", "day", "mdtrt")]
                if per_unit:
                    cnt_hi = min(cnt_hi, min(per_unit))
                    cnt_lo = min(cnt_lo, cnt_hi)
                if item.is_drug and item.max_daily_cnt is not None:
                    cnt_hi = min(cnt_hi, int(item.max_daily_cnt))
                    cnt_lo = min(cnt_lo, cnt_hi)
                prd_lo, prd_hi = tl.prd or (0, 0)
                if item.is_drug and not inpatient:
                    cap = min(MAX_VISIT_PRD.get(prof.med_type, 7), item.max_prd_days or 10**6)
                    prd_hi = min(prd_hi, cap)
                    prd_lo = min(prd_lo, prd_hi)
                max_days = 0
                daily = tl.daily and inpatient
                if daily and "mdtrt" in item.limits:
                    daily = False
                if item.course and daily:
                    max_days = max(1, item.course[0] - 2)
                rows.append((items[item.code], int(daily), tl.day, cnt_lo, cnt_hi, prd_lo, prd_hi,
                             tl.price_pct, int(approved), max_days, int(tl.filler), p_idx))
            self.length[p_idx] = len(rows) - self.start[p_idx]
        arr = np.array(rows, dtype=np.int64).reshape(-1, 12)
        (self.t_item, self.t_daily, self.t_day, self.t_cnt_lo, self.t_cnt_hi, self.t_prd_lo, self.t_prd_hi,
         self.t_price_pct, self.t_appr, self.t_max_days, self.t_filler, self.t_profile) = arr.T
        self.item_codes = [i.code for i in self.items]
        self.item_types = [i.chrgitm_type for i in self.items]
        self.item_price = np.array([int(i.price * 100) for i in self.items], np.int64)
        self.item_is_drug = np.array([i.is_drug for i in self.items], bool)
        self.item_trac = [i.trac_prefix or "" for i in self.items]
        self.t_price = self.item_price[self.t_item] * self.t_price_pct // 100
        self.t_is_drug = self.item_is_drug[self.t_item]
        self.t_rank = np.arange(len(self.t_item)) - self.start[self.t_profile]
        self.med_type = np.array([p.med_type for p in profiles])
        self.weight = np.array([p.weight for p in profiles], float)
        self.age_lo = np.array([p.age[0] for p in profiles], np.int64)
        self.age_hi = np.array([p.age[1] for p in profiles], np.int64)
        self.sex_ok = {s: np.array([s in p.sexes for p in profiles]) for s in ("1", "2", "9")}
        self.lv_ok = {lv: np.array([lv in p.levels for p in profiles]) for lv in LEVELS}
        self.senior = np.array([p.max_title < 5 for p in profiles])
        self.los_lo = np.array([p.los[0] for p in profiles], np.int64)
        self.los_hi = np.array([p.los[1] for p in profiles], np.int64)
        self.target = np.array([p.target * 100 for p in profiles], np.int64)
