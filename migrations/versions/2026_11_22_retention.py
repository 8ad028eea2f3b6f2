"""Indexes for retention: finished jobs by completion time, documents by their ingest job.

Revision ID: 2026_11_22_retention
Revises: 2026_11_22_knowledge
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_22_retention"
down_revision = "2026_11_22_knowledge"
branch_labels = None
depends_on = None

FINISHED = sa.text("status IN ('succeeded', 'failed', 'canceled')")


def upgrade() -> None:
    # CONCURRENTLY (outside the migration's transaction): on a platform with months of jobs a
    # plain CREATE INDEX would block every job insert and transition until it is built.
    with op.get_context().autocommit_block():
        # Retention's batches take the oldest finished jobs first; without this each batch scans jobs.
        op.create_index(
            "ix_jobs_finished_completed_at",
            "jobs",
            ["completed_at"],
            postgresql_where=FINISHED,
            postgresql_concurrently=True,
        )
        # Retention keeps a document's current ingest job; this answers "is this job one?".
        op.create_index(
            "ix_documents_ingest_job_id",
            "documents",
            ["ingest_job_id"],
            postgresql_where=sa.text("ingest_job_id IS NOT NULL"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_documents_ingest_job_id", table_name="documents", postgresql_concurrently=True)
        op.drop_index("ix_jobs_finished_completed_at", table_name="jobs", postgresql_concurrently=True)
