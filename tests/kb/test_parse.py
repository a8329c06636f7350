"""Free-text parsers and the indication mapping: numbers only where the text states them."""

from __future__ import annotations

import pytest

from fundguard.kb import parse
from fundguard.kb.indications import clauses, map_indication


@pytest.mark.parametrize(("text", "days"), [
    ("支付不超过30天。", [30]),
    ("总时间不超过90天，评定间隔时间不短于14天。", [90]),
    ("一个疾病过程支付不超过90天。", [90]),
    ("支付不超过一年，每周最多支付一次。", [365]),
    ("单次住院最多支付14天。", [14]),
    ("限以下情况方可支付，且支付不超过12个月：1.HER2阳性", [365]),
    ("诊疗规范：糖化血红蛋白水平反映近2-3个月的平均血糖水平。", []),
])
def test_max_days(text, days):
    assert parse.max_days(text) == days


def test_interval_and_weekly():
    assert parse.min_interval_days("两次评定间隔时间不短于14天。") == 14
    assert parse.min_interval_days("支付不超过30天。") is None
    assert parse.per_period_limit("每周最多支付一次。") == (1, 7)
    assert parse.per_period_limit("支付不超过30天。") is None


@pytest.mark.parametrize(("text", "band"), [
    ("限3-12岁特发性或先天性肺动脉高压患者。", (3, 12)),
    ("限3岁及以上儿童的生长激素缺乏症所致的生长缓慢。", (3, 17)),
    ("限内源性生长激素缺乏(GHD)所引起的儿童生长缓慢。", (None, 17)),
    ("限成人患者。", None),
])
def test_child_age_band(text, band):
    assert parse.child_age_band(text) == band


def test_targets_and_levels():
    assert parse.target_age_band("儿童") == (None, 17)
    assert parse.target_age_band("新生儿") == (None, 0)
    assert parse.target_age_band("参保人年龄超出法定就业年龄限制") == (16, 60)
    assert parse.medins_level("二级") == "2"
    assert parse.medins_level("三级") == "1"
    assert parse.medins_level("需三级医院眼科或二级及以上眼科专科医院医师处方") is None
    assert parse.setting_from_text("住院", "限急诊或住院患者。") == "inpatient_or_emergency"
    assert parse.setting_from_text("住院", "限缺血性心脑血管疾病急性期住院患者") == "inpatient"
    assert parse.sex_from_text("转移性去势抵抗性前列腺癌") == "1"
    assert parse.sex_from_text("乳腺癌") is None


def test_cn_numbers():
    assert [parse.cn_number(t) for t in ("14", "十四", "一", "二十", "x")] == [14, 14, 1, 20, None]


def test_clauses_split_numbered_items():
    text = "限：1.绝经后骨质疏松；2.慢性肾功能衰竭；3.术后甲状旁腺功能低下。"
    assert clauses(text) == ["绝经后骨质疏松", "慢性肾功能衰竭", "术后甲状旁腺功能低下"]


@pytest.mark.parametrize(("text", "prefixes"), [
    ("限2型糖尿病。", ["E11"]),
    ("限原发性高血压。", ["I10"]),
    ("限有十二指肠溃疡、反流性食管炎诊断患者的二线用药。", ["K21", "K26"]),
    ("限：1.成人复发型多发性硬化；2.成人原发进展型多发性硬化。", ["G35"]),
    ("限艾滋病病毒感染。", ["B20", "B21", "B22", "B23", "B24", "Z21"]),
])
def test_indications_that_map(text, prefixes):
    assert map_indication(text) == (prefixes, None)


@pytest.mark.parametrize("text", [
    "限放化疗。",
    "限子宫肌瘤患者或生育保险。",
    # a clause naming one known and one unknown disease is not mapped partially
    "限华法林治疗控制不良或出血高危的非瓣膜性房颤、深静脉血栓形成、下肢缺血症患者。",
    "限头孢菌素耐药或重症感染患者。",
])
def test_indications_that_do_not_map(text):
    prefixes, reason = map_indication(text)
    assert prefixes == [] and reason
