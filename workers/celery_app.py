"""The Celery application. Importing it loads no model: providers load lazily in each worker process."""

from celery import Celery

from core import broker_fixes

broker_fixes.install()

app = Celery("mentorq")
app.config_from_object("celeryconfig")
# Task modules register themselves on import; the worker imports them all.
app.conf.include = [
    "tasks.chat", "tasks.embed", "tasks.debug", "tasks.maintenance", "tasks.webhooks", "tasks.ingest",
    "tasks.knowledge", "tasks.retention",
]

import workers.signals  # noqa: E402,F401  (connects worker lifecycle handlers)
