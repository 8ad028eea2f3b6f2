"""Per-user admission to the LLM lane: a job held back while its owner has enough in the lane.

Revision ID: 2026_11_23_llm_admission
Revises: 2026_11_23_assistant
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_23_llm_admission"
down_revision = "2026_11_23_assistant"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column("jobs", sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()))
    # The next held job of a user, found when one of the user's jobs in the lane ends.
    op.create_index(
        "ix_jobs_held",
        "jobs",
        ["owner_id", sa.text("priority DESC"), "created_at"],
        postgresql_where=sa.text("held AND status = 'queued'"),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_held", table_name="jobs")
    op.drop_column("jobs", "held")
