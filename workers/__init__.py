"""What a worker host needs: the Celery app, LLM and embedding providers, the job runtime."""
