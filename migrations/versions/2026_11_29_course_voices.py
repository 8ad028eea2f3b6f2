"""Course voices: a voice profile may belong to one LTI course (lti_contexts), enrolled by its
instructors and matched only against that course's recordings (and deleted with the course).
Deployment-wide profile names stay unique among the deployment-wide profiles; a course's profile
names are unique in the course (as collections' names, 2026_11_27_course_scope).

Revision ID: 2026_11_29_course_voices
Revises: 2026_11_28_voice_profiles
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2026_11_29_course_voices"
down_revision = "2026_11_28_voice_profiles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("voice_profiles", sa.Column("course_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.create_foreign_key(
        "fk_voice_profiles_course_id_lti_contexts",
        "voice_profiles",
        "lti_contexts",
        ["course_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.drop_constraint("uq_voice_profiles_name", "voice_profiles", type_="unique")
    op.create_index(
        "uq_voice_profiles_shared_name",
        "voice_profiles",
        ["name"],
        unique=True,
        postgresql_where=sa.text("course_id IS NULL"),
    )
    op.create_index(
        "uq_voice_profiles_course_name",
        "voice_profiles",
        ["course_id", "name"],
        unique=True,
        postgresql_where=sa.text("course_id IS NOT NULL"),
    )


def downgrade() -> None:
    # A course's voices cannot become deployment-wide (every recording would be matched to them): they go.
    op.execute("DELETE FROM voice_profiles WHERE course_id IS NOT NULL")
    op.drop_index("uq_voice_profiles_course_name", table_name="voice_profiles")
    op.drop_index("uq_voice_profiles_shared_name", table_name="voice_profiles")
    op.create_unique_constraint("uq_voice_profiles_name", "voice_profiles", ["name"])
    op.drop_constraint("fk_voice_profiles_course_id_lti_contexts", "voice_profiles", type_="foreignkey")
    op.drop_column("voice_profiles", "course_id")
