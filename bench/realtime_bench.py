"""Load test of the real-time 3101 service on loopback, next to a no-op endpoint (the framework floor).

1. Builds (once, cached in `bench-data/realtime/`) a synthetic contract dataset of persons with a year of
   history (≥ 1M fee lines) and loads it with the real `load_history` into a history store.
2. Starts the service (`fundguard.api.national:standalone_app` under uvicorn, auth on, one registered
   institution) in its own process.
3. A separate client process sends signed 3101 requests (1–50 orders each, persons drawn from the
   history store) over keep-alive connections at several concurrencies, then the same against the no-op
   endpoint, and prints p50/p99 latency and throughput for each.

Run: `python -m bench.realtime_bench [--workers 2] [--requests 2000] [--concurrency 1,4,16,32]`, or
`run(report)` from the bench runner (`report(name, dict)` receives each measured row).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench-data" / "realtime"
ORG = "H43079900001"
UNIFIED = "/fsi/api/rsfComIfsService/callService"
NOOP = "/fsi/api/noop"
TARGET_P99_MS = 20.0
TARGET_RPS = 300.0


# ---- data -----------------------------------------------------------------------------------------


def build_history(persons: int, seed: int = 7) -> tuple[Path, list[str], list[str]]:
    """A contract dataset with `persons` persons and a year of encounters (~50 fee lines each)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fundguard.contract.factories import arrow_schema
    from fundguard.kb import Edition, default_edition_path

    out = WORK / f"dataset-{persons}-{seed}"
    codes_file = WORK / f"codes-{seed}.json"
    if (out / "feedetl.parquet").exists() and codes_file.exists():
        codes = json.loads(codes_file.read_text())
        return out, codes["items"], codes["psn"]
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    kb = Edition.open(default_edition_path())
    items = sorted(c for c in kb.tables["kb_hilist"].column("hilist_code").to_pylist() if c and not c.endswith("*"))
    gender_items = sorted(c for c in kb.tables["kb_item_gender"].column("hilist_code").to_pylist() if not c.endswith("*"))
    items = items[:4000] + gender_items[:200]  # about 1 order in 20 is a sex-restricted item

    psn_no = np.array([f"P{i:08d}" for i in range(persons)])
    n_enc = rng.integers(2, 19, persons)  # mean 10 encounters a year
    enc_psn = np.repeat(np.arange(persons), n_enc)
    n_m = len(enc_psn)
    start = dt.datetime(2025, 1, 1)
    enc_day = rng.integers(0, 365, n_m)
    enc_sec = rng.integers(8 * 3600, 17 * 3600, n_m)
    inpatient = rng.random(n_m) < 0.05
    begin = [start + dt.timedelta(days=int(d), seconds=int(s)) for d, s in zip(enc_day, enc_sec, strict=True)]
    end = [b + dt.timedelta(days=3) if ip else b for b, ip in zip(begin, inpatient, strict=True)]
    mdtrt_id = np.array([f"M{i:09d}" for i in range(n_m)])
    orgs = np.array([f"H{i:04d}" for i in range(50)])
    enc_org = orgs[rng.integers(0, 50, n_m)]
    n_lines = rng.integers(1, 10, n_m)  # mean 5 lines an encounter
    line_enc = np.repeat(np.arange(n_m), n_lines)
    n_f = len(line_enc)
    cnt = rng.integers(1, 4, n_f)
    pric_cents = rng.integers(100, 20000, n_f)
    amt_cents = cnt * pric_cents
    enc_total = np.bincount(line_enc, weights=amt_cents, minlength=n_m).astype(np.int64)
    hifp = enc_total * 7 // 10

    def money(cents):
        return [Decimal(int(c)).scaleb(-2) for c in cents]

    def write(name, cols):
        pq.write_table(pa.table(cols, schema=arrow_schema(name)), out / f"{name}.parquet")

    write("psn", {"psn_no": psn_no, "gend": rng.choice(["1", "2"], persons), "brdy": [
        dt.date(1940, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 80 * 365, persons)],
        "insutype": rng.choice(["310", "390"], persons), "insu_admdvs": ["430796"] * persons, "death_date": [None] * persons})
    write("fixmedins", {"fixmedins_code": orgs, "fixmedins_name": [f"医院{o}" for o in orgs], "fixmedins_type": ["1"] * 50,
                        "medins_lv": rng.choice(["1", "2", "3"], 50), "admdvs": ["430799"] * 50, "public_flag": [True] * 50})
    write("mdtrt", {
        "mdtrt_id": mdtrt_id, "setl_id": [f"S{m}" for m in mdtrt_id], "psn_no": psn_no[enc_psn], "fixmedins_code": enc_org,
        "med_type": np.where(inpatient, "21", "11"), "begntime": begin, "endtime": end,
        "dscg_way": [("1" if ip else None) for ip in inpatient], "dept_code": ["A03"] * n_m, "atddr_no": ["D1"] * n_m,
        "medfee_sumamt": money(enc_total), "hifp_pay": money(hifp), "acct_pay": money(np.zeros(n_m, dtype=np.int64)),
        "psn_cash_pay": money(enc_total - hifp), "setl_time": end, "insu_admdvs": ["430796"] * n_m,
        "drg_code": [None] * n_m, "dip_code": [None] * n_m})
    write("diag", {"mdtrt_id": mdtrt_id, "diag_srt_no": np.ones(n_m, dtype=np.int32), "maindiag_flag": [True] * n_m,
                   "diag_code": rng.choice(["I10.x00", "E11.900", "J06.900", "K29.700"], n_m), "diag_name": ["诊断"] * n_m})
    line_code = np.array(items)[rng.integers(0, len(items), n_f)]
    write("feedetl", {
        "feedetl_sn": [f"F{i:010d}" for i in range(n_f)], "mdtrt_id": mdtrt_id[line_enc], "psn_no": psn_no[enc_psn[line_enc]],
        "fixmedins_code": enc_org[line_enc], "fee_ocur_time": [begin[i] for i in line_enc], "hilist_code": line_code,
        "medins_list_codg": line_code, "med_chrgitm_type": rng.choice(["05", "09", "11", "03", "04"], n_f),
        "cnt": [Decimal(int(c)) for c in cnt], "pric": money(pric_cents), "det_item_fee_sumamt": money(amt_cents),
        "bilg_dept_codg": ["A03"] * n_f, "bilg_dr_codg": ["D1"] * n_f, "prd_days": [None] * n_f,
        "refd_flag": [False] * n_f, "orig_feedetl_sn": [None] * n_f, "hosp_appr_flag": [False] * n_f})
    sample = [str(p) for p in psn_no[rng.choice(persons, min(persons, 5000), replace=False)]]
    codes_file.write_text(json.dumps({"items": items, "psn": sample}))
    return out, items, sample


