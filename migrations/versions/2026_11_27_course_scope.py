"""LTI course scope: a collection or an authored exercise may belong to one course (lti_contexts),
whose members alone then see it (db/course_scope.py). Shared library names stay unique among the
libraries; a course's collection names are unique in the course.

Revision ID: 2026_11_27_course_scope
Revises: 2026_11_26_lti_line_items
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2026_11_27_course_scope"
down_revision = "2026_11_26_lti_line_items"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    for table in ("collections", "exercises"):
        op.add_column(table, sa.Column("course_id", UUID, nullable=True))
        op.create_foreign_key(
            f"fk_{table}_course_id_lti_contexts",
            table,
            "lti_contexts",
            ["course_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.create_check_constraint(
        "ck_collections_private_or_course", "collections", "owner_id IS NULL OR course_id IS NULL"
    )
    op.drop_index("uq_collections_shared_name", table_name="collections")
    op.create_index(
        "uq_collections_shared_name",
        "collections",
        ["name"],
        unique=True,
        postgresql_where=sa.text("owner_id IS NULL AND course_id IS NULL"),
    )
    op.create_index(
        "uq_collections_course_name",
        "collections",
        ["course_id", "name"],
        unique=True,
        postgresql_where=sa.text("course_id IS NOT NULL"),
    )
    op.create_index(
        "ix_exercises_course", "exercises", ["course_id"], postgresql_where=sa.text("course_id IS NOT NULL")
    )


def downgrade() -> None:
    # Course-scoped rows cannot become unscoped (that would show them to everyone): they go.
    op.execute("DELETE FROM exercises WHERE course_id IS NOT NULL")
    op.execute("DELETE FROM collections WHERE course_id IS NOT NULL")
    op.drop_index("ix_exercises_course", table_name="exercises")
    op.drop_index("uq_collections_course_name", table_name="collections")
    op.drop_index("uq_collections_shared_name", table_name="collections")
    op.create_index(
        "uq_collections_shared_name",
        "collections",
        ["name"],
        unique=True,
        postgresql_where=sa.text("owner_id IS NULL"),
    )
    op.drop_constraint("ck_collections_private_or_course", "collections", type_="check")
    for table in ("exercises", "collections"):
        op.drop_constraint(f"fk_{table}_course_id_lti_contexts", table, type_="foreignkey")
        op.drop_column(table, "course_id")
