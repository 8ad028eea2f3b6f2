"""Users: an admin's view of accounts (search, roles, deactivation, deletion); the Users page."""
