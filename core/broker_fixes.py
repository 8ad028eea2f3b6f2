"""A workaround for a kombu bug that takes a worker down when Redis goes away mid-task.

When the broker connection drops while a task is running (acks late: its message is unacked),
Celery closes the connection and opens a new one, but the old channel is still used twice:
to put the unacked message back when it closes, and to ack the message when the task ends.
Both go through kombu's Redis Channel._connparams, which reads the closed connection's client,
now None, and raise AttributeError ("'NoneType' object has no attribute 'hostname'"). Celery
treats that as unrecoverable: the whole worker exits. (Reproduced by tests/test_faults.py,
which stops Redis while a job runs; the kombu issue family is celery/kombu#970.) The worker
app and the API's producer app both install this.

A channel whose connection is closed raises a connection error here instead, which Celery
and kombu handle as such: the worker reconnects, the ack is logged as impossible. Nothing is
lost: the message stays in Redis' unacked hash, kombu's visibility-timeout restore brings it
back, and the claim refuses a job that already finished.
"""

from __future__ import annotations

import redis
from kombu.transport import redis as kombu_redis

_connparams = kombu_redis.Channel._connparams


def _connparams_of_an_open_connection(self, asynchronous=False):
    if getattr(self.connection, "client", None) is None:
        raise redis.exceptions.ConnectionError("this channel's broker connection is closed")
    return _connparams(self, asynchronous=asynchronous)


def install() -> None:
    """Idempotent: installing twice wraps once."""
    kombu_redis.Channel._connparams = _connparams_of_an_open_connection