def ensure_store(persons: int) -> tuple[Path, list[str], list[str], dict]:
    from fundguard.realtime.history import HistoryStore, load_history

    dataset, items, sample = build_history(persons)
    store = WORK / f"history-{persons}.sqlite"
    if not store.exists():
        t = time.perf_counter()
        print(f"载入历史库 {store} …", flush=True)
        load_history(dataset, store)
        print(f"  {time.perf_counter() - t:.1f} 秒", flush=True)
    return store, items, sample, HistoryStore(store).meta()


def make_payload(rng: random.Random, items: list[str], persons: list[str], n: int) -> dict:
    psn = rng.choice(persons)
    mdtrt_id = f"RT{uuid.uuid4().hex[:12]}"
    orders = []
    for i in range(n):
        code = rng.choice(items)
        pric = round(rng.uniform(1, 200), 2)
        cnt = rng.randint(1, 3)
        orders.append({"rx_id": f"{mdtrt_id}-{i}", "rxno": "RX1", "hilist_type": "201", "chrg_type": rng.choice(["05", "09", "11"]),
                       "hilist_code": code, "hilist_name": code, "cnt": cnt, "pric": pric, "sumamt": round(cnt * pric, 2),
                       "drord_begn_date": "2026-01-15 09:30:00", "drord_dr_codg": "D01", "drord_dr_profttl": "233",
                       "drord_dept_codg": "A03", "curr_drord_flag": 1})
    # a msgid of its own per message: the service answers a reused one as a resend (or refuses it, 409)
    return {
        "infno": "3101", "msgid": f"{ORG}{uuid.uuid4().int % 10**18:018d}", "mdtrtarea_admvs": "430799",
        "insuplc_admdvs": "430796", "recer_sys_code": "IMS", "infver": "V1.0", "opter_type": "1", "opter": "D01",
        "opter_name": "医生", "inf_time": "2026-01-15 09:30:00", "fixmedins_code": ORG, "fixmedins_name": "医院",
        "input": {"data": {"trig_scen": "2", "rule_ids": [], "patient_dtos": [{
            "patn_id": psn, "patn_name": "患者", "gend": rng.choice(["1", "2"]), "brdy": "1970-05-05", "poolarea": "430796",
            "curr_mdtrt_id": mdtrt_id, "fsi_encounter_dtos": [{
                "mdtrt_id": mdtrt_id, "medins_id": ORG, "medins_lv": "05", "adm_date": "2026-01-15 09:00:00",
                "dscg_date": None, "dscg_main_dise_codg": "I10.x00", "dr_codg": "D01", "adm_dept_codg": "A03",
                "med_type": "11", "insutype": "390", "hifp_payamt": 0,
                "fsi_diagnose_dtos": [{"dise_codg": "I10.x00", "maindise_flag": 1, "dias_srt_no": 1}],
                "fsi_order_dtos": orders, "fsi_operation_dtos": []}]}]}},
    }


