"""Alembic environment for FundGuard's application tables (users, access log, secrets)."""

from alembic import context

from fundguard.workspace.users import VERSION_TABLE, Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through fundguard.workspace.users.migrate(url)")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
