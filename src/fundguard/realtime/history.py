"""The history store: each person's past settled encounters and fee lines, keyed by `psn_no`.

Real-time rules that look back (repeat prescriptions, frequent visits) need the person's history in a
few milliseconds. `load_history(dataset, store)` validates a contract dataset with the real loader and
writes one SQLite file: one row per person holding that person's rows (zlib-compressed JSON, typed
columns as text), plus the institution and practitioner tables. A lookup is one primary-key read and a
small decode (well under a millisecond for a year of history). The file is replaced atomically, so a
running server never sees half a load; `HistoryStore` reopens when the file changes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from fundguard.contract.tables import TABLES_BY_NAME, ColumnType

FORMAT_VERSION = "1"
PERSON_TABLES = ("psn", "mdtrt", "diag", "feedetl")
SHARED_TABLES = ("fixmedins", "practitioner")


class HistoryError(ValueError):
    pass


@dataclass
class LoadSummary:
    persons: int
    encounters: int
    fee_lines: int
    seconds: float
    path: str


def _columns(table: str) -> list[tuple[str, ColumnType]]:
    return [(c.name, c.type) for c in TABLES_BY_NAME[table].columns]


def _time_text(col: str) -> str:
    """A time as text to the microsecond, as the contract keeps it (batch data may carry fractions of a
    second, and orders ties by them). A whole second is written without a fraction, as every store did
    before fractions were kept: such stores read the same, and whole-second data gives the same file."""
    return (f"CASE WHEN epoch_us({col}) % 1000000 = 0 THEN strftime({col}, '%Y-%m-%d %H:%M:%S') "
            f"ELSE strftime({col}, '%Y-%m-%d %H:%M:%S.%f') END")


def _select_text(table: str, alias: str) -> str:
    """Every column, decimals and times as text (decoded in Python only for the person asked for)."""
    out = []
    for name, typ in _columns(table):
        col = f"{alias}.{name}"
        if typ in (ColumnType.DECIMAL, ColumnType.DATE):
            out.append(f"CAST({col} AS VARCHAR)")
        elif typ is ColumnType.TIME:
            out.append(_time_text(col))
        else:
            out.append(col)
    return ", ".join(out)


_QUERIES = {
    "psn": f"SELECT p.psn_no, {_select_text('psn', 'p')} FROM psn p ORDER BY p.psn_no",
    "mdtrt": f"SELECT m.psn_no, {_select_text('mdtrt', 'm')} FROM mdtrt m ORDER BY m.psn_no, m.begntime, m.mdtrt_id",
    "diag": f"SELECT m.psn_no, {_select_text('diag', 'd')} FROM diag d JOIN mdtrt m ON m.mdtrt_id = d.mdtrt_id "
    "ORDER BY m.psn_no, d.mdtrt_id, d.diag_srt_no",
    "feedetl": f"SELECT f.psn_no, {_select_text('feedetl', 'f')} FROM feedetl f "
    "ORDER BY f.psn_no, f.fee_ocur_time, f.feedetl_sn",
}


def _grouped(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[tuple[str, list[tuple]]]:
    cur = con.cursor()
    cur.execute(sql)
    key, group = None, []
    while True:
        batch = cur.fetchmany(20_000)
        if not batch:
            break
        for row in batch:
            if row[0] != key:
                if group:
                    yield key, group
                key, group = row[0], []
            group.append(row[1:])
    if group:
        yield key, group
    cur.close()


def load_history(dataset: Path | str, store: Path | str, *, progress: Callable[[int], None] | None = None) -> LoadSummary:
    """Validate `dataset` (contract loader, all-or-nothing) and replace `store` with its history."""
    from fundguard.contract import load_dataset

    start = time.perf_counter()
    store = Path(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        load_dataset(Path(dataset), con)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{store.name}.", suffix=".tmp", dir=store.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            out = sqlite3.connect(tmp)
            out.execute("PRAGMA journal_mode=OFF")
            out.execute("PRAGMA synchronous=OFF")
            out.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            out.execute("CREATE TABLE history (psn_no TEXT PRIMARY KEY, encounters INTEGER, fee_lines INTEGER, "
                        "payload BLOB NOT NULL) WITHOUT ROWID")
            out.execute("CREATE TABLE shared (name TEXT PRIMARY KEY, payload BLOB NOT NULL)")
            for name in SHARED_TABLES:
                rows = con.execute(f"SELECT {_select_text(name, 't')} FROM {name} t").fetchall()  # noqa: S608
                out.execute("INSERT INTO shared VALUES (?, ?)", (name, _pack(rows)))
            iters = {name: _grouped(con, sql) for name, sql in _QUERIES.items()}
            heads = {name: next(it, None) for name, it in iters.items()}
            persons = encounters = lines = 0
            batch: list[tuple] = []
            while heads["psn"] is not None:
                psn_no, psn_rows = heads["psn"]
                payload: dict[str, list] = {"psn": psn_rows}
                for name in ("mdtrt", "diag", "feedetl"):
                    head = heads[name]
                    # every mdtrt/feedetl row has a person (the loader checks references)
                    if head is not None and head[0] == psn_no:
                        payload[name] = head[1]
                        heads[name] = next(iters[name], None)
                n_m, n_f = len(payload.get("mdtrt", ())), len(payload.get("feedetl", ()))
                persons, encounters, lines = persons + 1, encounters + n_m, lines + n_f
                batch.append((psn_no, n_m, n_f, _pack(payload)))
                if len(batch) >= 2000:
                    out.executemany("INSERT INTO history VALUES (?, ?, ?, ?)", batch)
                    batch.clear()
                    if progress:
                        progress(persons)
                heads["psn"] = next(iters["psn"], None)
            out.executemany("INSERT INTO history VALUES (?, ?, ?, ?)", batch)
            sales = _write_trace_sales(con, out)
            meta = {
                "format_version": FORMAT_VERSION,
                "source": str(Path(dataset).resolve()),
                "loaded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "persons": str(persons),
                "encounters": str(encounters),
                "fee_lines": str(lines),
                "trace_sales": str(sales),
            }
            out.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
            out.commit()
            out.close()
            os.chmod(tmp, 0o644)
            os.replace(tmp, store)
        finally:
            if tmp.exists():
                tmp.unlink()
    finally:
        con.close()
    return LoadSummary(persons, encounters, lines, time.perf_counter() - start, str(store))


#: every active sale of a traceability code in the dataset (a refunded sale is not a sale, as in C06): the
#: index C06 (回流药) reads in real time, across persons and institutions
_TRACE_SALES = f"""
SELECT t.drug_trac_codg, f.feedetl_sn, {_time_text("f.fee_ocur_time")}, f.mdtrt_id
FROM drug_trac t
JOIN feedetl f ON f.feedetl_sn = t.feedetl_sn
LEFT JOIN fee_netting n ON n.orig_sn = f.feedetl_sn
WHERE t.drug_trac_codg IS NOT NULL AND NOT f.refd_flag AND f.cnt + COALESCE(n.refund_cnt, 0) > 0
"""


def _write_trace_sales(con: duckdb.DuckDBPyConnection, out: sqlite3.Connection) -> int:
    from fundguard.engine.views import FEE_NETTING, FEE_REFUNDS

    out.execute("CREATE TABLE trace_sale (code TEXT NOT NULL, feedetl_sn TEXT NOT NULL, fee_ocur_time TEXT NOT NULL, "
                "mdtrt_id TEXT NOT NULL, PRIMARY KEY (code, feedetl_sn)) WITHOUT ROWID")
    if not con.execute("SELECT count(*) FROM drug_trac").fetchone()[0]:
        return 0
    con.execute(FEE_REFUNDS)
    con.execute(FEE_NETTING)
    cur = con.cursor()
    cur.execute(_TRACE_SALES)
    n = 0
    while rows := cur.fetchmany(50_000):
        out.executemany("INSERT OR IGNORE INTO trace_sale VALUES (?, ?, ?, ?)", rows)
        n += len(rows)
    return n


def _pack(obj: Any) -> bytes:
    return zlib.compress(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode(), 1)


def _converter(typ: ColumnType) -> Callable[[Any], Any] | None:
    if typ is ColumnType.DECIMAL:
        return Decimal
    if typ is ColumnType.TIME:
        return dt.datetime.fromisoformat
    if typ is ColumnType.DATE:
        return dt.date.fromisoformat
    return None


_DECODERS = {
    name: [(col, _converter(typ)) for col, typ in _columns(name)] for name in PERSON_TABLES + SHARED_TABLES
}


def _decode(table: str, rows: list[list]) -> list[dict]:
    spec = _DECODERS[table]
    out = []
    for row in rows:
        rec = {}
        for (col, conv), value in zip(spec, row, strict=True):
            rec[col] = conv(value) if conv is not None and value is not None else value
        out.append(rec)
    return out


class HistoryStore:
    """Read side of a history file; safe across threads (one SQLite connection per thread)."""

    def __init__(self, path: Path | str | None):
        self.path = Path(path) if path else None
        self._local = threading.local()
        self._shared: dict[str, dict[str, dict]] | None = None
        self._mtime: float | None = None
        self._lock = threading.Lock()
        #: every thread's connection, so that `close` closes them all (requests run in a thread pool)
        self._conns: set[sqlite3.Connection] = set()

    @property
    def available(self) -> bool:
        return self.path is not None and self.path.exists()

    def _conn(self) -> sqlite3.Connection | None:
        # the file's identity is checked at most once a second (a reload replaces the file)
        now = time.monotonic()
        checked = getattr(self._local, "checked", None)
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn not in self._conns:  # closed by `close`
            conn = self._local.conn = None
        if conn is not None and checked is not None and now - checked < 1.0:
            return conn
        self._local.checked = now
        if not self.available:
            return None
        mtime = self.path.stat().st_mtime_ns
        if conn is None or getattr(self._local, "mtime", None) != mtime:
            if conn is not None:
                conn.close()
                with self._lock:
                    self._conns.discard(conn)
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            conn.execute("PRAGMA mmap_size=268435456")
            self._local.conn, self._local.mtime = conn, mtime
            with self._lock:
                self._conns.add(conn)
                if self._mtime != mtime:
                    self._shared = None
                    self._mtime = mtime
        return conn

    def meta(self) -> dict[str, str]:
        conn = self._conn()
        if conn is None:
            return {}
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())

    def _shared_tables(self, conn: sqlite3.Connection) -> dict[str, dict[str, dict]]:
        shared = self._shared
        if shared is None:
            shared = {}
            for name, payload in conn.execute("SELECT name, payload FROM shared").fetchall():
                rows = _decode(name, json.loads(zlib.decompress(payload)))
                key = "fixmedins_code" if name == "fixmedins" else "prac_psn_code"
                shared[name] = {r[key]: r for r in rows}
            self._shared = shared
        return shared

    def get(self, psn_no: str) -> dict[str, list[dict]] | None:
        """The person's rows by contract table (with the institutions and practitioners they refer to)."""
        conn = self._conn()
        if conn is None:
            return None
        hit = conn.execute("SELECT payload FROM history WHERE psn_no = ?", (psn_no,)).fetchone()
        if hit is None:
            return None
        raw = json.loads(zlib.decompress(hit[0]))
        out = {name: _decode(name, raw.get(name) or []) for name in PERSON_TABLES}
        shared = self._shared_tables(conn)
        orgs = {m["fixmedins_code"] for m in out["mdtrt"]}
        out["fixmedins"] = [shared["fixmedins"][c] for c in sorted(orgs) if c in shared["fixmedins"]]
        docs = {f["bilg_dr_codg"] for f in out["feedetl"]}
        out["practitioner"] = [shared["practitioner"][c] for c in sorted(docs) if c in shared["practitioner"]]
        return out

    def trace_sales(self, codes: list[str]) -> list[dict]:
        """The stored active sales of these traceability codes (any person, any institution): code,
        `feedetl_sn`, `fee_ocur_time`, `mdtrt_id`. A store written before this index existed has none."""
        conn = self._conn()
        if conn is None or not codes:
            return []
        out = []
        for start in range(0, len(codes), 500):
            chunk = codes[start:start + 500]
            try:
                rows = conn.execute(
                    f"SELECT code, feedetl_sn, fee_ocur_time, mdtrt_id FROM trace_sale WHERE code IN ({', '.join('?' * len(chunk))})",  # noqa: S608
                    chunk,
                ).fetchall()
            except sqlite3.OperationalError:  # no trace_sale table: a store from an earlier release
                return []
            out.extend({"drug_trac_codg": c, "feedetl_sn": sn, "fee_ocur_time": dt.datetime.fromisoformat(t), "mdtrt_id": m}
                       for c, sn, t, m in rows)
        return out

    def close(self) -> None:
        """Close every thread's connection (a thread that reads again afterwards opens a new one)."""
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            conn.close()
        self._local.conn = None
