"""Rules of a bureau's library that have no Python twin for their SQL run in real time by that SQL.

A `sql` rule's real-time twin (`realtime/custom/<ID>.py`) implements the built-in SQL only. When a
library edits that SQL, or adds a `sql` rule with real-time scenes, the request is judged by the rule's
own SQL instead: the frame's contract rows (the request with the person's history) and the knowledge
edition go into an in-memory DuckDB, the curated views are built over them and the rule runs exactly
as in the batch audit (`DuckDBBackend`). Slower than a twin (measured: ~80 ms per request with one such
rule, ~115 ms with eight, against ~1 ms; one such evaluation at a time), and the batch engine's flags by
construction (tests/realtime/test_parity.py runs every built-in sql rule's examples this way too).
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import duckdb

from fundguard.contract.factories import to_arrow
from fundguard.contract.tables import TABLES
from fundguard.engine.backends.duckdb import DuckDBBackend
from fundguard.engine.flags import rule_version
from fundguard.engine.rule import Granularity, ParamValue, Rule
from fundguard.engine.run import confine
from fundguard.kb.edition import register_tables
from fundguard.realtime.frame import Frame
from fundguard.realtime.knowledge import Knowledge

#: what the runner reads back of each flag (engine/flags.py FLAG_COLUMNS)
_FLAG_SELECT = "SELECT flag_id, flag_key, vola_amt, message, psn_no, mdtrt_id, feedetl_sn, mdtrt_ids, evidence FROM _flags"


class SqlRunner:
    """One in-memory DuckDB holding the knowledge edition; each evaluation loads a frame's rows into it."""

    def __init__(self, kb: Knowledge):
        self.kb = kb
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            con = duckdb.connect()
            con.execute("SET enable_progress_bar = false")
            register_tables(con, self.kb.arrow)
            confine(con)  # rule SQL reads the tables it is given, no file
            self._con = con
        return self._con

    def evaluate(self, rules: list[Rule], params: dict[str, dict[str, ParamValue]], frame: Frame) -> dict[str, list[dict]]:
        """The flags of each rule over the frame, as `_flags` rows of the batch backend."""
        if not rules:
            return {}
        with self._lock:
            con = self._connection()
            for table in TABLES:
                arrow = to_arrow(table.name, frame.tables.get(table.name) or [])
                con.register("_frame_rows", arrow)
                try:
                    con.execute(f"CREATE OR REPLACE TABLE {table.name} AS SELECT * FROM _frame_rows")  # noqa: S608
                finally:
                    con.unregister("_frame_rows")
            backend = DuckDBBackend(con)
            backend.build_views({t for r in rules for t in r.kb_tables})
            out: dict[str, list[dict]] = {}
            for rule in rules:
                p = params.get(rule.id) or rule.defaults()
                backend.run_rule(rule, p, run_id="realtime", version=rule_version(rule, p), kb_hash=self.kb.content_hash)
                cur = con.execute(_FLAG_SELECT + " WHERE rule_id = ? ORDER BY flag_key", [rule.id])
                names = [d[0] for d in cur.description]
                out[rule.id] = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
            return out

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def flag_fields(rule: Rule, row: dict) -> dict:
    """A `_flags` row as the real-time `Flag`'s fields (per-line amounts for line flags only, as in batch)."""
    lines = list(row["feedetl_sn"] or [])
    amount = Decimal(row["vola_amt"]).quantize(Decimal("0.01"))
    return {
        "rule": rule,
        "flag_key": row["flag_key"],
        "flag_id": row["flag_id"],
        "vola_amt": amount,
        "message": row["message"],
        "psn_no": row["psn_no"],
        "mdtrt_id": row["mdtrt_id"],
        "feedetl_sns": lines,
        "mdtrt_ids": list(row["mdtrt_ids"] or []),
        "line_amts": {lines[0]: amount} if rule.granularity is Granularity.LINE and lines else {},
        "evidence": json.loads(row["evidence"] or "{}").get("values") or {},
    }
