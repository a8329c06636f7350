"""The flag index: keyset pages in every sort, forward and backward, equal the sorted list; filters and scopes
select exactly what a plain Python filter selects; aggregates add up; money stays exact.

The flags here are written straight from the engine's flag schema (test-only data, no dataset), so every
case is known; the API and browser tests use a real synthetic audit."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fundguard.contract.factories import build_tables, write_dataset
from fundguard.engine.flags import FLAG_SCHEMA
from fundguard.workspace import SORTS, CursorError, FlagFilter, FlagIndex, Scope, build_index

ORGS = {"H01": "110101", "H02": "110102", "H03": "310101", "H04": "310115"}


def _flags(n: int, seed: int = 5) -> list[dict]:
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        org = rnd.choice(sorted(ORGS))
        cents = rnd.choice([0, 1, 99, 100, 12345, 5000000, rnd.randint(0, 10**7)])
        rows.append({
            "flag_id": f"{i:032x}", "run_id": "r1", "rule_id": rnd.choice(["A01", "B02", "C03", "D05"]),
            "rule_version": "v", "sev_deg": rnd.randint(1, 3), "granularity": "line", "psn_no": f"P{rnd.randint(0, 50):08d}",
            "mdtrt_id": f"M{i}", "setl_id": f"S{i}", "fixmedins_code": org, "feedetl_sn": [f"F{i}"], "mdtrt_ids": [f"M{i}"],
            "vola_amt": Decimal(cents) / 100, "message": f"疑点 {i}", "evidence": json.dumps({"params": {}, "values": {"i": i}}),
            "flag_key": f"F{i}",
        })
    return rows


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("flagindex")
    rows = _flags(2500)
    pq.write_table(pa.Table.from_pylist(rows, schema=FLAG_SCHEMA), root / "flags.parquet")
    # a dataset of institutions only: the index takes their regions from it
    dataset = write_dataset(build_tables({"fixmedins": [{"fixmedins_code": c, "admdvs": a} for c, a in ORGS.items()]}),
                            root / "dataset")
    build_index(root / "flags.parquet", root / "ix.sqlite", dataset=dataset, categories={"A01": "限定类", "B02": "收费类"})
    return FlagIndex(root / "ix.sqlite"), rows


def _key(sort: str):
    col, desc = SORTS[sort]
    return (lambda r: (r["vola_amt"], r["flag_id"])) if col == "vola_cents" else (lambda r: ("", r["flag_id"]))


@pytest.mark.parametrize("sort", ["amount_desc", "amount_asc"])
def test_pages_forward_and_backward_equal_the_sorted_list(index, sort):
    ix, rows = index
    expected = sorted(rows, key=_key(sort), reverse=SORTS[sort][1])
    got, after, pages = [], None, []
    while True:
        page = ix.page(FlagFilter(), Scope(), sort=sort, after=after, limit=97)
        got += [f["flag_id"] for f in page.items]
        pages.append(page)
        if not page.next_cursor:
            break
        after = page.next_cursor
    assert got == [r["flag_id"] for r in expected]
    assert pages[0].total == len(rows) and pages[0].prev_cursor is None
    # walk back from the last page with prev_cursor: every earlier page comes back the same
    back = pages[-1]
    for earlier in reversed(pages[:-1]):
        back = ix.page(FlagFilter(), Scope(), sort=sort, before=back.prev_cursor, limit=97)
        assert [f["flag_id"] for f in back.items] == [f["flag_id"] for f in earlier.items]
    assert back.prev_cursor is None


def test_filters_and_scopes_select_exactly(index):
    ix, rows = index
    cases = [
        (FlagFilter(rule_id=["A01"]), Scope(), lambda r: r["rule_id"] == "A01"),
        (FlagFilter(sev_deg=[1, 3]), Scope(), lambda r: r["sev_deg"] in (1, 3)),
        (FlagFilter(category="收费类"), Scope(), lambda r: r["rule_id"] == "B02"),
        (FlagFilter(amount_min=Decimal("1.00"), amount_max=Decimal("123.45")), Scope(),
         lambda r: Decimal("1.00") <= r["vola_amt"] <= Decimal("123.45")),
        (FlagFilter(admdvs="31"), Scope(), lambda r: ORGS[r["fixmedins_code"]].startswith("31")),
        (FlagFilter(), Scope(fixmedins_code="H02"), lambda r: r["fixmedins_code"] == "H02"),
        (FlagFilter(fixmedins_code="H01"), Scope(fixmedins_code="H02"), lambda r: False),
        (FlagFilter(rule_id=["C03"]), Scope(admdvs_prefix="1101"),
         lambda r: r["rule_id"] == "C03" and ORGS[r["fixmedins_code"]].startswith("1101")),
        (FlagFilter(psn_no="P00000007"), Scope(), lambda r: r["psn_no"] == "P00000007"),
    ]
    for flt, scope, pred in cases:
        want = {r["flag_id"] for r in rows if pred(r)}
        got = {f["flag_id"] for f in ix.iter_flags(flt, scope)}
        assert got == want, (flt, scope)
        assert ix.count(flt, scope) == len(want)


def test_get_respects_scope_and_money_is_exact(index):
    ix, rows = index
    row = next(r for r in rows if r["fixmedins_code"] == "H03")
    flag = ix.get(row["flag_id"], Scope())
    assert flag["vola_amt"] == row["vola_amt"] and isinstance(flag["vola_amt"], Decimal)
    assert flag["evidence"]["values"]["i"] == int(row["flag_id"], 16)
    assert ix.get(row["flag_id"], Scope(fixmedins_code="H03")) is not None
    assert ix.get(row["flag_id"], Scope(fixmedins_code="H01")) is None
    assert ix.get(row["flag_id"], Scope(admdvs_prefix="11")) is None


def test_aggregates_add_up(index):
    ix, rows = index
    total = sum((r["vola_amt"] for r in rows), Decimal(0))
    assert ix.totals(Scope()) == {"flags": len(rows), "vola_amt": total, "institutions": 4, "rules": 4}
    for dim in ("rule_id", "sev_deg", "fixmedins_code", "admdvs", "category"):
        parts = ix.breakdown(dim, Scope())
        assert sum(p["flags"] for p in parts) == len(rows)
        assert sum((p["vola_amt"] for p in parts), Decimal(0)) == total
    h2 = [r for r in rows if r["fixmedins_code"] == "H02"]
    assert ix.totals(Scope(fixmedins_code="H02"))["flags"] == len(h2)


def test_cursor_of_another_sort_is_refused(index):
    ix, _ = index
    page = ix.page(FlagFilter(), Scope(), sort="amount_desc", limit=5)
    with pytest.raises(CursorError):
        ix.page(FlagFilter(), Scope(), sort="date_desc", after=page.next_cursor)
    with pytest.raises(CursorError):
        ix.page(FlagFilter(), Scope(), after="not-a-cursor")


def test_index_build_at_start_is_announced_with_the_flag_count(synth_workspace, tmp_path, caplog):
    import logging

    from fundguard.workspace.runs import Workspace

    ws = Workspace(synth_workspace, index_dir=tmp_path / "index")
    with caplog.at_level(logging.INFO, logger="fundguard.workspace"):
        done = ws.prepare()
    run = ws.latest()
    flags = run.info["totals"]["flags"]
    assert flags > 0 and [d["built"] for d in done] == [True]
    said = [r.getMessage() for r in caplog.records if "正在建立疑点索引" in r.getMessage()]
    assert said == [f"正在建立疑点索引: 运行 {run.run_id} ({flags} 条疑点, 重启后复用)…"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="fundguard.workspace"):
        again = Workspace(synth_workspace, index_dir=tmp_path / "index").prepare()
    assert [d["built"] for d in again] == [False]
    assert not [r for r in caplog.records if "正在建立疑点索引" in r.getMessage()]
