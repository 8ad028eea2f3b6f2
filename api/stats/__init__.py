"""Stats: the platform's counters for admins; the console's Overview page."""
