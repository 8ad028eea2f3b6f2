"""Every Moodle question type as an exercise: multiple answer, matching, essay and description join the
types; a matching exercise's items get a column of their own (its matches are its `choices`); and
the essays waiting for an instructor's grade are indexed, oldest first, for the instructors' queue.

Revision ID: 2026_11_26_question_types
Revises: 2026_11_25_matches
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2026_11_26_question_types"
down_revision = "2026_11_25_matches"
branch_labels = None
depends_on = None

OLD_TYPES = "('qa', 'multiple_choice', 'coding', 'numeric')"
NEW_TYPES = (
    "('qa', 'multiple_choice', 'coding', 'numeric', 'multiple_answer', 'matching', 'essay', 'description')"
)


def upgrade() -> None:
    op.drop_constraint("ck_exercises_type", "exercises", type_="check")
    op.create_check_constraint("ck_exercises_type", "exercises", f"exercise_type IN {NEW_TYPES}")
    # Nullable without a default: PostgreSQL adds it without rewriting the table.
    op.add_column("exercises", sa.Column("items", postgresql.JSONB()))
    op.create_index(
        "ix_submissions_awaiting_instructor",
        "submissions",
        ["created_at"],
        postgresql_where="status = 'awaiting_instructor'",
    )


def downgrade() -> None:
    op.drop_index("ix_submissions_awaiting_instructor", table_name="submissions")
    # The older schema has none of these types: they go (with their submissions, by cascade).
    op.execute(
        "DELETE FROM exercises WHERE exercise_type IN ('multiple_answer', 'matching', 'essay', 'description')"
    )
    op.drop_column("exercises", "items")
    op.drop_constraint("ck_exercises_type", "exercises", type_="check")
    op.create_check_constraint("ck_exercises_type", "exercises", f"exercise_type IN {OLD_TYPES}")
