"""Fair use: revoked tokens (logout), and an index to count a user's active jobs for the quota.

Revision ID: 2026_11_22_fair_use
Revises: 2026_11_22_retention
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_22_fair_use"
down_revision = "2026_11_22_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_revoked_tokens_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("jti", name="pk_revoked_tokens"),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])
    with op.get_context().autocommit_block():
        # The job quota counts a user's queued and running jobs on every submit.
        op.create_index(
            "ix_jobs_owner_active",
            "jobs",
            ["owner_id"],
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_jobs_owner_active", table_name="jobs", postgresql_concurrently=True)
    op.drop_index("ix_revoked_tokens_expires_at", table_name="revoked_tokens")
    op.drop_table("revoked_tokens")
