"""LTI 1.3: platforms, the accounts their launches sign in, courses and memberships, and where a
learner's grades on an exercise go, each course's roster from its platform, and the one-time codes
of Dynamic Registration (db/models/lti.py).

Revision ID: 2026_11_26_lti
Revises: 2026_11_26_question_types
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2026_11_26_lti"
down_revision = "2026_11_26_question_types"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)
TEXTS = postgresql.ARRAY(sa.Text())


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "lti_platforms",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("deployment_ids", TEXTS, nullable=False),
        sa.Column("auth_login_url", sa.Text(), nullable=False),
        sa.Column("auth_token_url", sa.Text(), nullable=False),
        sa.Column("jwks_url", sa.Text(), nullable=False),
        _created_at(),
        sa.UniqueConstraint("issuer", "client_id", name="uq_lti_platforms_issuer"),
    )
    op.create_table(
        "lti_accounts",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("email", sa.String(320)),
        _created_at(),
        sa.Column("last_launch_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("issuer", "subject", name="uq_lti_accounts_issuer"),
    )
    op.create_index("ix_lti_accounts_user_id", "lti_accounts", ["user_id"])
    op.create_table(
        "lti_contexts",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("platform_id", UUID, sa.ForeignKey("lti_platforms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("context_id", sa.String(255), nullable=False),
        sa.Column("title", sa.Text()),
        sa.Column("label", sa.Text()),
        sa.Column("memberships_url", sa.Text()),
        _created_at(),
        sa.UniqueConstraint("platform_id", "context_id", name="uq_lti_contexts_platform_id"),
    )
    op.create_table(
        "lti_memberships",
        sa.Column("context_id", UUID, sa.ForeignKey("lti_contexts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("roles", TEXTS, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "lti_grade_links",
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("exercise_id", UUID, sa.ForeignKey("exercises.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("platform_id", UUID, sa.ForeignKey("lti_platforms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("lineitem_url", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "lti_roster_members",
        sa.Column("context_id", UUID, sa.ForeignKey("lti_contexts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("name", sa.String(200)),
        sa.Column("email", sa.String(320)),
        sa.Column("roles", TEXTS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "lti_registration_codes",
        sa.Column("code_sha256", sa.String(64), primary_key=True),
        sa.Column("created_by", UUID, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("platform_id", UUID, sa.ForeignKey("lti_platforms.id", ondelete="SET NULL")),
        _created_at(),
    )


def downgrade() -> None:
    op.drop_table("lti_registration_codes")
    op.drop_table("lti_roster_members")
    op.drop_table("lti_grade_links")
    op.drop_table("lti_memberships")
    op.drop_table("lti_contexts")
    op.drop_index("ix_lti_accounts_user_id", table_name="lti_accounts")
    op.drop_table("lti_accounts")
    op.drop_table("lti_platforms")
