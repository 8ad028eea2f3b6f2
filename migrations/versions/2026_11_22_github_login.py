"""GitHub sign-in: an account taken over by a verified GitHub owner refuses tokens issued before.

Revision ID: 2026_11_22_github_login
Revises: 2026_11_22_learners
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_22_github_login"
down_revision = "2026_11_22_learners"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("sessions_valid_after", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "sessions_valid_after")
