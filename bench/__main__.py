"""`python -m bench` (`make bench`): run every benchmark and print its numbers.

`python -m bench` runs all of them; `python -m bench audit spark` runs the named ones; options after
`--` go to the audit bench (e.g. `python -m bench audit -- --sizes 1000000`). Each bench reports its
figures next to a baseline measured in the same run (a plain scan, DuckDB, a no-op endpoint).
"""

from __future__ import annotations

import sys

from bench import audit_bench

BENCHES = ("audit", "spark", "realtime", "web")


def main(argv: list[str]) -> int:
    if "--one" in argv:  # the audit bench's per-size subprocess
        return audit_bench.main(argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    unknown = [a for a in argv if a not in BENCHES]
    if unknown:
        print(f"unknown bench {unknown}; choose from {', '.join(BENCHES)}")
        return 2
    selected = argv or list(BENCHES)
    status = 0
    for name in selected:
        print(f"\n=== {name} bench ===", flush=True)
        if name == "audit":
            rc = audit_bench.main(extra)
        elif name == "spark":
            from bench import spark_bench

            rc = spark_bench.main([])
        elif name == "realtime":
            from bench import realtime_bench

            rc = realtime_bench.main([])
        else:
            from bench import web_bench

            rc = web_bench.main([])
        status = status or rc
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
