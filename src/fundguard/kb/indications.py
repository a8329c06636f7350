"""Map the indication text of national knowledge points (batches 12–17) to ICD-10 diagnosis prefixes.

A point maps only when every clause of its text names at least one disease of the table below; the
prefixes are then the union over the clauses. A point with a clause naming no known disease (a
treatment such as 放化疗, a test result, an insurance type) is left unmapped and reported, because a
partial mapping would flag the indications it missed.
"""

from __future__ import annotations

import re

# Disease wording → ICD-10 prefixes. Longer wordings are tried first, so `2型糖尿病` wins over `糖尿病`.
DISEASE_PREFIXES: dict[str, tuple[str, ...]] = {
    "1型糖尿病": ("E10",),
    "2型糖尿病": ("E11",),
    "糖尿病": ("E10", "E11", "E12", "E13", "E14"),
    "原发性高血压": ("I10",),
    "高血压": ("I10", "I11", "I12", "I13", "I15"),
    "肺动脉高压": ("I27",),
    "高磷血症": ("E83.3",),
    "十二指肠溃疡": ("K26",),
    "胃溃疡": ("K25",),
    "消化性溃疡": ("K25", "K26", "K27", "K28"),
    "反流性食管炎": ("K21",),
    "骨质疏松": ("M80", "M81", "M82"),
    "肾性骨营养不良": ("N25.0",),
    "甲状旁腺功能低下": ("E20", "E89.2"),
    "甲状旁腺功能减退": ("E20", "E89.2"),
    "戈谢病": ("E75.2",),
    "尼曼匹克病": ("E75.2",),
    "高血氨": ("E72.2",),
    "肝硬化": ("K74", "K70.3"),
    "肝性脑病": ("K72",),
    "肝昏迷": ("K72",),
    "酪氨酸血症": ("E70.2",),
    "胰腺炎": ("K85", "K86.0", "K86.1"),
    "胆囊胆固醇结石": ("K80",),
    "胆结石": ("K80",),
    "烟酸缺乏": ("E52",),
    "慢性肾脏病": ("N18",),
    "肾功能不全": ("N17", "N18", "N19"),
    "肾功能衰竭": ("N17", "N18", "N19"),
    "血友病": ("D66", "D67"),
    "遗传性血管性水肿": ("D84.1",),
    "免疫性血小板减少症": ("D69.3",),
    "血小板减少症": ("D69",),
    "再生障碍性贫血": ("D61",),
    "低血容量性休克": ("R57.1",),
    "急性冠脉综合征": ("I20.0", "I21", "I22", "I24"),
    "急性心肌梗死": ("I21", "I22"),
    "冠心病": ("I20", "I21", "I22", "I23", "I24", "I25"),
    "心绞痛": ("I20",),
    "心力衰竭": ("I50",),
    "心房颤动": ("I48",),
    "房颤": ("I48",),
    "脑梗死": ("I63",),
    "缺血性脑卒中": ("I63",),
    "缺血性卒中": ("I63",),
    "深静脉血栓": ("I80.2",),
    "急性血栓性脑梗死": ("I63",),
    "血栓栓塞性肺动脉高压": ("I27",),
    "胃食管反流病": ("K21",),
    "骨髓纤维化": ("D47.4", "D75.8"),
    "系统性硬化病": ("M34",),
    "胃食管结合部腺癌": ("C16.0",),
    "肺栓塞": ("I26",),
    "缺血性脑血管疾病": ("I63", "I65", "I66", "I67", "G45"),
    "缺血性心脑血管疾病": ("I20", "I21", "I22", "I23", "I24", "I25", "I63", "I65", "I66", "I67", "G45"),
    "血栓性静脉炎": ("I80",),
    "慢性动脉闭塞": ("I70", "I73", "I74"),
    "视网膜动静脉阻塞": ("H34",),
    "突发性耳聋": ("H91.2",),
    "高甘油三酯血症": ("E78.1",),
    "高胆固醇血症": ("E78.0",),
    "混合型血脂异常": ("E78.2",),
    "银屑病关节炎": ("L40.5", "M07"),
    "银屑病": ("L40",),
    "特应性皮炎": ("L20",),
    "IgA肾病": ("N02.8",),
    "前列腺增生": ("N40",),
    "子宫肌瘤": ("D25",),
    "子宫内膜异位症": ("N80",),
    "烧伤": ("T20", "T21", "T22", "T23", "T24", "T25", "T29", "T30", "T31"),
    "生长激素缺乏": ("E23.0",),
    "肢端肥大症": ("E22.0",),
    "艾滋病": ("B20", "B21", "B22", "B23", "B24", "Z21"),
    "获得性免疫缺陷综合征": ("B20", "B21", "B22", "B23", "B24", "Z21"),
    "流感": ("J09", "J10", "J11"),
    "外阴阴道假丝酵母菌病": ("B37.3",),
    "社区获得性肺炎": ("J12", "J13", "J14", "J15", "J16", "J17", "J18"),
    "医院获得性肺炎": ("J12", "J13", "J14", "J15", "J16", "J17", "J18"),
    "结核": ("A15", "A16", "A17", "A18", "A19"),
    "慢性乙型肝炎": ("B18.0", "B18.1"),
    "乙型肝炎": ("B16", "B18.0", "B18.1"),
    "慢性丙型肝炎": ("B18.2",),
    "丙型肝炎": ("B17.1", "B18.2"),
    "丙肝": ("B17.1", "B18.2"),
    "新型冠状病毒感染": ("U07.1",),
    "COVID-19": ("U07.1",),
    "重症肌无力": ("G70.0",),
    "格林巴利综合征": ("G61.0",),
    "川崎病": ("M30.3",),
    "新生儿败血症": ("P36",),
    "多发性硬化": ("G35",),
    "视神经脊髓炎": ("G36.0",),
    "特发性肺纤维化": ("J84.1",),
    "间质性肺疾病": ("J84",),
    "支气管扩张": ("J47",),
    "慢性阻塞性肺疾病": ("J44",),
    "哮喘": ("J45", "J46"),
    "类风湿关节炎": ("M05", "M06"),
    "强直性脊柱炎": ("M45",),
    "幼年特发性关节炎": ("M08",),
    "系统性红斑狼疮": ("M32",),
    "骨关节炎": ("M15", "M16", "M17", "M18", "M19"),
    "痛风": ("M10",),
    "高尿酸血症": ("E79.0",),
    "克罗恩病": ("K50",),
    "溃疡性结肠炎": ("K51",),
    "阵发性睡眠性血红蛋白尿": ("D59.5",),
    "溶血性尿毒症综合征": ("D59.3",),
    "结节性硬化": ("Q85.1",),
    "神经纤维瘤病": ("Q85.0",),
    "癫痫": ("G40",),
    "帕金森": ("G20",),
    "阿尔茨海默": ("G30",),
    "精神分裂症": ("F20",),
    "乳腺癌": ("C50",),
    "前列腺癌": ("C61",),
    "非小细胞肺癌": ("C34",),
    "小细胞肺癌": ("C34",),
    "肺癌": ("C34",),
    "肝细胞癌": ("C22",),
    "胃-食管结合部腺癌": ("C16.0",),
    "胃腺癌": ("C16",),
    "胃癌": ("C16",),
    "食管癌": ("C15",),
    "结直肠癌": ("C18", "C19", "C20"),
    "结肠癌": ("C18",),
    "直肠癌": ("C20",),
    "胰腺癌": ("C25",),
    "卵巢癌": ("C56",),
    "输卵管癌": ("C57.0",),
    "原发性腹膜癌": ("C48",),
    "宫颈癌": ("C53",),
    "子宫内膜癌": ("C54.1",),
    "肾细胞癌": ("C64",),
    "尿路上皮癌": ("C65", "C66", "C67", "C68"),
    "膀胱癌": ("C67",),
    "黑色素瘤": ("C43",),
    "鼻咽癌": ("C11",),
    "头颈部鳞状细胞癌": ("C00", "C01", "C02", "C03", "C04", "C05", "C06", "C07", "C08", "C09", "C10",
                       "C11", "C12", "C13", "C14", "C30", "C31", "C32"),
    "头颈部鳞癌": ("C00", "C01", "C02", "C03", "C04", "C05", "C06", "C07", "C08", "C09", "C10",
                  "C11", "C12", "C13", "C14", "C30", "C31", "C32"),
    "甲状腺髓样癌": ("C73",),
    "甲状腺癌": ("C73",),
    "多发性骨髓瘤": ("C90.0",),
    "慢性淋巴细胞白血病": ("C91.1",),
    "小淋巴细胞淋巴瘤": ("C83.0",),
    "套细胞淋巴瘤": ("C83.1",),
    "弥漫大B细胞淋巴瘤": ("C83.3",),
    "弥漫大B细胞性非霍奇金淋巴瘤": ("C83.3",),
    "霍奇金淋巴瘤": ("C81",),
    "外周T细胞淋巴瘤": ("C84.4",),
    "华氏巨球蛋白血症": ("C88.0",),
    "急性髓系白血病": ("C92.0",),
    "慢性髓性白血病": ("C92.1",),
    "真性红细胞增多症": ("D45",),
    "癌性胸腹水": ("J91", "R18"),
    "癌性胸腹腔积液": ("J91", "R18"),
    "恶病质": ("R64",),
}

