"""LLM routing: a model on a provider per job kind, with fallbacks and limits; which one answered a job.

Revision ID: 2026_11_23_llm_routes
Revises: 2026_11_23_llm_admission
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "2026_11_23_llm_routes"
down_revision = "2026_11_23_llm_admission"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per job kind; a kind without a row uses the settings' provider (MENTORQ_LLM_PROVIDER).
    # Keys are never stored here: a provider's credentials come from the settings only.
    op.create_table(
        "llm_routes",
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200)),
        # [{"provider": ..., "model": ...}, ...], tried in order on llm_unavailable only.
        sa.Column("fallbacks", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("max_tokens", sa.Integer),
        sa.Column("temperature", sa.Float),
        sa.Column("updated_by", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    # Nullable, no default: PostgreSQL adds them without rewriting the jobs table.
    op.add_column("jobs", sa.Column("llm_provider", sa.String(32)))
    op.add_column("jobs", sa.Column("llm_model", sa.String(200)))


def downgrade() -> None:
    op.drop_column("jobs", "llm_model")
    op.drop_column("jobs", "llm_provider")
    op.drop_table("llm_routes")
