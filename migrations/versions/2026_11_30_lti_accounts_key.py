"""LTI accounts keyed by the registration's accounts key, not the issuer alone (issue 51, finding 1):
a second registration that names a known issuer reaches the first one's users only when it shares
its key set (one platform with several client ids); one with keys of its own, or one made after
the first was removed, gets accounts of its own.

Existing registrations: those of one issuer and one key set share the oldest one's id; others get
their own. Existing accounts go with the oldest registration of their issuer; an account whose
issuer has no registration left is kept (grades, history) but reached by no launch.

Revision ID: 2026_11_30_lti_accounts_key
Revises: 2026_11_29_course_voices
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_30_lti_accounts_key"
down_revision = "2026_11_29_course_voices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("lti_platforms", sa.Column("accounts_key", sa.Text(), nullable=True))
    op.execute(
        """
        UPDATE lti_platforms p SET accounts_key = (
            SELECT q.id::text FROM lti_platforms q
            WHERE q.issuer = p.issuer AND q.jwks_url = p.jwks_url
            ORDER BY q.created_at, q.id LIMIT 1
        )
        """
    )
    op.alter_column("lti_platforms", "accounts_key", nullable=False)

    op.add_column("lti_accounts", sa.Column("accounts_key", sa.Text(), nullable=True))
    op.execute(
        """
        UPDATE lti_accounts a SET accounts_key = coalesce(
            (SELECT p.accounts_key FROM lti_platforms p WHERE p.issuer = a.issuer
             ORDER BY p.created_at, p.id LIMIT 1),
            'removed:' || a.id::text
        )
        """
    )
    op.alter_column("lti_accounts", "accounts_key", nullable=False)
    op.drop_constraint("uq_lti_accounts_issuer", "lti_accounts", type_="unique")
    op.create_unique_constraint("uq_lti_accounts_accounts_key", "lti_accounts", ["accounts_key", "subject"])


def downgrade() -> None:
    op.drop_constraint("uq_lti_accounts_accounts_key", "lti_accounts", type_="unique")
    # Accounts of one issuer under several keys cannot all keep (issuer, subject) unique: the
    # oldest of each stays linked, as before this revision.
    op.execute(
        """
        DELETE FROM lti_accounts a USING lti_accounts b
        WHERE a.issuer = b.issuer AND a.subject = b.subject AND a.created_at > b.created_at
        """
    )
    op.create_unique_constraint("uq_lti_accounts_issuer", "lti_accounts", ["issuer", "subject"])
    op.drop_column("lti_accounts", "accounts_key")
    op.drop_column("lti_platforms", "accounts_key")
