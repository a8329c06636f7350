"""Audit throughput: the full rule library over synthetic datasets of 1M and 10M fee lines.

Prints rows/s, the floor, the ratio of the audit time to it, and peak memory. Targets (2 cores): 10M
lines under 60 s, within 15× of the floor, peak memory under 8 GB.

The floor is one plain scan of `feedetl.parquet`: every column read and decoded (`min` of each), which
is what any audit of the file must at least do. The bench also prints the time of a narrow scan (four
columns aggregated) and the ratio to it, so the two readings of "plain scan" are both on record.
The audit time is the whole `run_audit`: contract validation and load, knowledge edition, curated
views, every rule, flags written.
Each size runs in its own process so peak memory is per size. Datasets are cached in `bench-data/`.
DuckDB's memory limit defaults to 6GB here (FUNDGUARD_MEMORY_LIMIT; it spills beyond it).
Uses `fundguard.synth.generate` when it is available, else a built-in vectorised generator.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench-data"
LINES_PER_ENCOUNTER = 10
ENCOUNTERS_PER_PERSON = 6


def _kb_codes() -> dict[str, list[str]]:
    """Codes from the default knowledge edition, so restricted items appear in the data."""
    import duckdb

    from fundguard import kb

    con = duckdb.connect()
    kb.Edition.open(kb.default_edition_path()).register(con)
    out: dict = {}
    out["ceilings"] = dict(con.execute(
        "SELECT hilist_code, pric_uplmt_amt FROM kb_hilist WHERE pric_uplmt_amt IS NOT NULL AND hilist_code NOT LIKE '%*'"
    ).fetchall())
    for table in ("kb_hilist", "kb_item_gender", "kb_item_age", "kb_item_limit", "kb_item_cycle", "kb_item_course",
                  "kb_item_medins_lv", "kb_item_setting", "kb_item_indication", "kb_oprn_group"):
        rows = con.execute(f"SELECT DISTINCT hilist_code FROM {table} WHERE hilist_code NOT LIKE '%*' ORDER BY 1 LIMIT 400").fetchall()  # noqa: S608
        out[table] = [r[0] for r in rows]
    con.close()
    return out


def builtin_generate(out: Path, lines: int, seed: int = 7) -> None:
    """A contract-valid dataset of about `lines` fee lines (vectorised; a year of claims)."""
    from fundguard.contract.factories import arrow_schema

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    n_enc = max(1, lines // LINES_PER_ENCOUNTER)
    n_psn = max(1, n_enc // ENCOUNTERS_PER_PERSON)
    n_org = 300
    codes = _kb_codes()
    ceilings = codes.pop("ceilings")
    restricted_set = {c for t, v in codes.items() if t != "kb_hilist" for c in v}
    restricted = np.array(sorted(restricted_set), dtype=object)
    common = np.array([c for c in codes["kb_hilist"] if c not in restricted_set] or ["001102000010000"], dtype=object)
    ceiling_cents = np.array([int(ceilings[c] * 100) if c in ceilings else 0 for c in common], dtype=np.int64)

    psn_no = np.char.add("P", np.arange(n_psn).astype(str)).astype(object)
    brdy = np.datetime64("1940-01-01") + rng.integers(0, 365 * 80, n_psn).astype("timedelta64[D]")
    pq.write_table(pa.table({
        "psn_no": psn_no, "gend": rng.choice(["1", "2", "9"], n_psn, p=[0.49, 0.49, 0.02]).astype(object),
        "brdy": brdy, "insutype": rng.choice(["310", "390"], n_psn).astype(object),
        "insu_admdvs": np.full(n_psn, "440100", dtype=object), "death_date": pa.nulls(n_psn, pa.date32()),
    }, schema=arrow_schema("psn")), out / "psn.parquet")

    org = np.char.add("H", np.arange(n_org).astype(str)).astype(object)
    pq.write_table(pa.table({
        "fixmedins_code": org, "fixmedins_name": org, "fixmedins_type": np.full(n_org, "1", dtype=object),
        "medins_lv": rng.choice(["1", "2", "3"], n_org).astype(object),
        "admdvs": rng.choice(["440100", "440300"], n_org).astype(object), "public_flag": np.ones(n_org, dtype=bool),
    }, schema=arrow_schema("fixmedins")), out / "fixmedins.parquet")

    enc_psn = rng.integers(0, n_psn, n_enc)
    inpatient = rng.random(n_enc) < 0.1
    med_type = np.where(inpatient, "21", rng.choice(["11", "13", "14"], n_enc)).astype(object)
    begin = np.datetime64("2025-01-01T08:00:00") + rng.integers(0, 360 * 86400, n_enc).astype("timedelta64[s]")
    stay = np.where(inpatient, rng.integers(1, 12, n_enc), 0).astype("timedelta64[D]").astype("timedelta64[s]")
    end = begin + stay
    mdtrt_id = np.char.add("M", np.arange(n_enc).astype(str)).astype(object)
    enc_org = rng.integers(0, n_org, n_enc)

    n_lines = n_enc * LINES_PER_ENCOUNTER
    line_enc = np.repeat(np.arange(n_enc), LINES_PER_ENCOUNTER)
    # about 0.5% of lines carry restricted items (some of them violate); the rest are ordinary items billed
    # at or below their price ceiling, so flags stay near the rates seen in real audits (well under 1%)
    code_ix = rng.integers(0, len(common), n_lines)
    codes_l = common[code_ix]
    pick = rng.random(n_lines) < 0.005
    codes_l[pick] = restricted[rng.integers(0, len(restricted), int(pick.sum()))]
    cnt = rng.integers(1, 3, n_lines)
    pric_cents = rng.integers(100, 30000, n_lines)
    ceil = ceiling_cents[code_ix]
    capped = (ceil > 0) & ~pick
    pric_cents[capped] = np.maximum(1, (ceil[capped] * rng.uniform(0.5, 1.0, int(capped.sum()))).astype(np.int64))
    amt_cents = cnt * pric_cents
    offs = (rng.random(n_lines) * (stay[line_enc].astype(np.int64) + 3600)).astype("timedelta64[s]")
    enc_total = np.bincount(line_enc, weights=amt_cents, minlength=n_enc).astype(np.int64)
    hifp = (enc_total * 7) // 10
    cash = enc_total - hifp

    def money(cents: np.ndarray, scale: int = 2) -> pa.Array:
        # decimal128 storage is the unscaled integer as 16-byte little-endian two's complement
        unscaled = np.asarray(cents, dtype=np.int64) * (10 ** (scale - 2))
        words = np.zeros((len(unscaled), 2), dtype=np.int64)
        words[:, 0] = unscaled
        words[:, 1] = np.where(unscaled < 0, -1, 0)
        return pa.Array.from_buffers(pa.decimal128(16, scale), len(unscaled), [None, pa.py_buffer(words.tobytes())])

    pq.write_table(pa.table({
        "mdtrt_id": mdtrt_id, "setl_id": np.char.add("S", np.arange(n_enc).astype(str)).astype(object),
        "psn_no": psn_no[enc_psn], "fixmedins_code": org[enc_org], "med_type": med_type,
        "begntime": begin, "endtime": end,
        "dscg_way": pa.array(np.where(inpatient, "1", None).tolist(), pa.string()),
        "dept_code": np.full(n_enc, "A03", dtype=object), "atddr_no": np.full(n_enc, "D1", dtype=object),
        "medfee_sumamt": money(enc_total), "hifp_pay": money(hifp), "acct_pay": money(np.zeros(n_enc, np.int64)),
        "psn_cash_pay": money(cash), "setl_time": end, "insu_admdvs": np.full(n_enc, "440100", dtype=object),
        "drg_code": pa.nulls(n_enc, pa.string()), "dip_code": pa.nulls(n_enc, pa.string()),
    }, schema=arrow_schema("mdtrt")), out / "mdtrt.parquet")

    pq.write_table(pa.table({
        "mdtrt_id": mdtrt_id, "diag_srt_no": np.ones(n_enc, np.int32), "maindiag_flag": np.ones(n_enc, dtype=bool),
        "diag_code": rng.choice(["J06.900", "I10.x00", "E11.900", "N40.x00", "K29.700"], n_enc).astype(object),
        "diag_name": np.full(n_enc, "诊断", dtype=object),
    }, schema=arrow_schema("diag")), out / "diag.parquet")

    chrg = rng.choice(["03", "04", "05", "08", "09"], n_lines).astype(object)
    is_drug = chrg == "09"
    prd = pa.array(np.where(is_drug, rng.integers(1, 8, n_lines), 0), pa.int32())
    prd = pc.if_else(pa.array(is_drug), prd, pa.nulls(n_lines, pa.int32()))
    pq.write_table(pa.table({
        "feedetl_sn": np.char.add("F", np.arange(n_lines).astype(str)).astype(object),
        "mdtrt_id": mdtrt_id[line_enc], "psn_no": psn_no[enc_psn[line_enc]], "fixmedins_code": org[enc_org[line_enc]],
        "fee_ocur_time": begin[line_enc] + offs, "hilist_code": codes_l, "medins_list_codg": codes_l,
        "med_chrgitm_type": chrg,
        "cnt": money(cnt * 100, 4),
        "pric": money(pric_cents, 4),
        "det_item_fee_sumamt": money(amt_cents), "bilg_dept_codg": np.full(n_lines, "A03", dtype=object),
        "bilg_dr_codg": np.full(n_lines, "D1", dtype=object), "prd_days": prd,
        "refd_flag": np.zeros(n_lines, dtype=bool), "orig_feedetl_sn": pa.nulls(n_lines, pa.string()),
        "hosp_appr_flag": np.zeros(n_lines, dtype=bool),
    }, schema=arrow_schema("feedetl")), out / "feedetl.parquet")


def _synth_lines_per_person() -> float:
    """Calibrate the synthetic generator: fee lines per person over a year (small sample)."""
    import tempfile

    from fundguard.synth import generate

    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp, persons=2000, seed=7, months=12)
        return pq.ParquetFile(Path(tmp) / "feedetl.parquet").metadata.num_rows / 2000


def make_dataset(lines: int, generator: str = "auto") -> Path:
    target = DATA / f"{generator}-lines-{lines}"
    if (target / "feedetl.parquet").exists():
        return target
    if generator in ("auto", "synth"):
        try:
            from fundguard.synth import generate
        except ImportError:
            if generator == "synth":
                raise
        else:
            persons = max(1, round(lines / _synth_lines_per_person()))
            generate(target, persons=persons, seed=7, months=12)
            return target
    builtin_generate(target, lines)
    return target


def floor_seconds(dataset: Path) -> tuple[float, float]:
    """(all-column scan, narrow scan) of feedetl.parquet, each the best of two runs."""
    import duckdb

    from fundguard.engine.run import _duckdb_config  # the audit's settings (memory limit, threads)

    con = duckdb.connect(config=_duckdb_config())
    path = str(dataset / "feedetl.parquet")
    columns = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()]
    full = "SELECT " + ", ".join(f'min("{c}")' for c in columns) + " FROM read_parquet(?)"  # noqa: S608
    narrow = "SELECT count(*), sum(det_item_fee_sumamt), count(DISTINCT hilist_code), max(fee_ocur_time) FROM read_parquet(?)"
    out = []
    for sql in (full, narrow):
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            con.execute(sql, [path]).fetchall()
            best = min(best, time.perf_counter() - start)
        out.append(best)
    return out[0], out[1]


def run_one(lines: int, generator: str) -> dict:
    from fundguard.engine import run_audit

    dataset = make_dataset(lines, generator)
    floor, narrow = floor_seconds(dataset)
    out = DATA / f"out-{generator}-{lines}"
    start = time.perf_counter()
    run = run_audit(dataset, out)
    seconds = time.perf_counter() - start
    n = run["dataset"]["tables"]["feedetl"]["rows"]
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    slow = sorted(run["rules"], key=lambda r: -r["seconds"])[:5]
    return {
        "lines": n, "seconds": round(seconds, 2), "rows_per_s": round(n / seconds), "floor_seconds": round(floor, 3),
        "ratio": round(seconds / floor, 1), "narrow_seconds": round(narrow, 3), "narrow_ratio": round(seconds / narrow, 1),
        "load_seconds": round(seconds - run["timings"]["total_seconds"], 2), "peak_gb": round(peak_gb, 2), "flags": run["totals"]["flags"],
        "views_seconds": run["timings"]["views_seconds"], "rules_seconds": run["timings"]["total_seconds"],
        "slowest": {r["id"]: r["seconds"] for r in slow},
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--sizes", default="1000000,10000000", help="fee lines per dataset, comma separated")
    parser.add_argument("--generator", default="auto", choices=["auto", "synth", "builtin"],
                        help="synthetic data: fundguard.synth (auto, when installed) or the built-in generator")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.generator)))
        return 0
    # keep DuckDB's buffer pool bounded (it spills beyond it): peak memory stays well under the 8 GB target
    os.environ.setdefault("FUNDGUARD_MEMORY_LIMIT", "6GB")
    threads = os.environ.get("FUNDGUARD_THREADS")
    print(f"audit bench (cores available: {os.cpu_count()}{', threads ' + threads if threads else ''}, "
          f"DuckDB memory limit {os.environ['FUNDGUARD_MEMORY_LIMIT']})")
    checks: dict[str, bool] = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        proc = subprocess.run([sys.executable, "-m", "bench", "--one", str(size), "--generator", args.generator], cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-2000:])
            return 1
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{r['lines']:>11,} lines  audit {r['seconds']:>7.2f} s  {r['rows_per_s']:>10,} rows/s  "
            f"floor (all-column scan of feedetl) {r['floor_seconds']:.3f} s  ratio {r['ratio']}×  "
            f"peak {r['peak_gb']:.2f} GB  flags {r['flags']:,}"
        )
        print(
            f"             load+kb {r['load_seconds']:.1f} s, views {r['views_seconds']} s, views+rules {r['rules_seconds']} s; "
            f"narrow scan (4 columns) {r['narrow_seconds']:.3f} s, ratio to it {r['narrow_ratio']}×"
        )
        print(f"             slowest rules: {r['slowest']}")
        if size >= 10_000_000:
            checks = {"< 60 s": r["seconds"] < 60, "≤ 15× floor": r["ratio"] <= 15, "< 8 GB": r["peak_gb"] < 8}
    if not checks:
        print("targets (10M: < 60 s, ≤ 15× floor, < 8 GB): not measured (no 10M run)")
    else:
        print("targets at 10M:", ", ".join(f"{name} {'met' if ok else 'NOT met'}" for name, ok in checks.items()))
    return 0
