"""Account mail: a row per e-mail verification or password-reset message (db/models/account_mail.py).

Revision ID: 2026_11_25_account_mails
Revises: 2026_11_24_transcripts
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2026_11_25_account_mails"
down_revision = "2026_11_24_transcripts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_mails",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "user_id",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_account_mails_user_id_users"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('verify', 'reset')", name="ck_account_mails_kind"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'dropped')", name="ck_account_mails_status"
        ),
    )
    op.create_index("ix_account_mails_user_id", "account_mails", ["user_id"])
    op.create_index(
        "ix_account_mails_due",
        "account_mails",
        ["next_attempt_at"],
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )


def downgrade() -> None:
    op.drop_table("account_mails")
