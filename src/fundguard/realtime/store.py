"""The real-time service's own tables (prefix `rt_`): institutions and their secrets, the call log,
the results returned, 3103 feedback and used nonces. SQLAlchemy 2: a SQLite file by default, any URL
(PostgreSQL in production).

Secrets: the `x-tif-signature` scheme needs the raw secret on the server, so it is stored as given
(protect the database like a key store); it is never logged and only printed once, at registration.
Personal identifiers are not stored raw: the call log keeps a salted hash of `patn_id`.

Call-log rows are written by a background thread in small batches, so a request never waits for the
database; `flush()` waits until everything queued is written (tests, shutdown). Nonces are checked
synchronously (a unique key), so a replay is refused even across server processes.

Resends: the reply to every answered call with a `msgid` is kept in `rt_reply`, keyed by institution and
msgid, in the same transaction as the call's results and feedback. A call whose key is already there
(a HIS resending after a timeout, possibly to another server process) is logged as `resent` and its
results and feedback are not stored again, so every figure counts it once.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import queue
import secrets
import sqlite3
import threading
import time
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
    bindparam,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
    status: Mapped[str] = mapped_column(String(16))  # analysed, feedback, rejected, refused, resent
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


class StoredReply(Base):
    """The reply given to an answered call, by institution and `msgid`: what a resend of the same message
    gets back (and the unique key that keeps a resend from being counted twice)."""

    __tablename__ = "rt_reply"

    fixmedins_code: Mapped[str] = mapped_column(String(30), primary_key=True)  # "" when the body has none
    #: SHA-256 of the msgid: the key must not be cut to a column's length, as `msgid` is
    msgid_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    msgid: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the request's infno and its envelope as canonical JSON (key order and spacing aside)
    fingerprint: Mapped[str] = mapped_column(String(64))
    infno: Mapped[str] = mapped_column(String(4))
    call_id: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    http_status: Mapped[int] = mapped_column(Integer)
    #: the reply envelope as JSON; null once older than REPLY_RETENTION (the key stays)
    body: Mapped[str | None] = mapped_column(Text)


#: how long a reply is kept for a resend; after that a resend is answered afresh (and still counted once)
REPLY_RETENTION = dt.timedelta(days=7)

#: the lookup every call with a msgid makes, built once (building the expression per call cost ~0.15 ms,
#: about 5% of a 3101 request)
_STORED_REPLY = select(StoredReply.fingerprint, StoredReply.received_at, StoredReply.http_status, StoredReply.body).where(
    StoredReply.fixmedins_code == bindparam("code"), StoredReply.msgid_hash == bindparam("hash"))


class Nonce(Base):
    __tablename__ = "rt_nonce"
    __table_args__ = (UniqueConstraint("paasid", "nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    paasid: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(128))
    ts: Mapped[int] = mapped_column(Integer, index=True)


class Setting(Base):
    """Values of the store itself: `id_key`, the secret key of the patient pseudonyms in the call log."""

    __tablename__ = "rt_setting"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


def hash_identifier(value: str | None, key: str) -> str | None:
    """A pseudonym of a patient id: keyed (HMAC-SHA256 with the store's secret), so a list of likely ids
    cannot be hashed to find who called; the same id gives the same pseudonym within one store."""
    if value is None:
        return None
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:16]


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
    #: for an answered call with a msgid: fixmedins_code, msgid, fingerprint, infno, received_at,
    #: http_status and body (the reply envelope), kept for resends (see the module doc)
    reply: dict[str, Any] | None = None


@dataclass(frozen=True)
class Resend:
    """What the store holds for a msgid: the fingerprint of the request first answered under it and that
    reply (None once past the retention)."""

    fingerprint: str
    received_at: dt.datetime
    http_status: int
    body: dict | None


def msgid_hash(msgid: str) -> str:
    return hashlib.sha256(msgid.encode()).hexdigest()


def _use_wal(conn: sqlite3.Connection, wait: float = 30.0) -> None:
    """`PRAGMA journal_mode=WAL`, retried while the file is locked: SQLite fails a journal-mode switch at
    once, without its busy wait, when another connection (a thread's, or a process starting at the same
    time) holds the file."""
    deadline = time.monotonic() + wait
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class SqliteNonces:
    """Used nonces in a SQLite file shared by every server process (one connection per thread)."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        # the file's WAL mode and table are set up once, here, not by each thread's first connection (8
        # first requests at once made 8 switches, and one could fail with "database is locked")
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            _use_wal(conn)
            conn.execute("CREATE TABLE IF NOT EXISTS rt_nonce (paasid TEXT, nonce TEXT, ts INTEGER, "
                         "PRIMARY KEY (paasid, nonce)) WITHOUT ROWID")
        finally:
            conn.close()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # WAL is a property of the file (set in __init__); synchronous is per connection
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=OFF")
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
            _use_wal(dbapi_conn)  # the same switch, made by every new connection of the pool
            cur = dbapi_conn.cursor()
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
#: INSERT … ON CONFLICT DO NOTHING, so that a taken key neither fails the batch nor needs a savepoint
_UPSERT = {"sqlite": sqlite_insert, "postgresql": pg_insert}


def _insert_if_absent(con, model: type[Base], row: dict, *key) -> bool:  # noqa: ANN001
    """Insert `row` unless a row with its primary key (`key`: the same as conditions) is there; True when
    inserted. Concurrent writers: on SQLite and PostgreSQL the database decides (ON CONFLICT DO NOTHING)."""
    dialect = con.dialect.name
    if dialect in _UPSERT:
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT here
        first = next(iter(model.__table__.primary_key.columns))
        return con.execute(_UPSERT[dialect](model).values(row).on_conflict_do_nothing().returning(first)).first() is not None
    if con.execute(select(*model.__table__.primary_key.columns).where(*key)).first() is not None:
        return False
    con.execute(insert(model).values(row))
    return True


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
        self._expired_at: float | None = None  # monotonic time of the last expiry of old replies
        # With SQLite, nonces live in their own small file without fsync: they are worthless after the
        # timestamp window, and a commit there never waits behind the call log's batches.
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") and ":memory:" not in url else None
        self._nonces = SqliteNonces(Path(path + ".nonces")) if path else None

    @functools.cached_property
    def id_key(self) -> str:
        """The store's secret key for patient pseudonyms, made once (the first writer wins a race)."""
        with self.engine.begin() as con:
            _insert_if_absent(con, Setting, {"name": "id_key", "value": secrets.token_hex(32)}, Setting.name == "id_key")
            return con.execute(select(Setting.value).where(Setting.name == "id_key")).scalar_one()

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
            # requests are handled in a thread pool: one writer, however many threads record at once
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
        with self.engine.begin() as con:
            calls, results, feedback = [], [], []
            for rec in records:
                call = _fit(Call, dict(_CALL_DEFAULTS, **rec.call))
                call.setdefault("id", uuid.uuid4().hex)
                if rec.reply is not None and not self._keep_reply(con, call, rec.reply):
                    # the msgid was answered already (a resend that overtook the first reply's write, or
                    # was answered by another process): logged, not counted again
                    call["status"] = "resent"
                    calls.append(call)
                    continue
                calls.append(call)
                results.extend(_fit(Result, dict(r, call_id=call["id"])) for r in rec.results)
                if rec.feedback:
                    feedback.append((rec, call))
            con.execute(insert(Call), calls)
            if results:
                con.execute(insert(Result), results)
            for rec, call in feedback:
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
                    rows.append(_fit(Feedback, dict(f, call_id=call["id"], rule_id=rule_id, dr_codg=dr)))
                con.execute(insert(Feedback), rows)
        if self._expired_at is None or time.monotonic() - self._expired_at > 3600:
            self._expired_at = time.monotonic()
            self.expire_replies()

    def _keep_reply(self, con, call: dict, reply: dict) -> bool:  # noqa: ANN001
        """Store the reply under its (institution, msgid) key; False when the key is taken."""
        row = _fit(StoredReply, {
            "fixmedins_code": reply["fixmedins_code"] or "", "msgid_hash": msgid_hash(reply["msgid"]),
            "msgid": reply["msgid"], "fingerprint": reply["fingerprint"], "infno": reply["infno"],
            "call_id": call["id"], "received_at": reply["received_at"], "http_status": reply["http_status"],
            "body": json.dumps(reply["body"], ensure_ascii=False, separators=(",", ":"), default=str),
        })
        return _insert_if_absent(con, StoredReply, row, StoredReply.fixmedins_code == row["fixmedins_code"],
                                 StoredReply.msgid_hash == row["msgid_hash"])

    def stored_reply(self, fixmedins_code: str | None, msgid: str) -> Resend | None:
        """What was answered under this msgid for this institution, if anything (written replies only)."""
        with self.engine.connect() as con:
            row = con.execute(_STORED_REPLY, {"code": fixmedins_code or "", "hash": msgid_hash(msgid)}).first()
        if row is None:
            return None
        return Resend(row.fingerprint, row.received_at, row.http_status, json.loads(row.body) if row.body else None)

    def expire_replies(self, now: dt.datetime | None = None) -> None:
        """Drop the reply bodies past the retention (keys stay: a late resend is still counted once).
        The writer calls it about once an hour."""
        cutoff = (now or dt.datetime.now()) - REPLY_RETENTION
        with self.engine.begin() as con:
            con.execute(update(StoredReply).where(StoredReply.received_at < cutoff, StoredReply.body.is_not(None))
                        .values(body=None))

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
