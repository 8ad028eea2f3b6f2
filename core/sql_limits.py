"""The largest numbers PostgreSQL's integer columns hold: every integer a client may send (ids,
versions, cursors) is bounded by the column it ends up compared with, so an overflow is a 422,
never a database error."""

MAX_BIGINT = 2**63 - 1
MAX_INTEGER = 2**31 - 1  # an `integer` column: instructions' and profile revisions' version numbers
