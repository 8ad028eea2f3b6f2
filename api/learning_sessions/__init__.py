"""Learning sessions: open, list, read, end; every learning request may name one."""
