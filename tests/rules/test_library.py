"""The library as a whole: the catalog is complete, every rule documents itself with examples at its
thresholds, every parameter is documented and used, and generated docs are current (portability: tests/engine/test_sql_lint.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fundguard.engine import load_registry
from fundguard.engine.docs import stale_docs
from fundguard.engine.kinds import get_kind

REGISTRY = load_registry()
RULES = list(REGISTRY)
CATALOG = (
    [f"A{i:02d}" for i in range(1, 11)]
    + [f"B{i:02d}" for i in range(1, 12)]
    + [f"C{i:02d}" for i in range(1, 9)]
    + [f"D{i:02d}" for i in range(1, 10)]
    + [f"E{i:02d}" for i in range(1, 5)]
)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"


def _batch_sql(rule) -> str | None:
    try:
        return get_kind(rule.kind).batch_sql(rule)
    except NotImplementedError:
        return None


@pytest.mark.parametrize("rule_id", CATALOG)
def test_catalog_rule_exists(rule_id):
    assert rule_id in REGISTRY.rules, f"目录中的规则 {rule_id} 尚无规则文件"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_violating_and_compliant_examples(rule):
    assert any(ex.expect_flags for ex in rule.examples), f"{rule.id} 没有违规示例"
    assert any(not ex.expect_flags for ex in rule.examples), f"{rule.id} 没有合规示例"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_threshold_pairs(rule):
    tags = {ex.threshold for ex in rule.examples if ex.threshold}
    for tag in tags:
        sides = {bool(ex.expect_flags) for ex in rule.examples if ex.threshold == tag}
        assert sides == {True, False}, f"{rule.id} 阈值 {tag} 需要边界两侧各一个示例 (违规与合规)"
    for name in rule.params:
        if name in tags:
            continue
        assert any(name in ex.params for ex in rule.examples), f"{rule.id} 参数 {name} 没有阈值示例 (threshold: {name})"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_params_documented_and_used(rule):
    sql = _batch_sql(rule)
    for name, param in rule.params.items():
        assert param.doc.strip(), f"{rule.id} 参数 {name} 缺少说明"
        used = (sql is not None and re.search(rf"\${name}\b", sql)) or f"{{{name}}}" in rule.message
        assert used, f"{rule.id} 参数 {name} 未在 SQL 或消息中使用"
    if sql is not None:
        unknown = set(re.findall(r"\$([A-Za-z_]\w*)", sql)) - set(rule.params)
        assert not unknown, f"{rule.id} SQL 使用了未声明的参数 {unknown}"



@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_metadata(rule):
    assert rule.legal_basis.regulation.startswith("《医疗保障基金使用监督管理条例》")
    assert Path(rule.path).parent.name == rule.category
    assert rule.category[0].upper() == rule.id[0]


def test_generated_docs_current():
    stale = stale_docs(REGISTRY, DOCS)
    assert not stale, f"docs/rules 过期, 运行 `fundguard rules docs` 重新生成: {stale}"


@pytest.mark.parametrize(("rule_id", "index", "lines"), [
    ("B05", 0, {"F2": ["F1", "F2"]}),  # the earlier line used up the encounter's limit
    ("B10", 0, {"F2": ["F1", "F2"]}),  # the earlier use in the cycle, at another institution
    ("B04", 0, None),  # both items' lines (checked against the example's own lines below)
    ("B02", 0, {"F2": ["F1", "F2"], "F3": ["F1", "F2", "F3"]}),  # the day's earlier lines used up the limit
    ("B02", 2, {"F2": ["F1", "F2"]}),  # the earlier line of the same hour
    ("B02", 4, {"F2": ["F1", "F2"]}),  # the line it repeats
    ("B11", 1, {"F3": ["F1", "F2", "F3"]}),  # the course's first day (F1) and the previous use (F2)
    ("B11", 5, {"F2": ["F1", "F2"]}),  # the previous use, too soon before
    ("C08", 0, {"F2": ["F1", "F2"]}),  # the course's first supply
    ("C08", 3, {"F1": ["F1"]}),  # its own first day
])
def test_a_flag_rests_on_the_lines_that_make_it_a_violation(rule_id, index, lines, tmp_path):
    # the catalog: a flag carries the fee lines it rests on, not only the line whose amount it counts
    from fundguard.engine.examples import build_example_connection
    from fundguard.engine.run import Auditor

    rule = load_registry().get(rule_id)
    example = rule.examples[index]
    con = build_example_connection(example, tmp_path)
    auditor = Auditor(con, kb_hash="t", kb_manifest={})
    auditor.prepare([rule])
    auditor.run([rule], {rule.id: rule.bind_params(example.params)}, run_id="t")
    got = {key: sorted(sns) for key, sns in con.execute("SELECT flag_key, feedetl_sn FROM _flags").fetchall()}
    if lines is None:  # B04: every line of the example's encounter (one pair, one day)
        every = sorted(r["feedetl_sn"] for r in example.given["feedetl"])
        assert got and all(sns == every for sns in got.values()), got
    else:
        assert got == lines


def test_d06_says_when_a_stay_has_no_check_in_records():
    # "0 天签到不在院" read as "checked and present" for a stay nobody checked
    from fundguard.engine.examples import run_example

    rule = load_registry().get("D06")
    (unchecked,) = run_example(rule, 0).messages
    assert "无签到核验记录" in unchecked and "签到不在院" not in unchecked
    (absent,) = run_example(rule, 5).messages
    assert "2 天签到不在院（标准 2 天）" in absent and "无签到核验记录" not in absent


def test_b02_names_the_line_a_duplicate_repeats():
    from fundguard.engine.examples import run_example

    (message,) = run_example(load_registry().get("B02"), 4).messages
    assert "与同一就诊中明细 F1 的数量、单价、收费时间完全相同" in message


@pytest.mark.parametrize(("index", "unjudged"), [(3, 1), (0, 0)])
def test_a09_counts_the_lines_it_could_not_judge(index, unjudged, tmp_path):
    # a doctor missing from practitioner: no flag, and the run says the line was not checked
    from fundguard.engine.examples import build_example_connection
    from fundguard.engine.run import Auditor, unjudged_warnings

    rule = load_registry().get("A09")
    example = rule.examples[index]
    con = build_example_connection(example, tmp_path)
    auditor = Auditor(con, kb_hash="t", kb_manifest={})
    auditor.prepare([rule])
    result = auditor.run([rule], {rule.id: rule.bind_params(example.params)}, run_id="t")
    (stats,) = result.rules
    assert stats.unjudged == unjudged and "practitioner" in stats.unjudged_for
    warnings = unjudged_warnings(result)
    assert (len(warnings) == 1 and "1 条受限项目明细缺少开单医师职称" in warnings[0]) if unjudged else warnings == []


def _case_labels(sql: str, column: str) -> dict[str, str]:
    """The `WHEN 'code' THEN 'label'` pairs of the CASE on `column` in a rule's SQL."""
    import re

    case = re.search(rf"CASE {re.escape(column)}((?:\s+WHEN '[^']*' THEN '[^']*')+)", sql)
    assert case, f"no CASE {column} in the rule's SQL"
    return dict(re.findall(r"WHEN '([^']*)' THEN '([^']*)'", case.group(1)))


def test_medical_type_and_discharge_labels_in_rule_sql_follow_the_contract():
    # D03/D04/D05 name the medical type / discharge way in words in SQL (rules stay readable files); the
    # real-time twins read the same words from the contract's code lists: the two must not drift apart
    from fundguard.contract.tables import DSCG_WAY, MED_TYPE
    from fundguard.engine import load_registry

    registry = load_registry()
    words = {code: text.split(" ")[0] for code, text in MED_TYPE.items()}
    assert _case_labels(registry.get("D03").sql, "o.med_type") == words
    assert _case_labels(registry.get("D04").sql, "med_type") == words
    discharge = _case_labels(registry.get("D05").sql, "h.prev_dscg_way")
    assert set(discharge) == set(DSCG_WAY)
    assert all(discharge[code].startswith(text.split(" ")[0]) for code, text in DSCG_WAY.items()), discharge
