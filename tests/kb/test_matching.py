"""Code matching: exact beats prefix, longer prefix beats shorter; SQL and Python give the same rows."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from fundguard.kb import KB_TABLES, CodeMatcher, resolved_sql
from fundguard.kb.tables import to_arrow

KB_ROWS = [
    {"hilist_code": "XG02B*", "gend": "2", "source": "t"},
    {"hilist_code": "XG02BA*", "gend": "2", "source": "t-longer"},
    {"hilist_code": "XG02BAZ061Z007010279543", "gend": "2", "source": "t-exact"},
    {"hilist_code": "XL02*", "gend": "1", "source": "t"},
    {"hilist_code": "XL02*", "gend": "1", "source": "t-second-row"},
    {"hilist_code": "002101030280000", "gend": "1", "source": "t-exact"},
]

CASES = {
    "XG02BAZ061Z007010279543": {"t-exact"},  # exact beats both prefixes
    "XG02BAZ999Z000000000000": {"t-longer"},  # longest prefix wins
    "XG02BX0000000000000000": {"t"},  # only the short prefix matches
    "XL02BBA326A001010102180": {"t", "t-second-row"},  # every row of the winning prefix is kept
    "002101030280000": {"t-exact"},
    "002101030280001": set(),  # no match
    "XG0": set(),  # shorter than every prefix
}


def sql_lookup(rows, codes):
    con = duckdb.connect()
    con.register("kb_rows", to_arrow("kb_item_gender", rows))
    con.execute("CREATE TABLE kb_item_gender AS SELECT * FROM kb_rows")
    con.execute("CREATE TABLE codes (hilist_code VARCHAR)")
    con.executemany("INSERT INTO codes VALUES (?)", [[c] for c in codes] + [[codes[0]]])  # duplicates are fine
    result: dict[str, set[str]] = {c: set() for c in codes}
    sql = resolved_sql("kb_item_gender", "codes")
    for code, *rest in con.execute(sql).fetchall():
        row = dict(zip([c for c, _ in KB_TABLES["kb_item_gender"]], rest, strict=True))
        result[code].add(row["source"])
    return result


def test_sql_precedence():
    assert sql_lookup(KB_ROWS, list(CASES)) == CASES


def test_python_precedence():
    matcher = CodeMatcher(KB_ROWS)
    assert {code: {r["source"] for r in matcher.lookup(code)} for code in CASES} == CASES
    assert matcher.lookup(None) == []
    assert "XG02BAZ999Z000000000000" in matcher


def test_sql_and_python_agree_on_the_real_edition(edition, kb_con):
    codes = ["XG02BAZ061Z007010279543", "002101030280000", "XL02BBA326A001010102180", "NOPE"]
    kb_con.execute("CREATE OR REPLACE TEMP TABLE probe AS SELECT unnest(?) AS hilist_code", [codes])
    sql_rows = sorted(kb_con.execute(resolved_sql("kb_item_gender", "probe")).fetchall())
    matcher = CodeMatcher.for_table(edition.tables["kb_item_gender"], "kb_item_gender")
    columns = [c for c, _ in KB_TABLES["kb_item_gender"]]
    py_rows = sorted((code, *(r[c] for c in columns)) for code in codes for r in matcher.lookup(code))
    assert sql_rows == py_rows
    assert {r[0] for r in sql_rows} == set(codes) - {"NOPE"}


def test_bundle_matches_on_bundle_code(kb_con):
    kb_con.execute("CREATE OR REPLACE TEMP TABLE probe_b AS SELECT '001103000010000' AS hilist_code")
    parts = {r[2] for r in kb_con.execute(resolved_sql("kb_bundle", "probe_b")).fetchall()}
    assert "001102000030000" in parts and len(parts) > 1


def test_sql_is_portable_to_spark():
    sql = resolved_sql("kb_bundle", "codes")
    spark = sqlglot.transpile(sql, read="duckdb", write="spark")[0].upper()
    assert "RANK() OVER" in spark
    assert "SUBSTRING(" in spark or "SUBSTR(" in spark
    assert "LENGTH(" in spark


def test_rejects_non_identifiers():
    with pytest.raises(ValueError):
        resolved_sql("kb_item_gender", "codes; DROP TABLE x")
    with pytest.raises(ValueError):
        resolved_sql("kb_nope", "codes")
