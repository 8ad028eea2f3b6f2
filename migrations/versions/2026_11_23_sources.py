"""Scheduled sources: a URL, feed, sitemap or folder that refreshes a collection on a cron schedule.

Revision ID: 2026_11_23_sources
Revises: 2026_11_23_llm_routes
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "2026_11_23_sources"
down_revision = "2026_11_23_llm_routes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "collection_id",
            UUID(as_uuid=True),
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        # The admin who registered it: the documents it brings in are theirs.
        sa.Column(
            "owner_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        # page | feed (RSS/Atom) | sitemap | folder
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("schedule", sa.String(100), nullable=False),
        sa.Column("remove_missing", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("paused_reason", sa.Text),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_run_at", sa.DateTime(timezone=True)),
        sa.Column("last_run_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("collection_id", "location", name="uq_sources_collection_location"),
    )
    # Beat's question every minute: which unpaused sources are due.
    op.create_index("ix_sources_due", "sources", ["next_run_at"], postgresql_where=sa.text("NOT paused"))
    op.create_table(
        "source_runs",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "source_id", UUID(as_uuid=True), sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("job_id", UUID(as_uuid=True), sa.ForeignKey("jobs.id", ondelete="SET NULL")),
        # schedule | manual
        sa.Column("trigger", sa.String(16), nullable=False),
        # running | succeeded | failed | skipped
        sa.Column("status", sa.String(16), nullable=False),
        # Items the listing found, and whether the run stopped short of them (MENTORQ_SOURCE_MAX_ITEMS,
        # a folder walk or sitemap index cut at its bound, or the run's time budget).
        sa.Column("listed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("truncated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("added", sa.Integer, nullable=False, server_default="0"),
        sa.Column("changed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("removed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        # Why documents that disappeared were not removed although remove_missing is on
        # (listing_incomplete, truncated, empty_listing); NULL when removal ran or is off.
        sa.Column("removal_skipped", sa.String(32)),
        # Per-document errors ([{"item": ..., "code": ..., "detail": ...}], bounded), and the run's own.
        sa.Column("item_errors", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("error", JSONB),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_source_runs_source_started", "source_runs", ["source_id", sa.text("started_at DESC")])
    # Two runs of one source at once: the database admits one; the other is recorded as skipped.
    op.create_index(
        "uq_source_runs_running",
        "source_runs",
        ["source_id"],
        unique=True,
        postgresql_where=sa.text("status = 'running'"),
    )
    # Which documents a source brought in (removal of what disappeared; change detection by
    # documents.content_hash under the same source_key).
    op.add_column(
        "documents",
        sa.Column("source_id", UUID(as_uuid=True), sa.ForeignKey("sources.id", ondelete="SET NULL")),
    )
    op.create_index(
        "ix_documents_source", "documents", ["source_id"], postgresql_where=sa.text("source_id IS NOT NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_documents_source", table_name="documents")
    op.drop_column("documents", "source_id")
    op.drop_index("uq_source_runs_running", table_name="source_runs")
    op.drop_index("ix_source_runs_source_started", table_name="source_runs")
    op.drop_table("source_runs")
    op.drop_index("ix_sources_due", table_name="sources")
    op.drop_table("sources")
