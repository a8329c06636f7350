"""Each engine macro computes the same values on DuckDB and on Spark (via the transpiler), on the
cases that break naive SQL: birthdays on 29 February, year ends, timestamps late in the day."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from fundguard.engine import macros
from fundguard.engine.backends.spark import transpile

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

D = dt.date
T = dt.datetime
CASES = [
    (D(2000, 2, 29), D(2025, 2, 28), T(2025, 2, 28, 23, 59, 59), T(2025, 3, 1, 0, 0, 1)),
    (D(2000, 2, 29), D(2025, 3, 1), T(2024, 2, 29, 12, 0, 0), T(2024, 3, 1, 11, 0, 0)),
    (D(2004, 2, 29), D(2024, 2, 29), T(2024, 12, 31, 23, 30, 0), T(2025, 1, 1, 0, 30, 0)),
    (D(1990, 12, 31), D(2025, 12, 30), T(2025, 6, 1, 9, 0, 0), T(2025, 6, 1, 9, 0, 0)),
    (D(1990, 12, 31), D(2025, 12, 31), T(2025, 6, 1, 9, 59, 59), T(2025, 5, 31, 10, 0, 0)),
    (D(2025, 1, 1), D(2025, 1, 1), T(2025, 1, 1, 0, 0, 0), T(2026, 1, 1, 0, 0, 0)),
    (D(1960, 7, 15), D(2025, 7, 14), T(2025, 7, 14, 0, 0, 0), T(2025, 7, 16, 23, 59, 59)),
]
EXPRESSIONS = {
    "age_years": "{{ age_years(b, d) }}",
    "age_years_ts": "{{ age_years(b, t2) }}",
    "days_between": "{{ days_between(d, b) }}",
    "days_between_ts": "{{ days_between(t1, t2) }}",
    "add_days": "{{ add_days(d, 30) }}",
    "add_days_neg": "{{ add_days(t1, -365) }}",
    "to_date": "{{ to_date(t1) }}",
    "seconds_between": "{{ seconds_between(t1, t2) }}",
    "trunc_hour": "{{ trunc_hour(t1) }}",
    "nested": "{{ days_between({{ add_days(b, 10) }}, {{ to_date(t2) }}) }}",
}
if "prorate_amt" in macros.MACRO_NAMES:
    # cents × share with halves (2.10 × 2 ÷ 8 = 0.525) and an expression as the share
    EXPRESSIONS["prorate_amt"] = "{{ prorate_amt(CAST(days AS DECIMAL(16,2)) * 1.05, days, 8) }}"
    EXPRESSIONS["prorate_amt_expr"] = "{{ prorate_amt(CAST(days AS DECIMAL(16,2)) * 3.33, days + 1 - 1, days + 2) }}"
    # cents × share beyond BIGINT (1e8 cents × 1e12): it wrapped around on Spark, overflowed on DuckDB
    EXPRESSIONS["prorate_amt_large"] = ("{{ prorate_amt(CAST(1000000.00 AS DECIMAL(16,2)), "
                                        "CAST(999999930000 + days AS BIGINT), CAST(1000000000000 AS BIGINT)) }}")
if "pct1" in macros.MACRO_NAMES:
    # 70.05 % and 60.15 %: ROUND(x, 1) of a DOUBLE gave 70.0 on DuckDB and 70.1 on Spark
    EXPRESSIONS["pct1"] = "{{ pct1(CAST(days AS DECIMAL(16,2)) * 10.01 + 0.00, 100 + days * 0) }}"
    EXPRESSIONS["pct1_halves"] = "{{ pct1(CAST(70.05 AS DECIMAL(16,2)) + days * 0, CAST(100.00 AS DECIMAL(16,2))) }}"
EXPRESSIONS["list_of"] = "{{ list_of(CAST(days + 1 AS VARCHAR), 'F2', CAST(days AS VARCHAR)) }}"
if "num_text" in macros.MACRO_NAMES:
    EXPRESSIONS["num_text"] = "{{ num_text(CAST(days AS DECIMAL(16,4)) / 4) }}"


def _values_sql() -> str:
    rows = ", ".join(
        f"(CAST('{b}' AS DATE), CAST('{d}' AS DATE), CAST('{t1}' AS TIMESTAMP), CAST('{t2}' AS TIMESTAMP), {i + 1})"
        for i, (b, d, t1, t2) in enumerate(CASES)
    )
    return f"SELECT * FROM (VALUES {rows}) AS v(b, d, t1, t2, days)"


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_macro_same_on_both_engines(spark, name):
    sql = f"SELECT days, {EXPRESSIONS[name]} AS x FROM ({_values_sql()}) c ORDER BY days"
    duck = duckdb.sql(macros.expand(sql, "duckdb")).fetchall()
    sp = [tuple(r) for r in spark.sql(transpile(sql)).collect()]
    norm = [(k, v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v) for k, v in sp]
    assert norm == duck


def test_age_years_known_values(spark):
    sql = f"SELECT {{{{ age_years(b, d) }}}} AS a FROM ({_values_sql()}) c ORDER BY days"
    assert [r[0] for r in spark.sql(transpile(sql)).collect()] == [24, 25, 20, 34, 35, 0, 64]


def test_date_diff_year_is_the_trap(spark):
    """Why the macros exist: DuckDB's date_diff('year') counts year boundaries, so it is not an age."""
    sql = f"SELECT date_diff('year', b, d) AS a FROM ({_values_sql()}) c ORDER BY days"
    assert [r[0] for r in duckdb.sql(sql).fetchall()] != [24, 25, 20, 34, 35, 0, 64]


