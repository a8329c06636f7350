"""`python -m bench`: run every benchmark and print its numbers."""

from __future__ import annotations

import sys

from bench import audit_bench


def main(argv: list[str]) -> int:
    return audit_bench.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
