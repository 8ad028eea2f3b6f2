"""Speakers on chunks: who speaks in a piece of a recording's (or an ingested subtitle file's)
transcript, in order of first speech, as names a search can filter on (`speakers`). A rename or a
merge of a recording's speakers rewrites them (db/speakers.py).

Revision ID: 2026_11_28_chunk_speakers
Revises: 2026_11_27_course_scope
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2026_11_28_chunk_speakers"
down_revision = "2026_11_27_course_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "chunks",
        sa.Column(
            "speakers",
            postgresql.ARRAY(sa.Text()),
            nullable=False,
            server_default=sa.text("'{}'::text[]"),
        ),
    )
    op.create_index("ix_chunks_speakers", "chunks", ["speakers"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_chunks_speakers", table_name="chunks")
    op.drop_column("chunks", "speakers")