# ---- client (its own process) ---------------------------------------------------------------------


def _raw(path: str, payload: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
            f"Content-Length: {len(payload)}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


async def _drive(port: int, requests: list[bytes], concurrency: int) -> tuple[list[float], float, int]:
    queue = list(reversed(requests))
    latencies: list[float] = []
    errors = 0

    async def worker():
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while queue:
            req = queue.pop()
            t = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            data = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            if not head.startswith(b"HTTP/1.1 200") or b'"infcode":0' not in data:
                errors += 1
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - t0, errors


def client_main(conn, port: int, secret: str, items: list[str], persons: list[str], levels: list[int], n: int, seed: int):
    from fundguard.realtime.auth import signed_headers

    rng = random.Random(seed)
    rows = []
    for target, path in (("3101", UNIFIED), ("noop", NOOP)):
        for c in levels:
            reqs = []
            for _ in range(n + 100):
                body = json.dumps(make_payload(rng, items, persons, rng.randint(1, 50)), ensure_ascii=False).encode()
                if target == "noop":
                    body = b"{}"
                reqs.append(_raw(path, body, signed_headers(ORG, secret, nonce=uuid.uuid4().hex)))
            asyncio.run(_drive(port, reqs[:100], min(c, 4)))  # warm-up
            lat, secs, errors = asyncio.run(_drive(port, reqs[100:], c))
            lat.sort()
            rows.append({"endpoint": target, "concurrency": c, "requests": len(lat), "errors": errors,
                         "p50_ms": round(statistics.median(lat) * 1000, 2),
                         "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2),
                         "rps": round(len(lat) / secs, 1)})
    conn.send(rows)
    conn.close()


# ---- orchestration --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(report=None, *, persons: int = 21000, workers: int = 2, requests: int = 2000,
        levels: tuple[int, ...] = (1, 4, 16, 32)) -> list[dict]:
    from fundguard.realtime.store import RealtimeStore

    WORK.mkdir(parents=True, exist_ok=True)
    store, items, sample, meta = ensure_store(persons)
    print(f"历史库: {meta.get('persons')} 位参保人, {meta.get('encounters')} 次就诊, {meta.get('fee_lines')} 条费用明细", flush=True)
    db = WORK / "realtime-bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    rt = RealtimeStore(f"sqlite:///{db}", background=False)
    _, secret = rt.register_institution(ORG)
    rt.close()
    port = _free_port()
    # one event loop handing requests to `workers` analysis processes (fundguard.realtime.pool): with
    # uvicorn's own --workers, most keep-alive connections land on one process
    env = dict(os.environ, FUNDGUARD_RT_DB=f"sqlite:///{db}", FUNDGUARD_RT_HISTORY=str(store),
               FUNDGUARD_RT_PROCESSES=str(workers))
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "fundguard.api.national:standalone_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning",
         "--loop", "uvloop", "--http", "httptools"],
        env=env, cwd=ROOT)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(2.0 if workers > 1 else 0.5)
        parent, child = mp.Pipe()
        ctx = mp.get_context("spawn")
        proc = ctx.Process(target=client_main, args=(child, port, secret, items, sample, list(levels), requests, 11))
        proc.start()
        rows = parent.recv()
        proc.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"\n实时 3101 负载测试 (回环, 服务 {workers} 个进程, 每请求 1–50 条医嘱, 目标 p99 ≤ {TARGET_P99_MS} ms 且 ≥ {TARGET_RPS} 请求/秒)")
    print(f"{'endpoint':<8} {'conc':>5} {'requests':>9} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for r in rows:
        print(f"{r['endpoint']:<8} {r['concurrency']:>5} {r['requests']:>9} {r['errors']:>6} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['rps']:>8}")
        if report:
            report(f"realtime_{r['endpoint']}_c{r['concurrency']}", r)
    (WORK / "results.json").write_text(json.dumps({"history": meta, "workers": workers, "rows": rows}, indent=2))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=21000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", default="1,4,16,32")
    args = ap.parse_args(argv)
    run(persons=args.persons, workers=args.workers, requests=args.requests,
        levels=tuple(int(x) for x in args.concurrency.split(",")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
