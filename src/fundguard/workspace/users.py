"""Users, roles and the operational database they live in (SQLite by default, PostgreSQL in production).

Passwords are hashed with Argon2id (argon2-cffi); a user's `session_gen` is part of every session
cookie, so changing the password or disabling the user ends the sessions already handed out.
The schema is created by the Alembic migrations beside this module (`migrate(url)`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    MetaData,
    String,
    create_engine,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: our own Alembic version table, so other components (real-time call log, cases) can keep theirs
VERSION_TABLE = "app_alembic_version"
MIN_PASSWORD_LENGTH = 10
MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=5)
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


class Role(StrEnum):
    AUDITOR = "auditor"  # 审核员: flags within their region (all regions when none is set)
    INSTITUTION = "institution"  # 机构用户: their own institution's flags only
    ADMIN = "admin"  # 管理员: users and roles; sees flags with identifiers masked

    @property
    def label(self) -> str:
        return {"auditor": "审核员", "institution": "机构用户", "admin": "管理员"}[self.value]


class UserError(ValueError):
    """A user cannot be created or changed as asked (message in Chinese, for the CLI and pages)."""


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class UserRow(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    fixmedins_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    admdvs: Mapped[str | None] = mapped_column(String(16), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_gen: Mapped[int] = mapped_column(Integer, default=1)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class AccessLogRow(Base):
    """Who saw what: viewing a flag with whole identifiers, exports, log-ins."""

    __tablename__ = "app_access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now, index=True)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    object: Mapped[str] = mapped_column(String(255), default="")


class IdSearchRow(Base):
    """Exact searches by a person's identifier, kept only for the rate limit's window: who and when, and a
    keyed hash of the identifier (never the identifier) so that distinct searches can be counted."""

    __tablename__ = "app_id_search"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now, index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    digest: Mapped[str] = mapped_column(String(64))


class SecretRow(Base):
    """Server secrets (the session signing key), so every process over one database agrees."""

    __tablename__ = "app_secret"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: Role
    fixmedins_code: str | None
    admdvs: str | None
    is_active: bool
    session_gen: int

    @classmethod
    def from_row(cls, row: UserRow) -> User:
        return cls(row.id, row.username, row.display_name or row.username, Role(row.role), row.fixmedins_code,
                   row.admdvs, row.is_active, row.session_gen)


def default_db_url(folder: Path | str) -> str:
    return f"sqlite:///{Path(folder).resolve() / 'fundguard.db'}"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_con, _record):  # WAL: readers never wait for the writer
            cur = dbapi_con.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine_or_url: Engine | str) -> None:
    """Bring the database to the newest schema (idempotent)."""
    from alembic import command
    from alembic.config import Config

    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    if engine.url.get_backend_name() == "sqlite" and engine.url.database:
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("version_table", VERSION_TABLE)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


class UserStore:
    """Users and their log-ins, over one SQLAlchemy engine."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._session = sessionmaker(engine, expire_on_commit=False)
        self._hasher = PasswordHasher()
        self._dummy: str | None = None

    @property
    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_hex(16))
        return self._dummy

    @classmethod
    def open(cls, url: str, *, migrate_schema: bool = True) -> UserStore:
        engine = make_engine(url)
        if migrate_schema:
            migrate(engine)
        return cls(engine)

    def _s(self) -> Session:
        return self._session()

    # ---- users -----------------------------------------------------------------------------------

    def create(self, username: str, password: str, role: Role | str, *, fixmedins_code: str | None = None,
               admdvs: str | None = None, display_name: str = "") -> User:
        role = Role(role)
        if not _USERNAME.match(username or ""):
            raise UserError("用户名应为 2–64 位字母、数字或 _ . @ -")
        self._check_password(password)
        if role is Role.INSTITUTION and not fixmedins_code:
            raise UserError("机构用户须绑定定点医药机构编号 (--fixmedins)")
        if role is not Role.INSTITUTION and fixmedins_code:
            raise UserError("只有机构用户可绑定定点医药机构")
        with self._s() as s, s.begin():
            if s.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
                raise UserError(f"用户 {username} 已存在")
            row = UserRow(username=username, display_name=display_name or username,
                          password_hash=self._hasher.hash(password), role=role.value,
                          fixmedins_code=fixmedins_code or None, admdvs=admdvs or None)
            s.add(row)
            s.flush()
            return User.from_row(row)

    def _check_password(self, password: str) -> None:
        if len(password or "") < MIN_PASSWORD_LENGTH:
            raise UserError(f"密码至少 {MIN_PASSWORD_LENGTH} 位")

    def get(self, user_id: int) -> User | None:
        with self._s() as s:
            row = s.get(UserRow, user_id)
            return User.from_row(row) if row else None

    def by_name(self, username: str) -> User | None:
        with self._s() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            return User.from_row(row) if row else None

    def list(self) -> list[User]:
        with self._s() as s:
            return [User.from_row(r) for r in s.scalars(select(UserRow).order_by(UserRow.username))]

    def set_password(self, username: str, password: str) -> None:
        self._check_password(password)
        with self._s() as s, s.begin():
            row = self._row(s, username)
            row.password_hash = self._hasher.hash(password)
            row.session_gen += 1
            row.failed_logins = 0
            row.locked_until = None

    def set_active(self, username: str, active: bool) -> None:
        with self._s() as s, s.begin():
            row = self._row(s, username)
            row.is_active = active
            row.session_gen += 1

    def end_sessions(self, user_id: int) -> None:
        """Log the user out everywhere (every session cookie carries the generation it was made in)."""
        with self._s() as s, s.begin():
            s.execute(update(UserRow).where(UserRow.id == user_id)
                      .values(session_gen=UserRow.session_gen + 1).execution_options(synchronize_session=False))

    def _row(self, s: Session, username: str) -> UserRow:
        row = s.scalar(select(UserRow).where(UserRow.username == username))
        if row is None:
            raise UserError(f"用户 {username} 不存在")
        return row

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password is right and the account active and not locked; else None.

        Unknown users cost the same hash as known ones, so timing does not reveal which names exist.
        """
        with self._s() as s, s.begin():
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            if row is None:
                self._verify(self._dummy_hash, password)
                return None
            now = _now()
            if row.locked_until and row.locked_until > now:
                self._verify(self._dummy_hash, password)
                return None
            if not self._verify(row.password_hash, password) or not row.is_active:
                # counted in the database, not on the row read before the (slow) hash check: parallel
                # guesses each add one instead of overwriting each other's count
                uid = row.id
                s.expunge(row)
                s.execute(update(UserRow).where(UserRow.id == uid)
                          .values(failed_logins=UserRow.failed_logins + 1).execution_options(synchronize_session=False))
                failed = s.scalar(select(UserRow.failed_logins).where(UserRow.id == uid))
                if failed >= MAX_FAILED_LOGINS:
                    s.execute(update(UserRow).where(UserRow.id == uid)
                              .values(locked_until=now + LOCKOUT, failed_logins=0).execution_options(synchronize_session=False))
                    s.add(AccessLogRow(username=username[:64], action="locked", object=""))
                s.add(AccessLogRow(username=username[:64], action="login_failed", object=""))
                return None
            if self._hasher.check_needs_rehash(row.password_hash):
                row.password_hash = self._hasher.hash(password)
            row.failed_logins = 0
            row.locked_until = None
            row.last_login_at = now
            return User.from_row(row)

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self._hasher.verify(hashed, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # ---- access log and secrets --------------------------------------------------------------------

    def log_access(self, username: str, action: str, obj: str = "") -> None:
        with self._s() as s, s.begin():
            s.add(AccessLogRow(username=username, action=action, object=obj[:255]))

    def count_id_search(self, username: str, digest: str, *, limit: int, window: dt.timedelta) -> int | None:
        """Count one exact search by an identifier (`digest`: its keyed hash) against `limit` distinct ones
        per `window`: None when it is allowed (searching an identifier already counted again is), else the
        seconds until one more is. Counted in the database, as log-in failures are, so parallel requests and
        server processes all count; a refused search is not counted."""
        with self._s() as s, s.begin():
            # one user's searches one at a time (PostgreSQL: the user's row locked; SQLite: one writer at once),
            # so that parallel searches at the limit cannot all pass
            s.execute(select(UserRow.id).where(UserRow.username == username).with_for_update())
            now = _now()  # after the wait for the lock
            since = now - window
            s.execute(delete(IdSearchRow).where(IdSearchRow.at < since))  # older ones no longer count
            row = IdSearchRow(username=username[:64], digest=digest, at=now)
            s.add(row)
            s.flush()
            mine = (IdSearchRow.username == username[:64], IdSearchRow.at >= since)
            distinct = s.scalar(select(func.count(func.distinct(IdSearchRow.digest))).where(*mine))
            if distinct <= limit:
                return None
            s.delete(row)
            last_seen = s.scalars(select(func.max(IdSearchRow.at)).where(*mine).group_by(IdSearchRow.digest)).all()
            first_to_expire = min(last_seen, default=now)
            wait = math.ceil((first_to_expire + window - now).total_seconds())
            return min(max(1, wait), math.ceil(window.total_seconds()))

    def access_log(self, limit: int = 100) -> list[tuple[dt.datetime, str, str, str]]:
        with self._s() as s:
            rows = s.scalars(select(AccessLogRow).order_by(AccessLogRow.id.desc()).limit(limit))
            return [(r.at, r.username, r.action, r.object) for r in rows]

    def secret(self, name: str = "session_key") -> str:
        """A server secret, created on first use and shared by every process over this database."""
        with self._s() as s, s.begin():
            row = s.get(SecretRow, name)
            if row is None:
                row = SecretRow(name=name, value=secrets.token_urlsafe(48))
                s.add(row)
            return row.value


def generate_password() -> str:
    return secrets.token_urlsafe(12)
