"""Knowledge store: collections, documents (and their bytes), chunks with full-text vectors,
embeddings keyed by (chunk, model) with a partial HNSW index per model; job stages.

Revision ID: 2026_11_22_knowledge
Revises: 2026_11_22_webhooks
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision = "2026_11_22_knowledge"
down_revision = "2026_11_22_webhooks"
branch_labels = None
depends_on = None

# The default model's index; other models get theirs when a re-embed to them starts (db/knowledge.py).
DEFAULT_MODEL_INDEX = (
    "CREATE INDEX ix_embeddings_hnsw_all_minilm_l6_v2 ON embeddings "
    "USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE model = 'all-MiniLM-L6-v2'"
)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("stage", sa.String(length=32), nullable=True))

    op.create_table(
        "collections",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_collections_owner_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_collections"),
    )
    op.create_index(
        "uq_collections_owner_name",
        "collections",
        ["owner_id", "name"],
        unique=True,
        postgresql_where=sa.text("owner_id IS NOT NULL"),
    )
    op.create_index(
        "uq_collections_shared_name",
        "collections",
        ["name"],
        unique=True,
        postgresql_where=sa.text("owner_id IS NULL"),
    )

    op.create_table(
        "documents",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("collection_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(length=200), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=True),
        sa.Column("tags", postgresql.JSONB(), nullable=False),
        sa.Column("resource_type", sa.String(length=16), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("byte_size", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", postgresql.JSONB(), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("active_generation", sa.Integer(), nullable=False),
        sa.Column("ingest_job_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("parent_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("metadata", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name="fk_documents_collection_id_collections",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_documents_owner_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["documents.id"], name="fk_documents_parent_id_documents", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'ready', 'failed')", name="ck_documents_status"
        ),
        sa.CheckConstraint(
            "resource_type IS NULL OR resource_type IN ('paper', 'tutorial', 'course', 'video')",
            name="ck_documents_resource_type",
        ),
    )
    op.create_index(
        "uq_documents_collection_source", "documents", ["collection_id", "source_key"], unique=True
    )
    op.create_index("ix_documents_owner_created", "documents", ["owner_id", "created_at"])

    op.create_table(
        "document_blobs",
        sa.Column("document_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_document_blobs_document_id_documents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", name="pk_document_blobs"),
    )

    op.create_table(
        "chunks",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("document_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("heading_path", postgresql.JSONB(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=True),
        sa.Column("end_s", sa.Float(), nullable=True),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.Column(
            "tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english', coalesce(text, ''))", persisted=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_chunks_document_id_documents", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_chunks"),
    )
    op.create_index(
        "uq_chunks_document_generation_position",
        "chunks",
        ["document_id", "generation", "position"],
        unique=True,
    )
    op.create_index("ix_chunks_tsv", "chunks", ["tsv"], postgresql_using="gin")

    op.create_table(
        "embeddings",
        sa.Column("chunk_id", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("embedding", Vector(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chunk_id"], ["chunks.id"], name="fk_embeddings_chunk_id_chunks", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("chunk_id", "model", name="pk_embeddings"),
    )
    op.execute(DEFAULT_MODEL_INDEX)
    op.create_index("ix_embeddings_model", "embeddings", ["model"])

    op.create_table(
        "knowledge_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_knowledge_state"),
    )


def downgrade() -> None:
    op.drop_table("knowledge_state")
    op.execute("DROP INDEX IF EXISTS ix_embeddings_model")
    # Every per-model HNSW index goes with the table.
    op.drop_table("embeddings")
    op.drop_index("ix_chunks_tsv", table_name="chunks")
    op.drop_index("uq_chunks_document_generation_position", table_name="chunks")
    op.drop_table("chunks")
    op.drop_table("document_blobs")
    op.drop_index("ix_documents_owner_created", table_name="documents")
    op.drop_index("uq_documents_collection_source", table_name="documents")
    op.drop_table("documents")
    op.drop_index("uq_collections_shared_name", table_name="collections")
    op.drop_index("uq_collections_owner_name", table_name="collections")
    op.drop_table("collections")
    op.drop_column("jobs", "stage")
