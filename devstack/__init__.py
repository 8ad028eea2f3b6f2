"""The dev runtime: embedded PostgreSQL and Redis, and the supervisor behind `mentorq dev` and the demo."""
