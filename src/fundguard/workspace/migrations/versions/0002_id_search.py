"""Exact searches by a person's identifier, for their rate limit (keyed hashes, kept for the window only).

Revision ID: 0002_id_search
Revises: 0001_users
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_id_search"
down_revision = "0001_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_id_search",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_app_id_search"),
    )
    op.create_index("ix_app_id_search_at", "app_id_search", ["at"])
    op.create_index("ix_app_id_search_username", "app_id_search", ["username"])


def downgrade() -> None:
    op.drop_index("ix_app_id_search_username", table_name="app_id_search")
    op.drop_index("ix_app_id_search_at", table_name="app_id_search")
    op.drop_table("app_id_search")
