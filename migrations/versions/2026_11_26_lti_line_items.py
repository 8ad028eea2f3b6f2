"""LTI: a course's line items container and when beat last queued its roster sync; the course's
gradebook column per exercise (db/models/lti.py, LtiLineItem).

Revision ID: 2026_11_26_lti_line_items
Revises: 2026_11_26_xapi
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2026_11_26_lti_line_items"
down_revision = "2026_11_26_xapi"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.add_column("lti_contexts", sa.Column("lineitems_url", sa.Text(), nullable=True))
    op.add_column("lti_contexts", sa.Column("roster_queued_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "lti_line_items",
        sa.Column("context_id", UUID, sa.ForeignKey("lti_contexts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("exercise_id", UUID, sa.ForeignKey("exercises.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("lineitem_url", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("created_by_tool", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lti_line_items")
    op.drop_column("lti_contexts", "roster_queued_at")
    op.drop_column("lti_contexts", "lineitems_url")