def test_prorate_amt_rounds_half_cents_away_from_zero():
    sql = "SELECT {{ prorate_amt(2.10, 2, 8) }}, {{ prorate_amt(1.05, 1, 8) }}, {{ prorate_amt(-2.10, 2, 8) }}, {{ prorate_amt(10.00, 3 - 1, 1 + 3) }}"
    (got,) = duckdb.sql(macros.expand(sql, "duckdb")).fetchall()
    assert [str(v) for v in got] == ["0.53", "0.13", "-0.53", "5.00"]
    big = "SELECT {{ prorate_amt(1000000.00, CAST(999999930000 AS BIGINT), CAST(1000000000000 AS BIGINT)) }}"
    assert str(duckdb.sql(macros.expand(big, "duckdb")).fetchall()[0][0]) == "999999.93"  # not an INT64 overflow


def test_pct1_rounds_the_exact_ratio_half_away_from_zero():
    sql = ("SELECT {{ pct1(70.05, 100.00) }}, {{ pct1(60.15, 100) }}, {{ pct1(1, 3) }}, {{ pct1(2, 3) }}, "
           "{{ pct1(0, 7) }}, {{ pct1(5, 9) }}")
    (got,) = duckdb.sql(macros.expand(sql, "duckdb")).fetchall()
    assert [str(v) for v in got] == ["70.1", "60.2", "33.3", "66.7", "0.0", "55.6"]


def test_data_values_are_not_spark_variables(spark):
    # a code map of a few rows is registered as literal rows: `${…}` inside a value must stay as given
    import pyarrow as pa

    from fundguard.engine.backends.spark import register_arrow

    codes = ["N40${env:HOME}", "N40${spark.app.name}", "N40.x00"]
    register_arrow(spark, "_subst_probe", pa.table({"code": codes}), [("code", "VARCHAR")])
    assert sorted(r[0] for r in spark.sql("SELECT code FROM _subst_probe").collect()) == sorted(codes)


def test_py4j_tracebacks_on_ctrl_c_are_dropped(spark):
    # py4j logs ~45 lines of traceback on the root logger when Ctrl-C stops a job, before the one-line message
    import logging

    from fundguard.engine.backends.spark import _PY4J_NOISE

    assert _PY4J_NOISE in logging.getLogger().filters

    def record(path: str, message: str) -> logging.LogRecord:
        return logging.LogRecord("root", logging.ERROR, path, 1070, message, None, None)

    assert not _PY4J_NOISE.filter(record("/v/site-packages/py4j/java_gateway.py", "KeyboardInterrupt while sending command."))
    assert not _PY4J_NOISE.filter(record("/v/site-packages/py4j/clientserver.py", "Exception while sending command."))
    assert _PY4J_NOISE.filter(record("/v/fundguard/cli/audit.py", "KeyboardInterrupt while sending command."))
    assert _PY4J_NOISE.filter(record("/v/site-packages/py4j/java_gateway.py", "Error while receiving."))
