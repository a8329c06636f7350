"""The full library over a labelled synthetic year (20k persons): every injected label is flagged by its
rule with the labelled amount (recall 1.0); flags that carry no label are reported per rule."""

from __future__ import annotations

import duckdb
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    synth = pytest.importorskip("fundguard.synth")
    from fundguard.engine import run_audit

    data = tmp_path_factory.mktemp("synth")
    synth.generate(data, persons=20_000, seed=11, months=12)
    out = tmp_path_factory.mktemp("audit") / "out"
    run = run_audit(data, out)
    return data, out, run


def test_recall_is_one(audited):
    data, out, _ = audited
    con = duckdb.connect()
    missed = con.execute(
        f"""
        SELECT l.rule_id, l.flag_key, l.vola_amt, f.vola_amt AS flagged_amt
        FROM read_parquet('{data}/labels.parquet') l
        LEFT JOIN read_parquet('{out}/flags.parquet') f ON f.rule_id = l.rule_id AND f.flag_key = l.flag_key
        WHERE f.vola_amt IS NULL OR f.vola_amt <> l.vola_amt
        ORDER BY 1, 2
        """
    ).fetchall()
    assert not missed, f"labels not flagged with their amount: {missed[:20]}"


def test_unlabelled_flags_reported(audited, capsys):
    data, out, run = audited
    con = duckdb.connect()
    extra = con.execute(
        f"""
        SELECT f.rule_id, count(*) FROM read_parquet('{out}/flags.parquet') f
        ANTI JOIN read_parquet('{data}/labels.parquet') l ON l.rule_id = f.rule_id AND l.flag_key = f.flag_key
        GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    with capsys.disabled():
        print("\nunlabelled flags per rule:", dict(extra) or "none")
    assert run["totals"]["flags"] >= 1


def test_a_flag_lists_the_encounter_of_every_line_it_rests_on(audited):
    # interfaces.md: mdtrt_ids are "the encounters it rests on"; a case opened from a flag reads them
    data, out, _ = audited
    con = duckdb.connect()
    flags = f"(SELECT f.rule_id, f.flag_id, f.mdtrt_ids, u.sn FROM read_parquet('{out}/flags.parquet') f, unnest(f.feedetl_sn) AS u(sn))"
    missing = con.execute(
        f"""
        SELECT x.rule_id, x.flag_id, l.mdtrt_id FROM {flags} x
        JOIN read_parquet('{data}/feedetl.parquet') l ON l.feedetl_sn = x.sn
        WHERE NOT list_contains(x.mdtrt_ids, l.mdtrt_id)
        ORDER BY 1, 2 LIMIT 20
        """  # noqa: S608
    ).fetchall()
    assert not missing, missing
    spanning = con.execute(
        f"""
        SELECT count(DISTINCT x.flag_id) FROM {flags} x
        JOIN read_parquet('{data}/feedetl.parquet') l ON l.feedetl_sn = x.sn
        GROUP BY x.flag_id HAVING count(DISTINCT l.mdtrt_id) > 1 LIMIT 1
        """  # noqa: S608
    ).fetchall()
    assert spanning, "no flag rests on lines of two encounters: the check above saw nothing to check"
