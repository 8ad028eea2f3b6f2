"""Submissions still being graded, indexed: the reconciler finishes those whose grade job ended
without a grade (failed, canceled, or gone) every few seconds, so it must find them cheaply.

Revision ID: 2026_11_24_submissions_grading
Revises: 2026_11_24_exercise_gift_fields
Create Date: 2026-11-24
"""

from alembic import op

revision = "2026_11_24_submissions_grading"
down_revision = "2026_11_24_exercise_gift_fields"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_submissions_grading",
        "submissions",
        ["created_at"],
        postgresql_where="status = 'grading'",
    )


def downgrade() -> None:
    op.drop_index("ix_submissions_grading", table_name="submissions")
