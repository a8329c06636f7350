"""The default edition holds the real national entries the issue pins, loaded by the loaders."""

from __future__ import annotations

import csv

THRESHOLDS = {
    "kb_item_gender": 6_800,
    "kb_item_age": 4_400,
    "kb_bundle": 900,
    "kb_item_limit": 69,
    "kb_national_rule": 79,
}


def rows(con, sql, *params):
    return con.execute(sql, list(params)).fetchall()


def test_row_counts_meet_the_issue(edition):
    counts = edition.manifest["row_counts"]
    for table, minimum in THRESHOLDS.items():
        assert counts[table] >= minimum, table


def test_national_rows_alone(kb_con):
    # 6,472 drug codes (plus the 2026 revision) and 390 service items, all from the national files.
    gender = rows(kb_con, "SELECT count(*) FROM kb_item_gender WHERE source LIKE 'nhsa:%'")[0][0]
    assert gender >= 6_472 + 390
    assert rows(kb_con, "SELECT count(*) FROM kb_bundle WHERE source = 'nhsa:batch7_item_duplicate.csv'")[0][0] == 900
    limit = rows(kb_con, "SELECT count(*) FROM kb_item_limit WHERE source = 'nhsa:batch8_item_frequency.csv'")
    assert limit[0][0] == 67  # the sheet's 69 lines end with a 合计 row and a note row


def test_levonorgestrel_iud_is_female_only(kb_con):
    assert rows(kb_con, "SELECT gend, item_name FROM kb_item_gender WHERE hilist_code = ?",
                "XG02BAZ061Z007010279543") == [("2", "左炔诺孕酮宫内节育系统")]


def test_cavernosography_is_male_only(kb_con):
    assert rows(kb_con, "SELECT gend, item_name FROM kb_item_gender WHERE hilist_code = ?",
                "002101030280000") == [("1", "阴茎海绵体造影")]


def test_emergency_monitoring_includes_emergency_consultation_same_day(kb_con):
    assert rows(kb_con, "SELECT scope, bundle_name, part_name FROM kb_bundle WHERE bundle_code = ? AND part_code = ?",
                "001103000010000", "001102000030000") == [("day", "急诊监护费", "急诊诊查费")]


def test_bundle_scopes_cover_the_four_windows(kb_con):
    scopes = dict(rows(kb_con, "SELECT scope, count(*) FROM kb_bundle GROUP BY scope"))
    assert scopes == {"day": 446, "mdtrt": 429, "6h": 18, "hour": 7}


def test_hba1c_once_in_fifteen_days(kb_con):
    assert rows(kb_con, "SELECT max_cnt, cycle_days FROM kb_item_cycle WHERE hilist_code = ?",
                "002503020030000") == [(1, 15)]


def test_item_courses_parsed_from_free_text(kb_con):
    course = dict((code, (days, gap)) for code, days, gap in rows(
        kb_con, "SELECT hilist_code, max_days, min_interval_days FROM kb_item_course"))
    assert course["003402000050000"] == (90, 14)  # 总时间不超过90天，评定间隔时间不短于14天
    assert course["003402000210000"] == (30, None)  # 支付不超过30天
    assert course["003402000350000"] == (365, None)  # 支付不超过一年，每周最多支付一次
    assert rows(kb_con, "SELECT max_cnt, cycle_days FROM kb_item_cycle WHERE hilist_code = ?",
                "003402000350000") == [(1, 7)]


def test_frequency_limits(kb_con):
    limits = {code: (cnt, per) for code, cnt, per in rows(
        kb_con, "SELECT hilist_code, max_cnt, per FROM kb_item_limit WHERE source LIKE 'nhsa:%'")}
    assert limits["001109000010000"] == (1, "day")  # 普通病房床位费 1/日
    assert limits["003106030010000"] == (24, "day")  # 呼吸机辅助呼吸 24 小时/日


