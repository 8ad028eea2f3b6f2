"""xAPI: the outbox of statements for the Learning Record Store (db/models/xapi.py).

Revision ID: 2026_11_26_xapi
Revises: 2026_11_26_lti
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2026_11_26_xapi"
down_revision = "2026_11_26_lti"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "xapi_statements",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("verb", sa.String(40), nullable=False),
        sa.Column("statement", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("claimed_by", UUID, nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_code", sa.String(60), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_xapi_statements_user_id", "xapi_statements", ["user_id"])
    op.create_index(
        "ix_xapi_statements_unsent",
        "xapi_statements",
        ["created_at"],
        postgresql_where=sa.text("sent_at IS NULL AND error_code IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("xapi_statements")
