"""What the tests share: the stack (real PostgreSQL, Redis, Celery workers and the API), the fakes
that speak a real wire protocol (LLM servers, GitHub, DNS), a webhook receiver, TLS and loopback helpers."""