# A clause naming one of these is about something a diagnosis code cannot carry: not mapped.
_NOT_DIAGNOSES = ("保险", "示踪", "冲洗", "接触者", "放化疗")

# Words that look like disease names but are not (targets, genes, courses of disease); blanked before the
# check for unmapped disease names.
_NOT_DISEASE_WORDS = (
    "间变性淋巴瘤激酶", "肿瘤坏死因子", "鼠类肉瘤病毒癌基因", "PD-L1肿瘤", "抗肿瘤", "病毒感染", "疾病进展",
    "疾病活动", "病情", "病灶", "病眼", "病毒", "病原", "病理", "病程", "病史", "疾病", "化疗", "放疗", "治疗",
    "炎性", "肿瘤细胞", "症状", "重症", "发病", "并发症", "出血时",
)
_NOT_DISEASE_PATTERNS = re.compile(r"\((?:HCV|HBV|HIV)\)感染|(?:HCV|HBV|HIV)感染")
# A known disease word absorbs the suffix that often follows it (`烟酸缺乏` + `症`).
_SUFFIX = "(?:症|病变|病(?!毒))?"
# A clause still naming one of these after its known diseases are removed names a disease we cannot map.
_DISEASE_LIKE = re.compile(
    r"癌|瘤|白血病|病|症|炎|感染|综合征|血栓|栓塞|衰竭|不全|梗死|卒中|中毒|休克|出血|损伤|骨折|疼痛|溃疡|结石|"
    r"贫血|硬化|纤维化|增生|肥大|缺乏|水肿|高压"
)

