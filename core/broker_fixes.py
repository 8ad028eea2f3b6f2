"""Two changes to kombu's Redis transport: a workaround for a bug that takes a worker down when
Redis goes away mid-task, and a client kept per channel instead of one made per command.

**The bug.**
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

**A client per channel.** kombu makes a new `redis.Redis` for each command it sends outside its
event loop (`Channel.conn_or_acquire`): each publish of the API, each worker's record and ack of
a delivered message. A client is a thin object over the channel's connection pool, but redis-py
builds its table of response callbacks in every one: 4 % of a quick job's CPU in the worker,
2 % in the API (py-spy, benchmarks.platform_overhead). redis-py's clients are safe to share between
threads (each command takes a connection from the pool), so the channel keeps one, made again
when the channel's pool is replaced (a reconnect).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis
from kombu.transport import redis as kombu_redis

_connparams = kombu_redis.Channel._connparams
_KEPT_CLIENT = "_mentorq_client"


def _connparams_of_an_open_connection(self, asynchronous=False):
    if getattr(self.connection, "client", None) is None:
        raise redis.exceptions.ConnectionError("this channel's broker connection is closed")
    return _connparams(self, asynchronous=asynchronous)


@contextlib.contextmanager
def _conn_or_acquire_kept(self, client=None) -> Iterator[redis.Redis]:
    if client:
        yield client
        return
    kept = self.__dict__.get(_KEPT_CLIENT)
    if kept is None or kept.connection_pool is not self.pool:
        kept = self._create_client()
        self.__dict__[_KEPT_CLIENT] = kept
    yield kept


def install() -> None:
    """Idempotent: installing twice wraps once."""
    kombu_redis.Channel._connparams = _connparams_of_an_open_connection
    kombu_redis.Channel.conn_or_acquire = _conn_or_acquire_kept
