"""An index of the documents being ingested: an embed call fills itself up with their pending chunks
(db/embeddings.py claim_chunks_to_embed), and without it each call read the whole documents table.

Revision ID: 2026_12_01_ingesting_index
Revises: 2026_11_30_lti_accounts_key
Create Date: 2026-12-01
"""

from alembic import op

revision = "2026_12_01_ingesting_index"
down_revision = "2026_11_30_lti_accounts_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_documents_being_ingested ON documents (updated_at) WHERE status = 'processing'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_documents_being_ingested")
