"""Every change to an account, and every logout, is announced on the `mentorq_users` channel
(PostgreSQL NOTIFY, sent when the transaction commits): each API process keeps the users behind
the tokens it saw, and drops a user the moment this says the account changed, whoever changed it
(the API, a worker deleting an account, the command line, an operator's SQL).

Revision ID: 2026_11_24_users_changed
Revises: 2026_11_24_submissions_grading
Create Date: 2026-11-24
"""

from alembic import op

revision = "2026_11_24_users_changed"
down_revision = "2026_11_24_submissions_grading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION mentorq_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'revoked_tokens' THEN
                PERFORM pg_notify('mentorq_users', NEW.user_id::text);
            ELSE
                PERFORM pg_notify('mentorq_users', OLD.id::text);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users "
        "FOR EACH ROW EXECUTE FUNCTION mentorq_user_changed()"
    )
    op.execute(
        "CREATE TRIGGER token_revoked AFTER INSERT ON revoked_tokens "
        "FOR EACH ROW EXECUTE FUNCTION mentorq_user_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER token_revoked ON revoked_tokens")
    op.execute("DROP TRIGGER users_changed ON users")
    op.execute("DROP FUNCTION mentorq_user_changed()")
