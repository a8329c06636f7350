"""Spark local next to DuckDB: the full rule library over the 1M-line synthetic dataset.

`run(lines)` audits the dataset of `bench.audit_bench.make_dataset` with both engines (Spark in local
mode, `local[2]` by default), checks that the two `flags.parquet` hold the same flags, and returns the
timings and their ratio. Target on 2 cores: Spark local within 5× of DuckDB. Spark's JVM start-up is
timed separately (a cluster pays it once per application, not per audit).
`python -m bench.spark_bench [--lines N] [--master local[2]]` prints one line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pyarrow.parquet as pq

TARGET_RATIO = 5.0


def _flags(path) -> list[tuple]:
    table = pq.read_table(path)
    cols = [c for c in table.column_names if c != "run_id"]
    return sorted(zip(*(table.column(c).to_pylist() for c in cols), strict=True), key=lambda r: r[0])


def run(lines: int = 1_000_000, *, generator: str = "auto", master: str = "local[2]") -> dict:
    from bench.audit_bench import DATA, make_dataset
    from fundguard.engine import run_audit
    from fundguard.engine.backends.spark import run_audit_spark, spark_session

    dataset = make_dataset(lines, generator)
    out_duck = DATA / f"out-{generator}-{lines}-duckdb"
    out_spark = DATA / f"out-{generator}-{lines}-spark"

    start = time.perf_counter()
    duck = run_audit(dataset, out_duck)
    duck_s = time.perf_counter() - start

    start = time.perf_counter()
    spark = spark_session(master, app_name="fundguard-bench")
    spark.sparkContext.setLogLevel("ERROR")
    startup_s = time.perf_counter() - start
    try:
        start = time.perf_counter()
        sp = run_audit_spark(dataset, out_spark, spark=spark)
        spark_s = time.perf_counter() - start
    finally:
        spark.stop()

    same = _flags(out_duck / "flags.parquet") == _flags(out_spark / "flags.parquet")
    slow = sorted(sp["rules"], key=lambda r: -r["seconds"])[:5]
    return {
        "lines": duck["dataset"]["tables"]["feedetl"]["rows"],
        "master": master,
        "duckdb_seconds": round(duck_s, 2),
        "spark_seconds": round(spark_s, 2),
        "spark_startup_seconds": round(startup_s, 2),
        "ratio": round(spark_s / duck_s, 2),
        "flags": duck["totals"]["flags"],
        "same_flags": same,
        "spark_views_seconds": sp["timings"]["views_seconds"],
        "spark_slowest": {r["id"]: r["seconds"] for r in slow},
    }


def report(r: dict) -> str:
    verdict = "met" if r["ratio"] <= TARGET_RATIO and r["same_flags"] else "NOT met"
    return (
        f"{r['lines']:>11,} lines  DuckDB {r['duckdb_seconds']:.2f} s  Spark {r['master']} {r['spark_seconds']:.2f} s "
        f"(+ JVM start {r['spark_startup_seconds']:.1f} s)  ratio {r['ratio']}×  flags {r['flags']:,} "
        f"{'identical' if r['same_flags'] else 'DIFFERENT'}\n"
        f"             Spark slowest rules: {r['spark_slowest']}\n"
        f"target (Spark local ≤ {TARGET_RATIO:g}× DuckDB, identical flags): {verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spark_bench")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--generator", default="auto", choices=["auto", "synth", "builtin"])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        import pyspark  # noqa: F401
    except ImportError:
        print("spark bench skipped: PySpark not installed (pip install 'fundguard[spark]')")
        return 0
    r = run(args.lines, generator=args.generator, master=args.master)
    print(json.dumps(r) if args.json else "spark bench\n" + report(r))
    return 0 if r["same_flags"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
