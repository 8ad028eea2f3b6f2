"""The learner: profiles and revisions, learning sessions, progress and the learner model; jobs
gain a learning session, attachments, and may belong to the platform (an account deletion).

Revision ID: 2026_11_22_learners
Revises: 2026_11_22_oauth_accounts
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2026_11_22_learners"
down_revision = "2026_11_22_oauth_accounts"
branch_labels = None
depends_on = None

JSONB = postgresql.JSONB(astext_type=sa.Text())


def _timestamp(name: str, *, default: bool = True) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.text("now()") if default else None,
        nullable=not default,
    )


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("skills", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("interests", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("goals", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("wiki_content", sa.Text(), nullable=False, server_default=""),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("wiki_document_id", sa.Uuid(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _user_fk("profiles"),
        sa.ForeignKeyConstraint(
            ["wiki_document_id"],
            ["documents.id"],
            name="fk_profiles_wiki_document_id_documents",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            "user_id IS NOT NULL OR external_id IS NOT NULL", name="ck_profiles_belongs_to_someone"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_profiles"),
    )
    op.create_index(
        "uq_profiles_user_id",
        "profiles",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("user_id IS NOT NULL"),
    )
    op.create_index(
        "uq_profiles_external_id",
        "profiles",
        ["external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.create_index("uq_profiles_username", "profiles", [sa.text("lower(username)")], unique=True)

    op.create_table(
        "profile_revisions",
        sa.Column("profile_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name="fk_profile_revisions_profile_id_profiles",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("profile_id", "revision", name="pk_profile_revisions"),
    )

    op.create_table(
        "learning_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("topic", sa.Text(), nullable=True),
        _timestamp("created_at"),
        _timestamp("last_activity_at"),
        _timestamp("ended_at", default=False),
        _user_fk("learning_sessions"),
        sa.PrimaryKeyConstraint("id", name="pk_learning_sessions"),
    )
    op.create_index("ix_learning_sessions_user_created", "learning_sessions", ["user_id", "created_at", "id"])

    op.create_table(
        "progress_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("completed_task", sa.Text(), nullable=False),
        sa.Column("skills", JSONB, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        _timestamp("created_at"),
        _user_fk("progress_events"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["learning_sessions.id"],
            name="fk_progress_events_session_id_learning_sessions",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_progress_events"),
    )
    op.create_index("ix_progress_events_user_created", "progress_events", ["user_id", "created_at", "id"])
    op.create_index(
        "ix_progress_events_session",
        "progress_events",
        ["session_id"],
        postgresql_where=sa.text("session_id IS NOT NULL"),
    )

    op.create_table(
        "skill_mastery",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("skill", sa.String(length=100), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("p_known", sa.Float(), nullable=False),
        sa.Column("evidence", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        _timestamp("updated_at"),
        _user_fk("skill_mastery"),
        sa.PrimaryKeyConstraint("user_id", "skill", name="pk_skill_mastery"),
    )

    op.create_table(
        "review_cards",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("item_key", sa.String(length=300), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("card", JSONB, nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviews", sa.Integer(), nullable=False),
        _timestamp("updated_at"),
        _user_fk("review_cards"),
        sa.PrimaryKeyConstraint("user_id", "item_key", name="pk_review_cards"),
    )
    op.create_index("ix_review_cards_user_due", "review_cards", ["user_id", "due"])

    op.add_column("jobs", sa.Column("session_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "fk_jobs_session_id_learning_sessions",
        "jobs",
        "learning_sessions",
        ["session_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.alter_column("jobs", "owner_id", nullable=True)
    op.create_table(
        "job_attachments",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(length=200), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_job_attachments_job_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", name="pk_job_attachments"),
    )
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_jobs_session",
            "jobs",
            ["session_id"],
            postgresql_where=sa.text("session_id IS NOT NULL"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    op.drop_index("ix_jobs_session", table_name="jobs")
    op.drop_table("job_attachments")
    op.execute("DELETE FROM jobs WHERE owner_id IS NULL")
    op.alter_column("jobs", "owner_id", nullable=False)
    op.drop_constraint("fk_jobs_session_id_learning_sessions", "jobs", type_="foreignkey")
    op.drop_column("jobs", "session_id")
    op.drop_table("review_cards")
    op.drop_table("skill_mastery")
    op.drop_table("progress_events")
    op.drop_table("learning_sessions")
    op.drop_table("profile_revisions")
    op.drop_table("profiles")
