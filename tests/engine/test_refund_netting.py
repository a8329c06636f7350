"""Refund netting: the batch view (`fee_netting`, a stack computed with window sums in SQL) against the
real-time frame's explicit stack (`net_refunds`), on random sequences of lines and refunds.

The explicit stack is the rule as written (a refund that names no original takes from the latest
earlier line of the same encounter, item and price that still has units left, then the next earlier
one); the SQL reaches the same result without a loop, so the two must agree line by line.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import duckdb

from fundguard.contract import load_dataset
from fundguard.contract.factories import build_tables, to_arrow, write_dataset
from fundguard.engine.backends.duckdb import DuckDBBackend
from fundguard.engine.examples import register_kb_rows
from fundguard.realtime.frame import net_refunds


def _random_feedetl(rng: random.Random, groups: int) -> list[dict]:
    rows: list[dict] = []
    start = dt.datetime(2025, 3, 1, 8, 0)
    for g in range(groups):
        mdtrt_id = f"M{g % 7 + 1}"
        item = f"X{g}"
        pric = rng.choice([Decimal("10.00"), Decimal("3.3333"), Decimal("0.07")])
        originals: list[str] = []
        for k in range(rng.randint(1, 6)):
            when = start + dt.timedelta(minutes=rng.randint(0, 600))
            sn = f"G{g:03d}L{k}"
            if rng.random() < 0.7 or not originals:
                cnt = Decimal(rng.choice([1, 1, 2, 3, 4])) if rng.random() < 0.8 else Decimal("0.5")
                rows.append({"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "hilist_code": item, "pric": pric, "cnt": cnt,
                             "fee_ocur_time": when.isoformat(sep=" ")})
                originals.append(sn)
            else:
                cnt = -Decimal(rng.choice([1, 1, 2, 3])) if rng.random() < 0.85 else Decimal("-0.5")
                named = rng.choice(originals) if rng.random() < 0.2 else None
                rows.append({"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "hilist_code": item, "pric": pric, "cnt": cnt,
                             "refd_flag": True, "orig_feedetl_sn": named, "fee_ocur_time": when.isoformat(sep=" ")})
    return rows


def test_batch_netting_equals_the_explicit_stack(tmp_path):
    rng = random.Random(20261124)
    given = {"mdtrt": [{"mdtrt_id": f"M{i}"} for i in range(1, 8)], "feedetl": _random_feedetl(rng, 300)}
    tables = build_tables(given)
    write_dataset(tables, tmp_path / "ds")
    con = duckdb.connect()
    try:
        load_dataset(tmp_path / "ds", con)
        register_kb_rows(con, {})
        DuckDBBackend(con).build_views(set())
        batch = {sn: (cnt, amt) for sn, cnt, amt in con.execute("SELECT feedetl_sn, net_cnt, net_amt FROM fee_net").fetchall()}
        unnamed = con.execute("SELECT count(*) FROM feedetl WHERE refd_flag AND orig_feedetl_sn IS NULL").fetchone()[0]
    finally:
        con.close()
    typed = to_arrow("feedetl", tables["feedetl"]).to_pylist()
    expected = {r["feedetl_sn"]: (r["net_cnt"], r["net_amt"]) for r in net_refunds(typed)}
    assert unnamed > 100  # the sequences exercise the unnamed path, not only named refunds
    assert len(expected) < sum(1 for r in typed if not r["refd_flag"])  # some lines are fully refunded
    assert batch == expected


def test_explicit_stack_takes_from_the_latest_line_with_units_left():
    t = dt.datetime(2025, 3, 1, 9, 0)

    def line(sn, minutes, cnt, refund=False):
        return {"feedetl_sn": sn, "mdtrt_id": "M1", "hilist_code": "X", "pric": Decimal("10.00"), "cnt": Decimal(cnt),
                "det_item_fee_sumamt": Decimal(cnt) * 10, "fee_ocur_time": t + dt.timedelta(minutes=minutes),
                "refd_flag": refund, "orig_feedetl_sn": None}

    # F1 2 units, F2 1 unit, refund 1 (takes F2), F3 1 unit, refund 2 (takes F3, then one of F1)
    rows = [line("F1", 0, 2), line("F2", 10, 1), line("R1", 20, -1, True), line("F3", 30, 1), line("R2", 40, -2, True)]
    net = {r["feedetl_sn"]: r["net_cnt"] for r in net_refunds(rows)}
    assert net == {"F1": Decimal(1)}