_ORDERED = sorted(DISEASE_PREFIXES, key=len, reverse=True)
_NUMBERED = re.compile(r"(?:^|(?<=[；;：:。\s]))\(?\d{1,2}[\.．、)）]\s*")


def clauses(text: str) -> list[str]:
    """Split a limit text into its indications: numbered items, else `；`-separated parts of the first sentence."""
    text = text.strip()
    parts = _NUMBERED.split(text)
    if len(parts) > 1:
        return [part.strip(" ；;。") for part in parts[1:] if part.strip(" ；;。")]
    first = re.split(r"[。]", text, maxsplit=1)[0]
    return [part.strip() for part in re.split(r"[；;]", first) if part.strip()]


def diseases_in(clause: str) -> tuple[list[str], str]:
    """The disease wordings a clause names (longest first, no overlaps) and the clause without them."""
    found = []
    remaining = clause
    for word in _ORDERED:
        if word in remaining:
            found.append(word)
            remaining = re.sub(re.escape(word) + _SUFFIX, "\0", remaining)
    return found, remaining


def unmapped_disease(remaining: str) -> str | None:
    """A disease-like word left in a clause once its known diseases and known non-diseases are removed."""
    remaining = _NOT_DISEASE_PATTERNS.sub("\0", remaining)
    for word in _NOT_DISEASE_WORDS:
        remaining = remaining.replace(word, "\0")
    match = _DISEASE_LIKE.search(remaining)
    if not match:
        return None
    start = max(0, match.start() - 6)
    return remaining[start:match.end()].replace("\0", "…")


def map_indication(text: str) -> tuple[list[str], str | None]:
    """(sorted ICD-10 prefixes, None) when every clause maps, else ([], reason)."""
    parts = clauses(text)
    if not parts:
        return [], "无适应症文字"
    prefixes: set[str] = set()
    for part in parts:
        if any(marker in part for marker in _NOT_DIAGNOSES):
            return [], f"条款非诊断条件：{part[:40]}"
        words, remaining = diseases_in(part)
        if not words:
            return [], f"条款未识别疾病：{part[:40]}"
        leftover = unmapped_disease(remaining)
        if leftover:
            return [], f"条款含未识别疾病“{leftover}”：{part[:40]}"
        for word in words:
            prefixes.update(DISEASE_PREFIXES[word])
    return sorted(prefixes), None
