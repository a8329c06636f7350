"""The user store: Argon2 hashes, roles bound to institutions, lock-out, sessions ended by a password change;
on SQLite always and on PostgreSQL when FUNDGUARD_TEST_PG_URL is set (CI)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from fundguard.workspace import Role, UserError, UserStore, migrate

from .conftest import pg_url_with_schema


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        yield UserStore.open(f"sqlite:///{tmp_path / 'users.db'}")
        return
    pg = pg_url_with_schema()
    if pg is None:
        pytest.skip("FUNDGUARD_TEST_PG_URL not set (CI sets it)")
    url, schema = pg
    admin = create_engine(url.split("?")[0])
    with admin.begin() as con:
        con.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        s = UserStore.open(url)
        yield s
        s.engine.dispose()
    finally:
        with admin.begin() as con:
            con.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_password_is_hashed_with_argon2id_and_verified(store):
    user = store.create("alice", "s3cret-enough", Role.AUDITOR)
    assert user.role is Role.AUDITOR
    with store.engine.connect() as con:
        stored = con.execute(text("SELECT password_hash FROM app_user WHERE username = 'alice'")).scalar_one()
    assert stored.startswith("$argon2id$") and "s3cret-enough" not in stored
    assert store.authenticate("alice", "s3cret-enough").username == "alice"
    assert store.authenticate("alice", "wrong-password") is None
    assert store.authenticate("nobody", "s3cret-enough") is None


def test_institution_users_are_bound_to_an_institution(store):
    with pytest.raises(UserError, match="机构"):
        store.create("hosp", "s3cret-enough", Role.INSTITUTION)
    with pytest.raises(UserError, match="只有机构用户"):
        store.create("aud", "s3cret-enough", Role.AUDITOR, fixmedins_code="H1")
    user = store.create("hosp", "s3cret-enough", Role.INSTITUTION, fixmedins_code="H0001")
    assert user.fixmedins_code == "H0001"


def test_bad_input_is_refused(store):
    with pytest.raises(UserError, match="密码至少"):
        store.create("bob", "short", Role.ADMIN)
    with pytest.raises(UserError, match="用户名"):
        store.create("a b", "s3cret-enough", Role.ADMIN)
    store.create("bob", "s3cret-enough", Role.ADMIN)
    with pytest.raises(UserError, match="已存在"):
        store.create("bob", "s3cret-enough", Role.ADMIN)


def test_five_failures_lock_the_account(store):
    store.create("carol", "s3cret-enough", Role.AUDITOR)
    for _ in range(5):
        assert store.authenticate("carol", "wrong-password") is None
    assert store.authenticate("carol", "s3cret-enough") is None  # locked, even with the right password
    store.set_password("carol", "new-s3cret-enough")  # an admin reset unlocks
    assert store.authenticate("carol", "new-s3cret-enough") is not None


def test_password_change_and_disable_end_sessions(store):
    user = store.create("dave", "s3cret-enough", Role.AUDITOR)
    store.set_password("dave", "other-s3cret-enough")
    assert store.get(user.id).session_gen == user.session_gen + 1
    store.set_active("dave", False)
    assert store.authenticate("dave", "other-s3cret-enough") is None
    assert store.get(user.id).session_gen == user.session_gen + 2


def test_migrations_are_idempotent_and_secret_is_stable(store):
    migrate(store.engine)
    assert store.secret() == store.secret()
    store.log_access("erin", "view_flag", "run/flag")
    assert store.access_log(1)[0][1:] == ("erin", "view_flag", "run/flag")


def test_parallel_id_searches_all_count(store):
    """Exact searches by identifier (their keyed hashes) per user and window: parallel ones at the limit do
    not all pass, a refused one is not counted, an identifier already counted passes again."""
    import datetime as dt
    import threading

    store.create("searcher", "s3cret-enough", Role.ADMIN)
    window = dt.timedelta(minutes=10)
    results: list[int | None] = []
    lock = threading.Lock()

    def search(i: int) -> None:
        got = store.count_id_search("searcher", f"digest-{i}", limit=5, window=window)
        with lock:
            results.append(got)

    threads = [threading.Thread(target=search, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(None) == 5 and all(r is None or 1 <= r <= 600 for r in results)
    allowed = {f"digest-{i}" for i in range(12)}  # which five passed is up to the scheduler
    with store.engine.connect() as con:
        kept = {d for (d,) in con.execute(text("SELECT digest FROM app_id_search WHERE username = 'searcher'"))}
    assert len(kept) == 5 and kept <= allowed
    assert store.count_id_search("searcher", next(iter(kept)), limit=5, window=window) is None
    assert store.count_id_search("searcher", "digest-other", limit=5, window=window) is not None
    assert store.count_id_search("someone-else", "digest-other", limit=5, window=window) is None
