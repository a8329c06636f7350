"""The portable-subset lint: every rule and view passes; each non-portable construct is named."""

from __future__ import annotations

import pytest

from fundguard.engine import load_registry
from fundguard.engine.sql_lint import lint_rule, lint_sql, lint_views

REGISTRY = load_registry()


@pytest.mark.parametrize("rule", list(REGISTRY), ids=lambda r: r.id)
def test_rule_sql_in_portable_subset(rule):
    issues = lint_rule(rule)
    assert not issues, "\n".join(str(i) for i in issues)


def test_views_in_portable_subset():
    issues = lint_views()
    assert not issues, "\n".join(str(i) for i in issues)


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT date_diff('year', brdy, fee_date) AS age FROM fee_lines", "DATE_DIFF"),
        ("SELECT fee_date - brdy AS d FROM fee_lines", "fee_date - brdy"),
        ("SELECT CAST(endtime AS DATE) - CAST(begntime AS DATE) AS d FROM mdtrt", "CAST(endtime AS DATE) - CAST"),
        ("SELECT fee_date + INTERVAL 1 DAY AS d FROM fee_lines", "INTERVAL"),
        ("SELECT cnt::INTEGER AS c FROM feedetl", "::"),
        ("SELECT feedetl_sn FROM feedetl QUALIFY row_number() OVER (PARTITION BY mdtrt_id) = 1", "QUALIFY"),
        ("SELECT json_extract(x, '$.a') AS j FROM t", "JSON_EXTRACT"),
        ("SELECT x ->> 'a' AS j FROM t", "->>"),
        ("SELECT list(feedetl_sn) AS l FROM feedetl", "ARRAY_AGG"),
        ("SELECT [feedetl_sn] AS l FROM feedetl", "[feedetl_sn]"),
        ("SELECT list_sort(x) AS l FROM t", "ARRAY_SORT"),
        ("SELECT strftime(fee_date, '%Y') AS y FROM fee_lines", "TIME_TO_STR"),
        ("SELECT cnt // 2 AS h FROM feedetl", "//"),
        ("SELECT * EXCLUDE (cnt) FROM feedetl", "EXCLUDE"),
        ("SELECT CAST(cnt AS HUGEINT) AS c FROM feedetl", "CAST(… AS"),
        ("SELECT current_date AS d FROM feedetl", "CURRENT_DATE"),
        ("SELECT regexp_matches(hilist_code, '^A') AS r FROM feedetl", "REGEXP"),
        ("SELECT {{ nope(x) }} FROM t", "宏"),
    ],
)
def test_non_portable_construct_named(sql, construct):
    issues = lint_sql(sql, "Z99")
    assert issues, f"lint accepted: {sql}"
    text = "\n".join(str(i) for i in issues)
    assert "规则 Z99" in text
    assert construct.upper() in text.upper(), text


def test_macros_and_portable_sql_pass():
    sql = """
    SELECT f.feedetl_sn, CAST(SUM(f.net_amt) / 2 AS DECIMAL(16,2)) AS vola_amt,
           {{ days_between(m.begntime, f.fee_date) }} AS ev_days, {{ age_years(p.brdy, f.fee_date) }} AS ev_age,
           {{ list_agg(f.feedetl_sn) }} AS feedetl_sns, COALESCE(f.hilist_code, '') || '-x' AS ev_code
    FROM fee_lines f JOIN mdtrt m ON m.mdtrt_id = f.mdtrt_id JOIN psn p ON p.psn_no = f.psn_no
    WHERE f.fee_date >= {{ add_days(m.begntime, $window_days) }} AND f.item_name LIKE '%x%'
      AND NOT EXISTS (SELECT 1 FROM kb_hilist h WHERE h.hilist_code = f.hilist_code)
    GROUP BY f.feedetl_sn, m.begntime, f.fee_date, p.brdy, f.hilist_code
    """
    assert lint_sql(sql, "Z98") == []


def test_string_literals_and_comments_do_not_trigger():
    sql = "-- date_diff and QUALIFY in a comment\nSELECT 'a::b QUALIFY json' AS ev_note FROM feedetl"
    assert lint_sql(sql, "Z97") == []


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT f.feedetl_sn FROM fee_lines f JOIN nope n ON n.x = f.feedetl_sn", "JOIN nope"),
        ("SELECT f.feedetl_sn FROM nope f", "FROM nope"),
        ("SELECT f.feedetl_sn FROM fee_lines f LEFT JOIN read_text('x') t ON true", "JOIN READ_TEXT"),
    ],
)
def test_unknown_or_file_relations_are_named_with_their_clause(sql, construct):
    text = "\n".join(str(i) for i in lint_sql(sql, "Z96"))
    assert construct.upper() in text.upper(), text
