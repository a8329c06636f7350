"""CTEs that Spark would compute more than once are computed once (`split_ctes`) with the same results."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from fundguard.engine.backends.spark import _args_in, split_ctes


def _tables(sql: str) -> list[str]:
    return sorted(t.name for t in sqlglot.parse_one(sql, read="spark").find_all(exp.Table))


def test_a_cte_read_once_stays_inline():
    sql = "WITH a AS (SELECT x FROM t) SELECT x FROM a"
    assert split_ctes(sql, "_p_") == ((), sql)


def test_a_cte_read_twice_is_computed_first_and_read_by_name():
    sql = "WITH a AS (SELECT x FROM t WHERE x > :lo) SELECT a.x FROM a JOIN a AS b ON a.x = b.x"
    steps, main = split_ctes(sql, "_p_")
    assert [name for name, _ in steps] == ["_p_a"]
    assert _tables(steps[0][1]) == ["t"]
    assert ":lo" in steps[0][1]
    # both reads go to the stored view; the unaliased one keeps `a` as its alias, so `a.x` still resolves
    assert _tables(main) == ["_p_a", "_p_a"]
    tree = sqlglot.parse_one(main, read="spark")
    assert sorted(t.alias for t in tree.find_all(exp.Table)) == ["a", "b"]
    assert tree.args.get("with_") is None


def test_reads_count_through_the_ctes_that_read_it():
    # `base` is read once, by `mid`, which the query reads twice: computing `mid` once computes `base` once
    sql = ("WITH base AS (SELECT x FROM t), mid AS (SELECT x FROM base) "
           "SELECT m1.x FROM mid m1 JOIN mid m2 ON m1.x = m2.x")
    steps, main = split_ctes(sql, "_p_")
    assert [name for name, _ in steps] == ["_p_mid"]
    # the stored `mid` carries the CTE it reads
    assert _tables(steps[0][1]) == ["base", "t"]
    assert _tables(main) == ["_p_mid", "_p_mid"]


def test_a_cte_read_by_a_stored_cte_and_by_the_query_is_stored_too():
    sql = ("WITH base AS (SELECT x FROM t), mid AS (SELECT x FROM base) "
           "SELECT m1.x FROM mid m1 JOIN mid m2 ON m1.x = m2.x JOIN base b ON b.x = m1.x")
    steps, main = split_ctes(sql, "_p_")
    assert [name for name, _ in steps] == ["_p_base", "_p_mid"]
    assert _tables(steps[1][1]) == ["_p_base"]
    assert _tables(main) == ["_p_base", "_p_mid", "_p_mid"]


def test_a_cte_inside_an_exists_counts_as_a_read():
    sql = ("WITH s AS (SELECT x FROM t) "
           "SELECT x FROM s WHERE EXISTS (SELECT 1 FROM s AS o WHERE o.x = s.x)")
    steps, main = split_ctes(sql, "_p_")
    assert [name for name, _ in steps] == ["_p_s"]
    assert _tables(main) == ["_p_s", "_p_s"]


def test_only_the_parameters_a_part_names_are_bound():
    params = {"lo": 1, "hi": 9, "lower": 3}
    assert _args_in("SELECT x FROM t WHERE x > :lo", params, ["lo", "hi", "lower"]) == {"lo": 1}
    assert _args_in("SELECT x FROM t WHERE x > :lower", params, ["lo", "hi", "lower"]) == {"lower": 3}
    assert _args_in("SELECT x FROM t", params, ["lo"]) is None


def test_split_query_gives_the_same_rows_on_spark(spark):
    spark.createDataFrame([(1, "a"), (2, "b"), (2, "c"), (3, "d")], "x INT, y STRING").createOrReplaceTempView("t_ctes")
    sql = ("WITH base AS (SELECT x, y FROM t_ctes WHERE x >= :lo), "
           "dup AS (SELECT x FROM base GROUP BY x HAVING COUNT(*) > 1) "
           "SELECT b.y FROM base b JOIN dup d ON d.x = b.x "
           "WHERE EXISTS (SELECT 1 FROM base o WHERE o.x = b.x AND o.y <> b.y)")
    whole = sorted(r[0] for r in spark.sql(sql, args={"lo": 2}).collect())
    steps, main = split_ctes(sql, "_t_ctes_")
    assert steps, "base is read three times: it is computed first"
    for name, step in steps:
        spark.sql(step, args=_args_in(step, {"lo": 2}, ["lo"])).createOrReplaceTempView(name)
    assert sorted(r[0] for r in spark.sql(main, args=_args_in(main, {"lo": 2}, ["lo"])).collect()) == whole == ["b", "c"]


def test_names_match_whatever_their_case():
    sql = "WITH Sides AS (SELECT x FROM t) SELECT s.x FROM sides s JOIN SIDES o ON o.x = s.x"
    steps, main = split_ctes(sql, "_p_")
    assert [name for name, _ in steps] == ["_p_sides"]
    assert _tables(main) == ["_p_sides", "_p_sides"]


def test_a_cte_named_after_a_table_reads_the_table_in_its_own_body():
    # `fee_lines` inside its own definition is the input table, not the CTE (WITH is not recursive)
    sql = ("WITH fee_lines AS (SELECT x FROM fee_lines WHERE x > 0) "
           "SELECT a.x FROM fee_lines a JOIN fee_lines b ON a.x = b.x")
    steps, main = split_ctes(sql, "_p_")
    assert steps == (("_p_fee_lines", "SELECT x FROM fee_lines WHERE x > 0"),)
    assert _tables(main) == ["_p_fee_lines", "_p_fee_lines"]


def test_sql_with_an_inner_with_is_left_as_it_is():
    sql = ("WITH a AS (SELECT x FROM t) "
           "SELECT x FROM a WHERE x IN (WITH a AS (SELECT 1 AS x) SELECT x FROM a) AND x IN (SELECT x FROM a)")
    assert split_ctes(sql, "_p_") == ((), sql)
