"""Targets, matches, their score history and gaps (db/models/matches.py), and version 1 of the
`match` kind's instructions.

Revision ID: 2026_11_25_matches
Revises: 2026_11_25_account_mails
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2026_11_25_matches"
down_revision = "2026_11_25_account_mails"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)
# The guidance an operator may rewrite; the output contract stays in tasks/match/task.py.
MATCH_V1 = """Read the target as a hiring manager or a course designer would: list what a person
must know or be able to do, one skill, tool or topic per requirement, at the level the target asks
for. Keep "required" apart from "nice to have" exactly as the target words it."""


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "targets",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("owner_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source_document_id", UUID, sa.ForeignKey("documents.id", ondelete="SET NULL")),
        sa.Column("requirements", postgresql.JSONB()),
        sa.Column("extraction", postgresql.JSONB()),
        _created_at(),
    )
    op.create_index("ix_targets_owner_id", "targets", ["owner_id"])
    op.create_table(
        "matches",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("owner_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("target_id", UUID, sa.ForeignKey("targets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_id", UUID, sa.ForeignKey("jobs.id", ondelete="SET NULL")),
        sa.Column("candidate_kind", sa.String(16), nullable=False),
        sa.Column("candidate", postgresql.JSONB()),
        sa.Column("breakdown", postgresql.JSONB()),
        sa.Column("score", sa.Float()),
        sa.Column("skill_keys", postgresql.ARRAY(sa.String(100)), nullable=False, server_default="{}"),
        _created_at(),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_matches_owner_created", "matches", ["owner_id", "created_at", "id"])
    op.create_index("ix_matches_target_id", "matches", ["target_id"])
    op.create_index("ix_matches_skill_keys", "matches", ["skill_keys"], postgresql_using="gin")
    op.create_table(
        "match_scores",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("match_id", UUID, sa.ForeignKey("matches.id", ondelete="CASCADE"), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("closed_gaps", postgresql.JSONB(), nullable=False, server_default="[]"),
        _created_at(),
    )
    op.create_index("ix_match_scores_match_id", "match_scores", ["match_id"])
    op.create_table(
        "match_gaps",
        sa.Column("match_id", UUID, sa.ForeignKey("matches.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("requirement", sa.Integer(), primary_key=True),
        sa.Column("skill", sa.Text(), nullable=False),
        sa.Column("resources_job_id", UUID, sa.ForeignKey("jobs.id", ondelete="SET NULL")),
        sa.Column("exercise_job_id", UUID, sa.ForeignKey("jobs.id", ondelete="SET NULL")),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
    )
    instructions = sa.table(
        "instructions",
        sa.column("kind", sa.String),
        sa.column("version", sa.Integer),
        sa.column("text", sa.Text),
        sa.column("note", sa.Text),
    )
    labels = sa.table(
        "instruction_labels", sa.column("kind", sa.String), sa.column("active_version", sa.Integer)
    )
    op.bulk_insert(
        instructions, [{"kind": "match", "version": 1, "text": MATCH_V1, "note": "shipped default"}]
    )
    op.bulk_insert(labels, [{"kind": "match", "active_version": 1}])


def downgrade() -> None:
    op.execute("DELETE FROM instruction_label_moves WHERE kind = 'match'")
    op.execute("DELETE FROM instruction_labels WHERE kind = 'match'")
    op.execute("DELETE FROM instructions WHERE kind = 'match'")
    op.drop_table("match_gaps")
    op.drop_table("match_scores")
    op.drop_table("matches")
    op.drop_table("targets")
