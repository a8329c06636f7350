"""`fundguard users`: the first admin from the command line, institution users bound to an institution."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from fundguard.cli import app
from fundguard.workspace import Role, UserStore


def test_create_admin_and_users(tmp_path):
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'u.db'}"
    r = runner.invoke(app, ["users", "create-admin", "root", "--password-stdin", "--db", db], input="s3cret-enough\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "add", "h1", "--role", "institution", "--password-stdin", "--db", db],
                      input="s3cret-enough\n")
    assert r.exit_code == 1 and "机构" in r.output
    r = runner.invoke(app, ["users", "add", "h1", "--role", "institution", "--fixmedins", "H0001",
                            "--password-stdin", "--db", db], input="s3cret-enough\n")
    assert r.exit_code == 0, r.output
    store = UserStore.open(db)
    assert store.authenticate("root", "s3cret-enough").role is Role.ADMIN
    assert store.by_name("h1").fixmedins_code == "H0001"
    r = runner.invoke(app, ["users", "list", "--db", db])
    assert re.search(r"root\s+admin", r.output) and re.search(r"h1\s+institution\s+H0001", r.output)
