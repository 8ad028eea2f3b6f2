"""An impaired wire between two interfaces: every Ethernet frame received on one is sent out of
the other after the direction's delay, or dropped with the direction's probability, as the
kernel's netem qdisc would (`delay D loss P%`: a fixed delay keeps the frames in order, each
frame is lost or not independently). The kernel here has no netem, so this runs in userspace:

    python -m devstack.rehearsal.impairment --a IFACE_A --b IFACE_B \\
        --delay-ms-a2b 0 --loss-a2b 0 --delay-ms-b2a 200 --loss-b2a 0.05 [--seed S]

Losses are fractions (0.05 is 5 %). Frames pass unchanged, so the wire is transparent: both
interfaces are put in promiscuous mode to take frames for the far side's addresses. The frames
must come as they go on a wire, at most the MTU with their checksums done: the veth ends that
send into these interfaces have their offloads off (network.py sees to it); a larger frame (a GSO
one) is received whole but cannot be sent, and counts as `failed`.

It prints one JSON line once both interfaces are open (`{"ready": ...}`), then the counts of
frames passed, dropped and failed per direction on SIGUSR1 and on exit (SIGTERM, SIGINT).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import selectors
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_IGNORE_OUTGOING = 23  # Linux 4.20: frames sent from this machine are not queued to the socket
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33  # root may pass net.core.[rw]mem_max
FRAME_BYTES = 65536 + 1024  # a GSO frame whole, so that it is counted rather than cut short
SOCKET_BUFFER = 8 * 1024 * 1024  # a burst at veth speed waits here while the loop is busy
BATCH = 256  # frames taken from one socket before the other gets its turn


def open_interface(name: str) -> socket.socket:
    """A raw socket that receives every frame arriving on `name` and sends frames out of it."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: nothing until bound
    for option, fallback in ((SO_RCVBUFFORCE, socket.SO_RCVBUF), (SO_SNDBUFFORCE, socket.SO_SNDBUF)):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, fallback, SOCKET_BUFFER)
    try:
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    except OSError:
        pass  # receive() skips them by their pkttype
    sock.bind((name, ETH_P_ALL))
    membership = struct.pack("iHH8s", socket.if_nametoindex(name), PACKET_MR_PROMISC, 0, b"")
    sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, membership)  # undone when the socket closes
    sock.setblocking(False)
    return sock


@dataclass
class Direction:
    """Frames from `source` to `target`: each dropped or queued until its time has come."""

    name: str
    source: socket.socket
    target: socket.socket
    delay_s: float
    loss: float
    rng: random.Random
    queue: collections.deque[tuple[float, bytes]] = field(default_factory=collections.deque)
    passed: int = 0
    dropped: int = 0
    failed: int = 0  # could not be sent: larger than the MTU, or the target's queue full
    largest: int = 0

    def receive(self, buffer: bytearray) -> None:
        """Take what the source has (at most a batch); each frame's delay counts from its read."""
        view = memoryview(buffer)
        for _ in range(BATCH):
            try:
                size, address = self.source.recvfrom_into(buffer)
            except BlockingIOError:
                return
            # The clock is read after each frame, not once before the batch: a relay that lost its
            # core mid-batch would otherwise date the frames that came meanwhile too early and let
            # them overtake the delay (a CI run saw an 81 ms round trip through 40 + 60 ms).
            now = time.monotonic()
            if address[2] == socket.PACKET_OUTGOING:  # sent from here (an older kernel, without the option)
                continue
            self.largest = max(self.largest, size)
            if self.loss and self.rng.random() < self.loss:
                self.dropped += 1
            elif self.delay_s or self.queue:
                self.queue.append((now + self.delay_s, bytes(view[:size])))
            else:
                self.send(view[:size])

    def release(self, now: float) -> float | None:
        """Send the frames whose time has come; when the next one's comes, None if none waits."""
        while self.queue:
            due, frame = self.queue[0]
            if due > now:
                return due
            self.queue.popleft()
            self.send(frame)
        return None

    def send(self, frame: bytes | memoryview) -> None:
        try:
            self.target.send(frame)
            self.passed += 1
        except OSError:  # EMSGSIZE, ENOBUFS: lost, as on a wire that cannot take it
            self.failed += 1

    def counts(self) -> dict[str, int]:
        return {
            "passed": self.passed,
            "dropped": self.dropped,
            "failed": self.failed,
            "queued": len(self.queue),
            "largest": self.largest,
        }


class Stop(Exception):
    """SIGTERM or SIGINT: leave the loop and report."""


def relay(directions: list[Direction]) -> None:
    """One thread for both directions: wait for a frame or the next one due, whichever first."""
    selector = selectors.DefaultSelector()
    for direction in directions:
        selector.register(direction.source, selectors.EVENT_READ, direction)
    buffer = bytearray(FRAME_BYTES)
    while True:
        now = time.monotonic()
        dues = [due for direction in directions if (due := direction.release(now)) is not None]
        timeout = max(0.0, min(dues) - time.monotonic()) if dues else None
        for key, _ in selector.select(timeout):
            key.data.receive(buffer)


def report(directions: list[Direction]) -> None:
    print(json.dumps({d.name: d.counts() for d in directions}), flush=True)


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a loss is a fraction from 0 to 1 (0.05 is 5 %), not {text}")
    return value


def milliseconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a delay cannot be negative: {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, help="one interface")
    parser.add_argument("--b", required=True, help="the other interface")
    parser.add_argument("--delay-ms-a2b", type=milliseconds, default=0.0)
    parser.add_argument("--delay-ms-b2a", type=milliseconds, default=0.0)
    parser.add_argument("--loss-a2b", type=fraction, default=0.0)
    parser.add_argument("--loss-b2a", type=fraction, default=0.0)
    parser.add_argument("--seed", type=int, default=None, help="the losses' random sequence")
    args = parser.parse_args(argv)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Stop

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    a, b = open_interface(args.a), open_interface(args.b)
    rng = random.Random(args.seed)
    directions = [
        Direction("a2b", a, b, args.delay_ms_a2b / 1000, args.loss_a2b, rng),
        Direction("b2a", b, a, args.delay_ms_b2a / 1000, args.loss_b2a, rng),
    ]
    signal.signal(signal.SIGUSR1, lambda signum, frame: report(directions))
    print(json.dumps({"ready": {"a": args.a, "b": args.b}}), flush=True)
    try:
        relay(directions)
    except Stop:
        pass
    finally:
        report(directions)
        a.close()
        b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
