"""The real-time service's own tables (prefix `rt_`): institutions and their secrets, the call log,
the results returned, 3103 feedback and used nonces. SQLAlchemy 2: a SQLite file by default, any URL
(PostgreSQL in production).

Secrets: the `x-tif-signature` scheme needs the raw secret on the server, so it is stored as given
(protect the database like a key store); it is never logged and only printed once, at registration.
Personal identifiers are not stored raw: the call log keeps a salted hash of `patn_id`.

Call-log rows are written by a background thread in small batches, so a request never waits for the
database; `flush()` waits until everything queued is written (tests, shutdown). Nonces are checked
synchronously (a unique key), so a replay is refused even across server processes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import queue
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fundguard.contract.masking import mask_id

log = logging.getLogger("fundguard.realtime")


class Base(DeclarativeBase):
    pass


class Institution(Base):
    __tablename__ = "rt_institution"

    fixmedins_code: Mapped[str] = mapped_column(String(30), primary_key=True)
    paasid: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(String(128))  # raw: the signature needs it (see module doc)
    name: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Call(Base):
    """One 3101/3102/3103 call (also those rejected: `status` says so, and nothing else is recorded)."""

    __tablename__ = "rt_call"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    day: Mapped[str] = mapped_column(String(10), index=True)
    infno: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16))  # analysed, feedback, rejected, refused
    msgid: Mapped[str | None] = mapped_column(String(64))
    request_digest: Mapped[str] = mapped_column(String(64))
    trig_scen: Mapped[str | None] = mapped_column(String(32))
    fixmedins_code: Mapped[str | None] = mapped_column(String(30), index=True)
    dr_codg: Mapped[str | None] = mapped_column(String(30))
    patn_hash: Mapped[str | None] = mapped_column(String(16))
    mdtrt_id: Mapped[str | None] = mapped_column(String(50))
    rules_run: Mapped[str | None] = mapped_column(Text)
    rules_fired: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[int] = mapped_column(Integer, default=0)
    vola_amt: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal(0))
    infcode: Mapped[int] = mapped_column(Integer)
    err_msg: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[Decimal] = mapped_column(Numeric(10, 3))


class Result(Base):
    """One `output.result[]` entry returned by a 3101/3102."""

    __tablename__ = "rt_result"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(32), index=True)
    jr_id: Mapped[str] = mapped_column(String(50), index=True)
    day: Mapped[str] = mapped_column(String(10))
    infno: Mapped[str] = mapped_column(String(4))
    rule_id: Mapped[str] = mapped_column(String(10), index=True)
    sev_deg: Mapped[int] = mapped_column(Integer)
    vola_amt: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    fixmedins_code: Mapped[str | None] = mapped_column(String(30))
    dr_codg: Mapped[str | None] = mapped_column(String(30))
    mdtrt_id: Mapped[str | None] = mapped_column(String(50))


class Feedback(Base):
    """One `warns[]` entry of a 3103: how the doctor reacted to a result (`jr_id` = `warn_rslt_id`)."""

    __tablename__ = "rt_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(32), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    day: Mapped[str] = mapped_column(String(10))
    warn_type: Mapped[str | None] = mapped_column(String(3))
    warn_rslt_id: Mapped[str] = mapped_column(String(50), index=True)
    dspo_way: Mapped[str] = mapped_column(String(3))
    dspo_way_rea: Mapped[str | None] = mapped_column(String(500))
    fixmedins_code: Mapped[str | None] = mapped_column(String(30))
    #: from the result it answers (null when the jr_id is unknown here)
    rule_id: Mapped[str | None] = mapped_column(String(10))
    dr_codg: Mapped[str | None] = mapped_column(String(30))


class Nonce(Base):
    __tablename__ = "rt_nonce"
    __table_args__ = (UniqueConstraint("paasid", "nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    paasid: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(128))
    ts: Mapped[int] = mapped_column(Integer, index=True)


def hash_identifier(value: str | None, salt: str = "fundguard-rt") -> str | None:
    if value is None:
        return None
    return hashlib.sha256(f"{salt}|{value}".encode()).hexdigest()[:16]


def mask(value: str | None) -> str:
    """A personal identifier for a log line, masked as everywhere else (`mask_id`); `-` when absent."""
    return mask_id(value) or "-"


_CALL_DEFAULTS = {"msgid": None, "trig_scen": None, "fixmedins_code": None, "dr_codg": None, "patn_hash": None,
                  "mdtrt_id": None, "rules_run": None, "rules_fired": None, "flags": 0, "vola_amt": Decimal("0.00"),
                  "err_msg": None}


@dataclass
class CallRecord:
    call: dict[str, Any]
    results: list[dict[str, Any]]
    feedback: list[dict[str, Any]]


class SqliteNonces:
    """Used nonces in a SQLite file shared by every server process (one connection per thread)."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("CREATE TABLE IF NOT EXISTS rt_nonce (paasid TEXT, nonce TEXT, ts INTEGER, "
                         "PRIMARY KEY (paasid, nonce)) WITHOUT ROWID")
            self._local.conn = conn
        return conn

    def use(self, paasid: str, nonce: str, ts: int, *, window: int) -> bool:
        conn = self._conn()
        try:
            conn.execute("INSERT INTO rt_nonce VALUES (?, ?, ?)", (paasid, nonce, ts))
        except sqlite3.IntegrityError:
            return False
        if secrets.randbelow(1000) == 0:
            conn.execute("DELETE FROM rt_nonce WHERE ts < ?", (ts - 2 * window,))
        return True


