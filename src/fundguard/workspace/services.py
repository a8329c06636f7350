"""What the doors share: settings, the user store, the workspace, and who is asking (principal, scope).

The API and the web pages are independent doors; both read the caller from the signed session cookie
through `principal_from_session` and apply `Principal.scope` to every query, so an object outside the
caller's institution or region is never found (404), on a page or in the API alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fundguard.contract.masking import mask_id
from fundguard.workspace.flagindex import Scope
from fundguard.workspace.runs import Workspace
from fundguard.workspace.users import Role, User, UserStore, default_db_url

log = logging.getLogger(__name__)

SESSION_COOKIE = "fundguard_session"
SESSION_MAX_AGE = 8 * 3600


PSN_SEARCH_LIMIT = 30
PSN_SEARCH_WINDOW = 600


def _setting(value: int | None, env: str, default: int, *, minimum: int) -> int:
    if value is None:
        raw = os.environ.get(env, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{env} 应为整数: {raw[:40]!r}") from None
    if value < minimum:
        raise ValueError(f"{env} 应不小于 {minimum}: {value}")
    return value


@dataclass
class AppConfig:
    workspace: Path | None = None
    db_url: str | None = None
    no_auth: bool = False
    #: set the session cookie's Secure flag (behind HTTPS); off for plain-HTTP intranet and tests
    https_only: bool = False
    session_max_age: int = SESSION_MAX_AGE
    #: front ends mounted by the app factory, by name (`module:function(app)`), so the doors stay independent
    frontends: tuple[str, ...] = ("fundguard.web:install",)
    rebuild_index: bool = False
    national: dict[str, Any] = field(default_factory=dict)
    #: a bureau's rule library (`fundguard rules export`) instead of the built-in one: rule pages, flag
    #: names and the real-time checks all read it
    rules_dir: Path | None = None
    #: build the runs' flag indexes after the app starts (`Services.index_runs` in a thread: `serve`), the
    #: pages of a run saying "索引建立中" meanwhile; otherwise they are built before the app is made
    index_in_background: bool = False
    #: exact searches by `psn_no` (flag list and export, page and API) a user whose role sees identifiers
    #: masked may make: this many distinct identifiers per `psn_search_window` seconds; None: the
    #: `FUNDGUARD_PSN_SEARCH_LIMIT` / `FUNDGUARD_PSN_SEARCH_WINDOW` variables, else 30 per 600 seconds
    psn_search_limit: int | None = None
    psn_search_window: int | None = None

    def resolved_psn_search_limit(self) -> tuple[int, int]:
        """(distinct identifiers, window in seconds) for exact `psn_no` searches; a bad value stops the start."""
        limit = _setting(self.psn_search_limit, "FUNDGUARD_PSN_SEARCH_LIMIT", PSN_SEARCH_LIMIT, minimum=0)
        window = _setting(self.psn_search_window, "FUNDGUARD_PSN_SEARCH_WINDOW", PSN_SEARCH_WINDOW, minimum=1)
        return limit, window

    def resolved_db_url(self) -> str:
        if self.db_url:
            return self.db_url
        env = os.environ.get("FUNDGUARD_DB_URL")
        if env:
            return env
        folder = Path(self.workspace) if self.workspace else Path.cwd() / "var"
        folder.mkdir(parents=True, exist_ok=True)
        return default_db_url(folder)


@dataclass(frozen=True)
class Principal:
    username: str
    display_name: str
    role: Role
    fixmedins_code: str | None = None
    admdvs: str | None = None
    user_id: int | None = None

    @property
    def scope(self) -> Scope:
        if self.role is Role.INSTITUTION:
            # An institution user without an institution sees nothing, never everything.
            return Scope(fixmedins_code=self.fixmedins_code or "\0")
        return Scope(admdvs_prefix=self.admdvs or None)

    @property
    def sees_identifiers(self) -> bool:
        """Whole identifiers on a flag's page (viewing is logged); lists are always masked."""
        return self.role in (Role.AUDITOR, Role.INSTITUTION)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.username, user.display_name, user.role, user.fixmedins_code, user.admdvs, user.id)


NO_AUTH_PRINCIPAL = Principal("no-auth", "未启用登录", Role.AUDITOR)


class SearchLimited(Exception):
    """Too many distinct exact `psn_no` searches in the window (`message` in Chinese; `retry_after` seconds)."""

    def __init__(self, limit: int, window: int, retry_after: int):
        self.limit, self.window, self.retry_after = limit, window, retry_after
        span = f"{window // 60} 分钟" if window % 60 == 0 else f"{window} 秒"
        wait = f"{-(-retry_after // 60)} 分钟" if retry_after >= 60 else f"{retry_after} 秒"
        self.message = (f"按参保人编号精确查询过于频繁：每 {span}内最多查询 {limit} 个不同的参保人编号，"
                        f"请 {wait}后再试。本次查询已记录。")
        super().__init__(self.message)


