"""xAPI 1.0.3 / 2.0 statements about what learners do in mentorq (core/xapi/statements.py)."""