def _engine(url: str):
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _fit(model: type[Base], row: dict) -> dict:
    """`row` with each text cut to its column's length: values come from callers (msgid, mdtrt_id,
    warn_rslt_id…), and one over-long value would fail the whole batch insert on PostgreSQL (SQLite does
    not check lengths), losing the other calls queued with it."""
    limits = _LIMITS.get(model)
    if limits is None:
        limits = _LIMITS[model] = {c.name: c.type.length for c in model.__table__.columns
                                   if isinstance(c.type, String) and c.type.length}
    return {k: v[: limits[k]] if isinstance(v, str) and k in limits and len(v) > limits[k] else v for k, v in row.items()}


_LIMITS: dict[type, dict[str, int]] = {}


class RealtimeStore:
    def __init__(self, url: str, *, background: bool = True):
        self.url = url
        self.engine = _engine(url)
        Base.metadata.create_all(self.engine)
        self._queue: queue.Queue[CallRecord | None] = queue.Queue()
        self._pending = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._background = background
        self._institutions: dict[str, tuple[float, Institution | None]] = {}
        # With SQLite, nonces live in their own small file without fsync: they are worthless after the
        # timestamp window, and a commit there never waits behind the call log's batches.
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") and ":memory:" not in url else None
        self._nonces = SqliteNonces(Path(path + ".nonces")) if path else None

    # ---- institutions ------------------------------------------------------------------------------

    def register_institution(self, code: str, *, secret: str | None = None, paasid: str | None = None,
                             name: str | None = None) -> tuple[str, str]:
        """Register (or re-key) an institution; returns (paasid, secret)."""
        secret = secret or secrets.token_urlsafe(32)
        paasid = paasid or code
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with self.engine.begin() as con:
            con.execute(delete(Institution).where(Institution.fixmedins_code == code))
            con.execute(insert(Institution).values(fixmedins_code=code, paasid=paasid, secret=secret, name=name,
                                                   active=True, created_at=now))
        self._institutions.clear()
        return paasid, secret

    def institutions(self) -> list[dict]:
        with self.engine.connect() as con:
            rows = con.execute(select(Institution.fixmedins_code, Institution.paasid, Institution.name,
                                      Institution.active, Institution.created_at).order_by(Institution.fixmedins_code))
            return [dict(r._mapping) for r in rows]

    def institution_by_paasid(self, paasid: str, *, ttl: float = 30.0) -> Institution | None:
        import time

        now = time.monotonic()
        hit = self._institutions.get(paasid)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
        with self.engine.connect() as con:
            row = con.execute(select(Institution).where(Institution.paasid == paasid, Institution.active)).first()
        inst = None
        if row is not None:
            r = row._mapping
            inst = Institution(fixmedins_code=r["fixmedins_code"], paasid=r["paasid"], secret=r["secret"],
                               name=r["name"], active=r["active"], created_at=r["created_at"])
            self._institutions[paasid] = (now, inst)
        return inst

    # ---- nonces ------------------------------------------------------------------------------------

    def use_nonce(self, paasid: str, nonce: str, ts: int, *, window: int) -> bool:
        """Record a nonce; False when it was already used (a replay)."""
        if self._nonces is not None:
            return self._nonces.use(paasid, nonce, ts, window=window)
        try:
            with self.engine.begin() as con:
                con.execute(insert(Nonce).values(paasid=paasid, nonce=nonce, ts=ts))
                if secrets.randbelow(500) == 0:
                    con.execute(delete(Nonce).where(Nonce.ts < ts - 2 * window))
        except IntegrityError:
            return False
        return True

    # ---- call log ----------------------------------------------------------------------------------

    def record(self, rec: CallRecord) -> None:
        if not self._background:
            self._write([rec])
            return
        with self._cond:
            self._pending += 1
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="fundguard-rt-log", daemon=True)
            self._thread.start()
        self._queue.put(rec)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            while len(batch) < 500:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records = [r for r in batch if r is not None]
            try:
                if records:
                    self._write(records)
            except Exception:  # the log must not take the service down; the error is reported
                log.exception("实时调用日志写入失败 (%d 条)", len(records))
            finally:
                with self._cond:
                    self._pending -= len(records)
                    self._cond.notify_all()
            if any(r is None for r in batch):
                return

    def _write(self, records: Iterable[CallRecord]) -> None:
        records = list(records)
        calls, results = [], []
        for rec in records:
            call = _fit(Call, dict(_CALL_DEFAULTS, **rec.call))
            call.setdefault("id", uuid.uuid4().hex)
            calls.append(call)
            results.extend(_fit(Result, dict(r, call_id=call["id"])) for r in rec.results)
        with self.engine.begin() as con:
            con.execute(insert(Call), calls)
            if results:
                con.execute(insert(Result), results)
            for rec, call in zip(records, calls, strict=True):
                call_id = call["id"]
                if rec.feedback:
                    ids = [f["warn_rslt_id"] for f in rec.feedback]
                    known = {
                        r.jr_id: (r.rule_id, r.dr_codg)
                        for r in con.execute(
                            # only the caller's own findings: a jr_id of another institution links nothing
                            select(Result.jr_id, Result.rule_id, Result.dr_codg)
                            .where(Result.jr_id.in_(ids), Result.fixmedins_code == call["fixmedins_code"])
                            .order_by(Result.id)
                        )
                    }
                    rows = []
                    for f in rec.feedback:
                        rule_id, dr = known.get(f["warn_rslt_id"], (None, None))
                        rows.append(_fit(Feedback, dict(f, call_id=call_id, rule_id=rule_id, dr_codg=dr)))
                    con.execute(insert(Feedback), rows)

    def flush(self, timeout: float = 30.0) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._pending <= 0, timeout=timeout)

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)
        self.engine.dispose()

    # ---- figures -----------------------------------------------------------------------------------

    def stats(self, by: str) -> list[dict]:
        """The figures bureaus publish, per rule, institution, doctor or day."""
        if by not in ("rule", "institution", "doctor", "day"):
            raise ValueError(f"不支持的分组 {by!r} (可用: rule, institution, doctor, day)")
        res_key = {"rule": Result.rule_id, "institution": Result.fixmedins_code, "doctor": Result.dr_codg,
                   "day": Result.day}[by]
        fb_key = {"rule": Feedback.rule_id, "institution": Feedback.fixmedins_code, "doctor": Feedback.dr_codg,
                  "day": Feedback.day}[by]
        out: dict[str, dict] = {}

        def row(key: Any) -> dict:
            k = "-" if key is None else str(key)
            return out.setdefault(k, {by: k, "calls": 0, "calls_with_reminders": 0, "reminders": 0, "violations": 0,
                                      "warnings": 0, "vola_amt": Decimal("0.00"), "feedback": 0, "continued": 0,
                                      "modified": 0})

        with self.engine.connect() as con:
            if by != "rule":
                call_key = {"institution": Call.fixmedins_code, "doctor": Call.dr_codg, "day": Call.day}[by]
                q = (select(call_key, func.count(), func.sum(case((Call.flags > 0, 1), else_=0)))
                     .where(Call.status == "analysed").group_by(call_key))
                for key, n, flagged in con.execute(q):
                    r = row(key)
                    r["calls"], r["calls_with_reminders"] = int(n), int(flagged or 0)
            else:
                q = (select(Result.rule_id, func.count(func.distinct(Result.call_id))).group_by(Result.rule_id))
                for key, n in con.execute(q):
                    r = row(key)
                    r["calls_with_reminders"] = int(n)
            q = select(res_key, Result.sev_deg, func.count(), func.sum(Result.vola_amt)).group_by(res_key, Result.sev_deg)
            for key, sev, n, amt in con.execute(q):
                r = row(key)
                r["reminders"] += int(n)
                r["violations" if sev == 1 else "warnings"] += int(n)
                r["vola_amt"] += Decimal(str(amt or 0)).quantize(Decimal("0.01"))
            q = select(fb_key, Feedback.dspo_way, func.count()).group_by(fb_key, Feedback.dspo_way)
            for key, way, n in con.execute(q):
                r = row(key)
                r["feedback"] += int(n)
                r["continued" if way == "1" else "modified"] += int(n)
        if by == "rule":  # a call runs many rules: calls are not counted per rule (null, not 0)
            for r in out.values():
                r["calls"] = None
        return [out[k] for k in sorted(out)]