class Services:
    """Opened once per app: the user store over the operational database, and the workspace."""

    def __init__(self, config: AppConfig):
        self.config = config
        self.users = UserStore.open(config.resolved_db_url())
        self.workspace = Workspace(Path(config.workspace) if config.workspace else Path.cwd() / "var" / "workspace",
                                   rules_dir=config.rules_dir)
        if config.index_in_background:
            self.workspace.mark_building()
        else:
            self.index_runs()
        self.session_secret = os.environ.get("FUNDGUARD_SECRET_KEY") or self.users.secret("session_key")
        #: the real-time call log (set by the app factory when the national interfaces are mounted)
        self.realtime_store: Any = None
        self.psn_search_limit, self.psn_search_window = config.resolved_psn_search_limit()
        self._search_key = self.users.secret("id_search_key").encode()

    def check_psn_search(self, who: Principal, psn_no: str | None, where: str) -> None:
        """An exact search by a person's identifier (`psn_no`): written to the access log with the user and
        the identifier masked; for a role that sees identifiers masked (it could otherwise test guesses of
        an identifier without end), at most `psn_search_limit` distinct identifiers per window, else
        `SearchLimited`. Roles that see whole identifiers on a flag's page are logged, not limited."""
        if not psn_no:
            return
        obj = f"{where} psn_no={mask_id(psn_no)}"
        if not who.sees_identifiers:
            digest = hmac.new(self._search_key, psn_no.encode(), hashlib.sha256).hexdigest()[:32]
            retry = self.users.count_id_search(who.username, digest, limit=self.psn_search_limit,
                                               window=dt.timedelta(seconds=self.psn_search_window))
            if retry is not None:
                self.users.log_access(who.username, "psn_search_limited", obj)
                raise SearchLimited(self.psn_search_limit, self.psn_search_window, retry)
        self.users.log_access(who.username, "psn_search", obj)

    def index_runs(self) -> None:
        """Build (or reuse) every run's flag index; in the background, a failure is logged (the run's pages
        then say it does not exist) instead of stopping the app."""
        try:
            items = self.workspace.prepare(rebuild=self.config.rebuild_index)
        except Exception:
            if not self.config.index_in_background:
                raise
            log.exception("疑点索引建立失败")
            return
        for item in items:
            if item.get("built"):
                log.info("疑点索引已建立: 运行 %s, %s 秒", item["run_id"], item.get("seconds"))
            else:
                log.info("疑点索引复用: 运行 %s", item["run_id"])

    def principal_from_session(self, session: dict) -> Principal | None:
        if self.config.no_auth:
            return NO_AUTH_PRINCIPAL
        uid, gen = session.get("uid"), session.get("gen")
        if not isinstance(uid, int) or not isinstance(gen, int):
            return None
        user = self.users.get(uid)
        if user is None or not user.is_active or user.session_gen != gen:
            return None
        return Principal.of(user)

    def realtime_counts(self, who: Principal) -> dict | None:
        """Reminders, warnings and feedback from the real-time call log (when the national interfaces are
        mounted), for everything or for the caller's institution; None when there is no log to count."""
        store = self.realtime_store
        if store is None or not hasattr(store, "stats"):
            return None
        try:
            rows = store.stats("institution")
        except Exception as exc:  # the dashboard must render without the call log
            log.warning("real-time call log unavailable: %s", exc)
            return None
        scope = who.scope
        if scope.fixmedins_code is not None:
            rows = [r for r in rows if r.get("institution") == scope.fixmedins_code]
        elif scope.admdvs_prefix:
            return None  # the call log has no region; a regional auditor sees only the audit figures
        keys = ("calls", "calls_with_reminders", "reminders", "violations", "warnings", "feedback", "continued",
                "modified")
        totals = {k: sum(int(r.get(k) or 0) for r in rows) for k in keys}
        totals["vola_amt"] = sum((r.get("vola_amt") or 0 for r in rows), 0)
        return totals


def log_in(session: dict, user: User) -> None:
    session.clear()
    session.update({"uid": user.id, "gen": user.session_gen, "csrf": secrets.token_urlsafe(24)})


def log_out(session: dict, svc: Services) -> None:
    """End the session on the server too: the cookie is signed, not stored, so the user's session
    generation moves on (every session of this user ends, on every device), then the cookie is cleared."""
    uid = session.get("uid")
    if isinstance(uid, int) and not svc.config.no_auth:
        svc.users.end_sessions(uid)
    session.clear()


def csrf_token(session: dict) -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def csrf_ok(session: dict, token: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and token and hmac.compare_digest(str(expected), str(token)))


_ID_KEYS = ("psn_no", "mdtrt_id", "setl_id")


def mask_flag(flag: dict) -> dict:
    """`flag` with the person's, encounters' and settlements' identifiers masked wherever they appear:
    its own fields, `mdtrt_ids`, the evidence, the fee lines and encounters it carries, and inside text
    (the message and `flag_key` name them: "与更早的住院 M0000088572 重叠", `P00020119|XA02…`)."""
    ids: set[str] = set()

    def collect(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                collect(v, k)
        elif isinstance(value, list):
            for v in value:
                collect(v, key)
        elif isinstance(value, str) and value and (key in _ID_KEYS or key == "mdtrt_ids" or key.endswith(_ID_KEYS)):
            ids.add(value)

    collect(flag)
    ordered = sorted(ids, key=len, reverse=True)  # a longer id first, should one contain another

    def mask(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: mask(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v, key) for v in value]
        if isinstance(value, str) and value:
            if value in ids:
                return mask_id(value)
            for i in ordered:
                if i in value:
                    value = value.replace(i, mask_id(i))
        return value

    return {k: mask(v, k) for k, v in flag.items()}
