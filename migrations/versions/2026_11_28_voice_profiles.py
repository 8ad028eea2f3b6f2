"""Voice profiles: enrolled people's voices (embeddings of reference clips, the audio only if the
operator keeps it), by which a recording's speakers are named; a transcript records which speaker
was matched to which profile, and how alike they were.

Revision ID: 2026_11_28_voice_profiles
Revises: 2026_11_28_chunk_speakers
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2026_11_28_voice_profiles"
down_revision = "2026_11_28_chunk_speakers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_profiles",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("encoder", sa.String(32), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("enrolled_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("role IN ('host', 'guest')", name="ck_voice_profiles_role"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_voice_profiles_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["enrolled_by"], ["users.id"], name="fk_voice_profiles_enrolled_by_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_voice_profiles"),
        sa.UniqueConstraint("name", name="uq_voice_profiles_name"),
    )
    op.create_index("ix_voice_profiles_user_id", "voice_profiles", ["user_id"])
    op.create_table(
        "voice_clips",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("profile_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("voiced_s", sa.Float(), nullable=False),
        sa.Column("embedding", postgresql.ARRAY(postgresql.REAL()), nullable=False),
        sa.Column("audio", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["voice_profiles.id"],
            name="fk_voice_clips_profile_id_voice_profiles",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_voice_clips"),
    )
    op.create_index("ix_voice_clips_profile_id", "voice_clips", ["profile_id"])
    op.add_column("transcripts", sa.Column("speaker_matches", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("transcripts", "speaker_matches")
    op.drop_index("ix_voice_clips_profile_id", table_name="voice_clips")
    op.drop_table("voice_clips")
    op.drop_index("ix_voice_profiles_user_id", table_name="voice_profiles")
    op.drop_table("voice_profiles")
