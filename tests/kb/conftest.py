"""Shared fixtures: one default edition built per test session (real Parquet, real DuckDB)."""

from __future__ import annotations

import duckdb
import pytest

from fundguard.kb import Edition, build_edition


@pytest.fixture(scope="session")
def edition_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("kb") / "default"
    build_edition(out)
    return out


@pytest.fixture(scope="session")
def edition(edition_dir) -> Edition:
    return Edition.open(edition_dir)


@pytest.fixture(scope="session")
def kb_con(edition):
    con = duckdb.connect()
    edition.register(con)
    yield con
    con.close()
