"""Web bench: page and API response times with 1M flags in a run (`python -m bench.web_bench [--flags N]`).

Writes a flags.parquet of N flags (engine schema) over a dataset of institutions in several regions, builds
the index (timed), then times each page through the app as a logged-in auditor and as an institution user:
the dashboard, the flag browser (first page, a deep keyset page, each filter, each sort), a flag's evidence,
an institution profile and the Excel export of a filter. Target: every page under 1 s.
Output: one line per measurement, median and max of several requests, plus PASS/FAIL against the target.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

TARGET_SECONDS = 1.0


def write_flags(path: Path, n: int, orgs: list[tuple[str, str]], seed: int = 1) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fundguard.engine.flags import FLAG_SCHEMA

    rng = np.random.default_rng(seed)
    rules = np.array(["A01", "A02", "A05", "B01", "B02", "B05", "C01", "C02", "C05", "D01", "D05", "E02"])
    chunk = 250_000
    writer = pq.ParquetWriter(path, FLAG_SCHEMA)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        ids = np.arange(start, start + m)
        org_idx = rng.integers(0, len(orgs), m)
        cents = rng.integers(0, 500_000, m)
        table = pa.table({
            "flag_id": [f"{i:032x}" for i in ids],
            "run_id": ["bench"] * m,
            "rule_id": rules[rng.integers(0, len(rules), m)].tolist(),
            "rule_version": ["v1"] * m,
            "sev_deg": rng.integers(1, 4, m).astype("int32"),
            "granularity": ["line"] * m,
            "psn_no": [f"P{x:010d}" for x in rng.integers(0, 200_000, m)],
            "mdtrt_id": [f"M{i:09d}" for i in ids],
            "setl_id": [f"S{i:09d}" for i in ids],
            "fixmedins_code": [orgs[k][0] for k in org_idx],
            "feedetl_sn": [[f"F{i:010d}"] for i in ids],
            "mdtrt_ids": [[f"M{i:09d}"] for i in ids],
            "vola_amt": pa.array([Decimal(int(c)).scaleb(-2) for c in cents], pa.decimal128(16, 2)),
            "message": [f"基准疑点 {i}" for i in ids],
            "evidence": ['{"params":{},"values":{}}'] * m,
            "flag_key": [f"F{i:010d}" for i in ids],
        }, schema=FLAG_SCHEMA)
        writer.write_table(table)
    writer.close()


def write_run(folder: Path, dataset: Path, n: int) -> None:
    (folder / "run.json").write_text(json.dumps({
        "run_id": "bench", "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:10:00+00:00",
        "engine": "duckdb", "dataset": {"path": str(dataset), "tables": {}}, "kb": {},
        "rules": [], "totals": {"flags": n, "vola_amt": "0.00"},
    }), encoding="utf-8")


def timed(client, url: str, repeat: int) -> tuple[float, float, int]:
    times = []
    status = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(url)
        times.append(time.perf_counter() - t0)
        status = r.status_code
    return statistics.median(times), max(times), status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="keep the data here (default: a temp folder)")
    args = parser.parse_args(argv)

    from fastapi.testclient import TestClient

    from fundguard.api.app import create_app
    from fundguard.contract.factories import build_tables, write_dataset
    from fundguard.workspace import AppConfig, Role, Services

    root = args.dir or Path(tempfile.mkdtemp(prefix="fg-web-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    orgs = [(f"H{i:05d}", f"{['110', '310', '440', '510'][i % 4]}{i % 7:03d}") for i in range(400)]
    dataset = write_dataset(build_tables({"fixmedins": [
        {"fixmedins_code": c, "admdvs": a, "fixmedins_name": f"医院{c}"} for c, a in orgs]}), root / "dataset")
    run_dir = root / "ws" / "bench"
    run_dir.mkdir(parents=True, exist_ok=True)
    flags_path = run_dir / "flags.parquet"
    t0 = time.perf_counter()
    if not flags_path.exists():
        write_flags(flags_path, args.flags, orgs)
    write_run(run_dir, dataset, args.flags)
    print(f"web_bench: {args.flags:,} flags, {len(orgs)} institutions; parquet written in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    services = Services(AppConfig(workspace=root / "ws", db_url=f"sqlite:///{root / 'app.db'}"))
    print(f"index build (or reuse) + app services: {time.perf_counter() - t0:.1f} s")
    for username, role, org in (("bench_aud", Role.AUDITOR, None), ("bench_inst", Role.INSTITUTION, orgs[3][0])):
        if services.users.by_name(username) is None:
            services.users.create(username, "bench-password", role, fixmedins_code=org)
    app = create_app(services.config, services=services)
    failures = 0
    deep = None
    with TestClient(app) as client:
        client.post("/api/v1/session", json={"username": "bench_aud", "password": "bench-password"})
        after = None
        for _ in range(20):  # walk 20 pages to get a cursor deep into the result
            page = client.get("/api/v1/runs/bench/flags", params={"limit": 100, **({"after": after} if after else {})}).json()
            after = page["next_cursor"]
        deep = after
        fid = page["items"][0]["flag_id"]
        cases = [
            ("dashboard", "/runs/bench/"),
            ("flags: first page", "/runs/bench/flags"),
            ("flags: 21st page (keyset)", f"/runs/bench/flags?after={deep}"),
            ("flags: rule", "/runs/bench/flags?rule_id=B02"),
            ("flags: severity", "/runs/bench/flags?sev_deg=1"),
            ("flags: institution", f"/runs/bench/flags?fixmedins_code={orgs[5][0]}"),
            ("flags: region (province)", "/runs/bench/flags?admdvs=31"),
            ("flags: region (city)", "/runs/bench/flags?admdvs=4400"),
            ("flags: date range", "/runs/bench/flags?date_from=2025-01-01&date_to=2025-12-31"),
            ("flags: amount range", "/runs/bench/flags?amount_min=1000&amount_max=1200"),
            ("flags: rule+sev+region", "/runs/bench/flags?rule_id=C01&sev_deg=2&admdvs=44"),
            ("flags: amount ascending", "/runs/bench/flags?sort=amount_asc"),
            ("flags: date descending", "/runs/bench/flags?sort=date_desc"),
            ("flag evidence", f"/runs/bench/flags/{fid}"),
            ("institution profile", f"/runs/bench/institutions/{orgs[5][0]}"),
            ("institutions", "/runs/bench/institutions"),
            ("api: flags page", "/api/v1/runs/bench/flags?limit=100&sev_deg=3"),
            ("api: summary", "/api/v1/runs/bench/summary"),
            ("rules", "/rules"),
            ("export xlsx (one institution)", f"/runs/bench/flags.xlsx?fixmedins_code={orgs[7][0]}"),
        ]
        print(f"{'page (auditor, all regions)':40s} {'median':>8s} {'max':>8s}  status")
        for name, url in cases:
            med, worst, status = timed(client, url, args.repeat)
            ok = status == 200 and worst < TARGET_SECONDS
            failures += 0 if ok else 1
            print(f"{name:40s} {med * 1000:7.1f}ms {worst * 1000:7.1f}ms  {status} {'PASS' if ok else 'FAIL'}")
        client.delete("/api/v1/session")
        client.post("/api/v1/session", json={"username": "bench_inst", "password": "bench-password"})
        print(f"{'page (institution user)':40s}")
        for name, url in [("dashboard", "/runs/bench/"), ("flags: first page", "/runs/bench/flags"),
                          ("flags: severity", "/runs/bench/flags?sev_deg=2")]:
            med, worst, status = timed(client, url, args.repeat)
            ok = status == 200 and worst < TARGET_SECONDS
            failures += 0 if ok else 1
            print(f"{name:40s} {med * 1000:7.1f}ms {worst * 1000:7.1f}ms  {status} {'PASS' if ok else 'FAIL'}")
    print(f"web_bench: {'PASS' if not failures else f'FAIL ({failures})'} — target {TARGET_SECONDS:.1f} s per page")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