def test_drug_limits_by_batch(kb_con):
    def one(sql, code):
        return rows(kb_con, sql, code)

    assert one("SELECT insutype FROM kb_item_insutype WHERE hilist_code = ?", "XG02ADD082D003010179504") == [("510",)]
    assert one("SELECT insutype FROM kb_item_insutype WHERE hilist_code = ?", "XJ07BGR030B001010101119") == [("410",)]
    assert one("SELECT max_medins_lv FROM kb_item_medins_lv WHERE hilist_code = ?", "ZC01AAA0042010105549") == [("2",)]
    # 安宫牛黄丸: 限急诊或住院患者
    assert one("SELECT setting FROM kb_item_setting WHERE hilist_code = ?", "ZA07AAA0061010100166") == [
        ("inpatient_or_emergency",)]
    assert one("SELECT max_days FROM kb_item_course WHERE hilist_code = ?", "XN07XXT050B002010100239") == [(14,)]
    # 儿童: up to 17 inclusive
    assert one("SELECT min_age, max_age FROM kb_item_age WHERE hilist_code = ?", "ZA04CAE0023010100166") == [
        (None, 17)]
    # 职业功能训练: 法定就业年龄
    assert one("SELECT min_age, max_age FROM kb_item_age WHERE hilist_code = ?", "003402000320000") == [(16, 60)]


def test_2026_revision_supersedes_batch_points(kb_con):
    # 波生坦分散片: batch 1 says 儿童; the 2026 revision says 限3-12岁 and replaces it.
    band = rows(kb_con, """SELECT DISTINCT a.min_age, a.max_age, a.source FROM kb_item_age a
                           JOIN kb_knowledge_point p ON p.hilist_code = a.hilist_code
                           WHERE p.item_name = '波生坦分散片' AND NOT p.is_superseded""")
    assert band == [(3, 12, "nhsa:updates_2026-01.json")]
    old = rows(kb_con, """SELECT DISTINCT is_superseded, superseded_by IS NOT NULL FROM kb_knowledge_point
                          WHERE item_name = '阿帕他胺片' AND batch = '1'""")
    assert old == [(True, True)]


def test_knowledge_points_of_later_batches(kb_con):
    batches = dict(rows(kb_con, "SELECT batch, count(DISTINCT point_id) FROM kb_knowledge_point GROUP BY batch"))
    assert batches["9"] == 110 and batches["10"] == 22 and batches["11"] == 153
    assert sum(batches[str(b)] for b in range(12, 18)) == 510
    assert batches["updates_2026-01"] == 411


def test_indications_mapped_from_text(kb_con):
    # 利拉鲁肽注射液 (batch 12): 限2型糖尿病。
    prefixes = rows(kb_con, """SELECT DISTINCT i.diag_prefix FROM kb_item_indication i
                               JOIN kb_knowledge_point p ON p.hilist_code = i.hilist_code
                               WHERE p.item_name = '利拉鲁肽注射液' AND p.batch = '12'""")
    assert prefixes == [("E11",)]
    # 阿瑞匹坦注射液: 限放化疗 names no disease, so it has no indication rows.
    assert rows(kb_con, """SELECT count(*) FROM kb_item_indication i JOIN kb_knowledge_point p
                           ON p.hilist_code = i.hilist_code WHERE p.item_name = '阿瑞匹坦注射液'""") == [(0,)]


def test_national_rules(kb_con):
    framework = rows(kb_con, "SELECT count(*) FROM kb_national_rule WHERE framework = '1.0'")
    assert framework == [(79,)]
    assert rows(kb_con, "SELECT rule_name, tier1, tier2 FROM kb_national_rule WHERE gz_code = ?",
                "GZ10000101001000") == [("药品限工伤保险", "政策类", "药品政策限定类")]
    assert rows(kb_con, "SELECT count(*) FROM kb_national_rule WHERE framework = '2025'") == [(10,)]


def test_unparsed_report_is_readable(edition):
    path = edition.unparsed_path
    assert path.stat().st_size > 0
    with open(path, encoding="utf-8-sig", newline="") as handle:
        report = list(csv.DictReader(handle))
    assert len(report) == edition.manifest["unparsed_count"] > 0
    assert set(report[0]) == {"source", "row", "code", "item_name", "field", "text", "reason"}
    names = {r["item_name"] for r in report}
    assert "阿瑞匹坦注射液" in names  # 限放化疗: reported, not guessed
    assert any(r["reason"].startswith("适应症未映射") for r in report)


def test_every_kb_row_names_its_source(kb_con, edition):
    for table in edition.tables:
        missing = rows(kb_con, f"SELECT count(*) FROM {table} WHERE source IS NULL OR source = ''")
        assert missing == [(0,)], table
    sample_only = rows(kb_con, "SELECT DISTINCT source FROM kb_drg")
    assert sample_only == [("sample",)]
