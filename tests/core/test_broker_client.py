"""kombu's Redis channel keeps one client (core/broker_fixes.py) instead of making one per command:
on the stack's real Redis, the same client serves every command of a channel, from many threads
at once, a new one follows a replaced pool, and messages still go through."""

from __future__ import annotations

import threading
import uuid

from kombu import Connection, Exchange, Queue

from core import broker_fixes
from tests.support.stack import Stack


def kombu_url(stack: Stack) -> str:
    url = stack.env["REDIS_URL"]
    return "redis+socket://" + url[len("unix://") :] if url.startswith("unix://") else url


def test_a_channel_keeps_one_client_and_a_replaced_pool_gets_a_new_one(stack: Stack) -> None:
    broker_fixes.install()
    with Connection(kombu_url(stack)) as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second and first.ping()
        channel._pool = None  # as a reconnect leaves it  # noqa: SLF001
        with channel.conn_or_acquire() as third:
            assert third is not first and third.connection_pool is channel.pool and third.ping()
        given = object()
        with channel.conn_or_acquire(given) as passed:  # a caller's own client is used as it is
            assert passed is given


def test_the_kept_client_serves_many_threads_and_messages_go_through(stack: Stack) -> None:
    broker_fixes.install()
    key = f"test-broker-client-{uuid.uuid4().hex}"
    with Connection(kombu_url(stack)) as connection:
        channel = connection.default_channel
        errors: list[BaseException] = []

        def push(thread: int) -> None:
            try:
                for index in range(200):
                    with channel.conn_or_acquire() as client:
                        client.rpush(key, f"{thread}:{index}")
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=push, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with channel.conn_or_acquire() as client:
            values = client.lrange(key, 0, -1)
            client.delete(key)
        assert errors == []
        assert sorted(values) == sorted(f"{t}:{i}".encode() for t in range(8) for i in range(200))

        queue = Queue(key, Exchange(key, type="direct"), routing_key=key)
        with connection.Producer() as producer:
            for index in range(3):
                producer.publish({"n": index}, exchange=queue.exchange, routing_key=key, declare=[queue])
        simple = connection.SimpleQueue(queue)
        received = []
        for _ in range(3):
            message = simple.get(timeout=5)
            received.append(message.payload["n"])
            message.ack()
        simple.close()
        assert sorted(received) == [0, 1, 2]
