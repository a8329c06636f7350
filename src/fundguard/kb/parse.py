"""Parsers for the national knowledge files' free text: days, intervals, ages, sexes, institution levels.

Each parser returns None when the text does not state the number plainly; the loader then lists the
text in the unparsed report instead of guessing.
"""

from __future__ import annotations

import re

CHILD_MAX_AGE = 17
WORKING_AGE = (16, 60)

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def cn_number(text: str) -> int | None:
    """`14` → 14, `十四` → 14, `一` → 1, `二十` → 20; None for anything else."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _CN_DIGITS for ch in text):
        return None
    if "十" not in text:
        return _CN_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


_NUM = r"(\d+|[一二两三四五六七八九十]+)"
_DURATION = re.compile(_NUM + r"\s*(天|日|周|个月|月|年)")
_UNIT_DAYS = {"天": 1, "日": 1, "周": 7, "个月": 30, "月": 30, "年": 365}


def duration_days(text: str) -> int | None:
    """`14天` → 14, `12个月` → 365 (a year), `一年` → 365, `2周` → 14."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        return None
    number = cn_number(match.group(1))
    if number is None:
        return None
    unit = match.group(2)
    if unit in {"个月", "月"} and number % 12 == 0:
        return 365 * number // 12
    return number * _UNIT_DAYS[unit]


_MAX_DAYS = re.compile(
    r"(?:总时间|支付|使用|最多支付|单次住院最多支付|单次最多支付|单次住院支付)?"
    r"(?:不超过|不得超过|最多支付|最多|最长)" + r"\s*" + _NUM + r"\s*(天|日|周|个月|月|年)"
)
_MIN_INTERVAL = re.compile(r"间隔(?:时间)?(?:不短于|不少于|大于等于|≥)\s*" + _NUM + r"\s*(天|日|周)")
_WEEKLY = re.compile(r"每(周|日|天|月)最多(?:支付)?" + _NUM + r"次")


def max_days(text: str) -> list[int]:
    """Every payment-course limit the text states (`支付不超过30天`, `单次住院最多支付14天`), in days."""
    found = []
    for match in _MAX_DAYS.finditer(text):
        days = duration_days(match.group(1) + match.group(2))
        if days is not None:
            found.append(days)
    return found


def min_interval_days(text: str) -> int | None:
    """`评定间隔时间不短于14天` → 14."""
    match = _MIN_INTERVAL.search(text)
    if not match:
        return None
    return duration_days(match.group(1) + match.group(2))


def per_period_limit(text: str) -> tuple[int, int] | None:
    """`每周最多支付一次` → (1 time, 7 days)."""
    match = _WEEKLY.search(text)
    if not match:
        return None
    count = cn_number(match.group(2))
    if count is None:
        return None
    return count, {"周": 7, "日": 1, "天": 1, "月": 30}[match.group(1)]


_AGE_RANGE = re.compile(r"(\d+)\s*[-—–～~至到]\s*(\d+)\s*岁")
_AGE_MIN = re.compile(r"(\d+)\s*岁(?:及|或)?以上")
_AGE_LESS = re.compile(r"(\d+)\s*岁(?:以下|以内)")


def child_age_band(text: str, child_max_age: int = CHILD_MAX_AGE) -> tuple[int | None, int] | None:
    """Age band for a children's drug from its limit text: `限3-12岁…` → (3, 12), `3岁及以上儿童` → (3, 17),
    `…儿童…` → (None, 17); None when the text names no children and no ages."""
    match = _AGE_RANGE.search(text)
    if match:
        return int(match.group(1)), int(match.group(2))
    low = _AGE_MIN.search(text)
    less = _AGE_LESS.search(text)
    if low or less:
        max_age = int(less.group(1)) - 1 if less else child_max_age
        return (int(low.group(1)) if low else None), max_age
    if "儿童" in text or "小儿" in text:
        return None, child_max_age
    return None


def target_age_band(target: str, child_max_age: int = CHILD_MAX_AGE,
                    working_age: tuple[int, int] = WORKING_AGE) -> tuple[int | None, int | None] | None:
    """The age band a published target group names (`儿童`, `婴幼儿`, `新生儿`, `法定就业年龄`)."""
    target = target.strip()
    if target == "儿童":
        return None, child_max_age
    if target == "婴幼儿":
        return None, 2
    if target == "新生儿":
        return None, 0
    if "法定就业年龄" in target:
        return working_age
    return None


SEX_CODES = {"男": "1", "女": "2"}

_MALE_WORDS = ("前列腺", "睾丸", "阴茎", "勃起", "精子", "男性")
_FEMALE_WORDS = ("子宫", "卵巢", "阴道", "妊娠", "月经", "宫颈", "绝经", "女性", "孕", "产后", "乳汁", "输卵管")


def sex_from_text(text: str) -> str | None:
    """Sex code when the text names organs or conditions of one sex only (and none of the other)."""
    male = any(word in text for word in _MALE_WORDS)
    female = any(word in text for word in _FEMALE_WORDS)
    if male and not female:
        return "1"
    if female and not male:
        return "2"
    return None


def medins_level(text: str) -> str | None:
    """Contract level code from `二级`/`三级` (as a 限定值域) or from a sentence naming exactly one of them."""
    levels = set(re.findall(r"([二三])级", text))
    if len(levels) != 1:
        return None
    return {"三": "1", "二": "2"}[levels.pop()]


def setting_from_text(value: str, text: str) -> str | None:
    """`住院` → inpatient; `inpatient_or_emergency` when the description also admits emergency patients."""
    if "住院" not in value and "住院" not in text:
        return None
    if re.search(r"急诊|急救|抢救", text):
        return "inpatient_or_emergency"
    return "inpatient"
