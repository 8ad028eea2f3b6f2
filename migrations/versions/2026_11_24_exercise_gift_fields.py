"""Exercises as Moodle questions: a `numeric` type (graded exactly in code), and what a learner sees of
a question beyond its prompt: its title, its text format and where a missing word's blank stands
(answers, weights and feedback live in the exercise's key).

Revision ID: 2026_11_24_exercise_gift_fields
Revises: 2026_11_23_sources
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_24_exercise_gift_fields"
down_revision = "2026_11_23_sources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("ck_exercises_type", "exercises", type_="check")
    op.create_check_constraint(
        "ck_exercises_type", "exercises", "exercise_type IN ('qa', 'multiple_choice', 'coding', 'numeric')"
    )
    # Nullable without a default: PostgreSQL adds each column without rewriting the table.
    op.add_column("exercises", sa.Column("title", sa.Text()))
    op.add_column("exercises", sa.Column("text_format", sa.Text()))
    op.add_column("exercises", sa.Column("blank_at", sa.Integer()))


def downgrade() -> None:
    op.drop_column("exercises", "blank_at")
    op.drop_column("exercises", "text_format")
    op.drop_column("exercises", "title")
    # The older schema has no numeric exercises: they go (with their submissions, by cascade).
    op.execute("DELETE FROM exercises WHERE exercise_type = 'numeric'")
    op.drop_constraint("ck_exercises_type", "exercises", type_="check")
    op.create_check_constraint(
        "ck_exercises_type", "exercises", "exercise_type IN ('qa', 'multiple_choice', 'coding')"
    )
