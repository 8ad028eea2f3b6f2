"""Exercises (answer keys apart from what learners see) and graded submissions.

Revision ID: 2026_11_23_exercises
Revises: 2026_11_22_github_login
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2026_11_23_exercises"
down_revision = "2026_11_22_github_login"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exercises",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("owner_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("job_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("jobs.id", ondelete="SET NULL")),
        sa.Column(
            "session_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("learning_sessions.id", ondelete="SET NULL"),
        ),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("exercise_type", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text()),
        sa.Column("skills", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("difficulty", sa.Text()),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("choices", postgresql.JSONB()),
        sa.Column("starter_code", sa.Text()),
        sa.Column("visible_tests", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("hints", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column(
            "cited_chunk_ids", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")
        ),
        sa.Column("grounded", sa.Boolean(), nullable=False),
        sa.Column("key", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("exercise_type IN ('qa', 'multiple_choice', 'coding')", name="ck_exercises_type"),
    )
    op.create_index("ix_exercises_owner_created", "exercises", ["owner_id", "created_at"])
    op.create_table(
        "submissions",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "exercise_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("exercises.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("job_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("jobs.id", ondelete="SET NULL")),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="grading"),
        sa.Column("result", postgresql.JSONB()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("graded_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("exercise_id", "user_id", "attempt", name="uq_submissions_attempt"),
    )
    op.create_index("ix_submissions_user", "submissions", ["user_id"])


def downgrade() -> None:
    op.drop_table("submissions")
    op.drop_table("exercises")
