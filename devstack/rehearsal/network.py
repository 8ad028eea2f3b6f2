"""Hosts on one machine: Linux network namespaces joined through a router namespace by veth pairs.

Each host is a namespace with one link, `eth0`, to the router; the router forwards between them
and nothing else (no link to the machine's own network, no NAT). The machine's own namespace is
the `client` host: it gets a link to the router too, so the test or the person watching reaches
the hosts by their addresses and the hosts cannot reach anything of the machine's but that link.

    router: 10.<net>.<i>.1 on r<i>  <-- veth -->  host i: 10.<net>.<i>.2 on eth0, default via .1

A link can be cut and healed from the router's side (`ip link set down`): the host's packets are
dropped there, its TCP connections retransmit into nothing, as when a switch port or a cable goes.

A host built `impairable` has a wire namespace in the middle of its link, where a bridge joins
the two halves; `impair` replaces the bridge with a userspace relay that delays and drops frames
(impairment.py: this kernel has no netem), `clear` puts the bridge back:

    router r<i>  <-- veth -->  wire: u<i> [bridge b<i>, or the relay] d<i>  <-- veth -->  host eth0

Every namespace and link made here carries the run's prefix and is removed by `remove`, which
also stops what still runs in them (by pid: `ip netns pids`). One network per `net` runs on a
machine at a time: `build` takes the net's lock (a second waits), and first removes what a run
whose process died left on that net, named in the net's record (a run killed mid-way left its
route, and every later one failed at its first `ip route add`: "File exists"). Needs root
(CAP_NET_ADMIN); `unavailable()` says why not where it cannot run.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IP = "ip"
# The nets' locks and records of what each live network made. Under /run, a tmpfs: a reboot, which
# removes every namespace too, empties it.
RECORDS = Path("/run/mentorq-rehearsal")
LOCK_WAIT_S = 900.0  # another run's network on the same net: the hosts tests are 17 min
ROOT = Path(__file__).resolve().parents[2]  # where `python -m devstack.rehearsal.impairment` runs
SIOCETHTOOL = 0x8946
# ethtool's (legacy) set commands for TX checksumming, scatter-gather, TSO, GSO and GRO
ETHTOOL_OFFLOADS = (0x17, 0x19, 0x1F, 0x24, 0x2C)


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None when they can (checked by making one)."""
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN)"
    probe = f"mq-probe-{os.getpid()}"
    made = subprocess.run([IP, "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip() or made.returncode}"
    subprocess.run([IP, "netns", "delete", probe], capture_output=True)
    return None


def _run(*args: str) -> None:
    done = subprocess.run(list(args), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")


@dataclass
class Host:
    name: str
    index: int
    namespace: str | None  # None: the machine's own namespace (the client)
    address: str
    router_side: str  # the link's interface in the router namespace

    def command(self, argv: Iterable[str]) -> list[str]:
        """`argv` run on this host, under the host's own name: a UTS namespace whose hostname is the
        host's (`llm@%h` names a worker by it, as on a real machine; two gpu hosts must not share
        one). Each step execs the next, so the process keeps the pid the caller got."""
        argv = list(argv)
        if not self.namespace:
            return argv
        named = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', self.name, *argv]
        return [IP, "netns", "exec", self.namespace, *named]


@dataclass
class Network:
    """The router and hosts of one rehearsal; `prefix` names everything it makes."""

    prefix: str
    net: int = 77  # the second octet of every address
    hosts: dict[str, Host] = field(default_factory=dict)
    _made: list[str] = field(default_factory=list)  # namespaces, in the order made
    _links: list[str] = field(default_factory=list)  # veth ends made in the machine's namespace
    _client_link: str | None = None
    _wires: dict[str, str] = field(default_factory=dict)  # impairable host -> its wire namespace
    _relays: dict[str, subprocess.Popen[str]] = field(default_factory=dict)  # impaired host -> relay
    _lock: Any = None  # the net's lock file, held from build to remove

    @property
    def router(self) -> str:
        return f"{self.prefix}-router"

    def build(
        self, names: Iterable[str], *, client: str = "client", impairable: Iterable[str] = ()
    ) -> Network:
        """The router, one namespace per name, and the machine's own namespace as `client`; the
        `impairable` hosts (some of `names`) get a wire namespace in their link for `impair`."""
        names, impairable = list(names), set(impairable)
        if not impairable <= set(names):
            raise ValueError(f"impairable hosts must be among {names}: {sorted(impairable - set(names))}")
        self._claim_net()
        try:
            self._namespace(self.router)
            _run(IP, "netns", "exec", self.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            for index, name in enumerate(names, start=1):
                self._host(name, index, namespace=f"{self.prefix}-{name}", impairable=name in impairable)
            self._host(client, 250, namespace=None)
        except BaseException:
            self.remove()
            raise
        return self

    def _claim_net(self) -> None:
        """The net's lock, waited for while another live network holds it; then what a dead run
        left on the net (its record names it) removed, and this network's record begun."""
        RECORDS.mkdir(parents=True, exist_ok=True)
        self._lock = open(RECORDS / f"net{self.net}.lock", "a")  # noqa: SIM115 - held until remove()
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._lock.close()
                    raise RuntimeError(f"another rehearsal's network holds 10.{self.net}.0.0/16") from None
                time.sleep(1.0)
        record = self._record()
        if record.exists():
            left = json.loads(record.read_text())
            self._take_down(left["namespaces"], left["links"])
            subprocess.run([IP, "route", "del", f"10.{self.net}.0.0/16"], capture_output=True)
        self._remember()

    def _record(self) -> Path:
        return RECORDS / f"net{self.net}.json"

    def _remember(self) -> None:
        """The record of what this network made so far, for the next run should this process die."""
        record = {"prefix": self.prefix, "namespaces": self._made, "links": self._links}
        self._record().write_text(json.dumps(record))

    def _namespace(self, name: str) -> None:
        _run(IP, "netns", "add", name)
        self._made.append(name)
        self._remember()
        _run(IP, "netns", "exec", name, IP, "link", "set", "lo", "up")

    def _host(self, name: str, index: int, *, namespace: str | None, impairable: bool = False) -> None:
        # Interface names are at most 15 characters: the host's end is renamed eth0 once moved.
        outer, inner = f"{self.prefix[:8]}r{index}", f"{self.prefix[:8]}h{index}"
        if impairable:
            self._wire(name, index, outer, inner)
        else:
            _run(IP, "link", "add", outer, "type", "veth", "peer", "name", inner)
        self._links.append(inner)  # until moved into its namespace, which removes it with itself
        self._remember()
        if namespace is None:
            self._client_link = inner
        _run(IP, "link", "set", outer, "netns", self.router)
        gateway, address = f"10.{self.net}.{index}.1", f"10.{self.net}.{index}.2"
        router = (IP, "netns", "exec", self.router)
        _run(*router, IP, "addr", "add", f"{gateway}/24", "dev", outer)
        _run(*router, IP, "link", "set", outer, "up")
        if namespace is None:  # the machine's side: a route to the hosts' addresses, no default
            _run(IP, "addr", "add", f"{address}/24", "dev", inner)
            _run(IP, "link", "set", inner, "up")
            _run(IP, "route", "add", f"10.{self.net}.0.0/16", "via", gateway)
        else:
            self._namespace(namespace)
            _run(IP, "link", "set", inner, "netns", namespace)
            here = (IP, "netns", "exec", namespace)
            _run(*here, IP, "link", "set", inner, "name", "eth0")
            _run(*here, IP, "addr", "add", f"{address}/24", "dev", "eth0")
            _run(*here, IP, "link", "set", "eth0", "up")
            _run(*here, IP, "route", "add", "default", "via", gateway)
        self.hosts[name] = Host(name, index, namespace, address, outer)

    def _wire(self, name: str, index: int, outer: str, inner: str) -> None:
        """`outer` and `inner` as two veth pairs whose other ends are bridged in a wire namespace.
        The four ends lose their offloads, so that each frame crosses the wire as on a cable: at
        most the MTU, its checksums done (a veth otherwise passes 64 KB GSO frames with their
        checksums left to the hardware there is none of, which a relay cannot send on)."""
        wire, (up, down, bridge) = f"{self.prefix}-wire-{name}", self._wire_links(index)
        _run(IP, "link", "add", outer, "type", "veth", "peer", "name", up)
        self._links.append(up)  # until moved: deleting it deletes `outer` too
        _run(IP, "link", "add", down, "type", "veth", "peer", "name", inner)
        self._links.append(down)
        self._remember()
        for link in (outer, up, down, inner):
            _offloads_off(link)
        self._namespace(wire)
        self._wires[name] = wire
        here = (IP, "netns", "exec", wire)
        for setting in ("all", "default"):  # the bridge sends nothing of its own down the wire
            subprocess.run(
                [*here, "sysctl", "-qw", f"net.ipv6.conf.{setting}.disable_ipv6=1"], capture_output=True
            )
        _run(*here, IP, "link", "add", bridge, "type", "bridge")
        _run(*here, IP, "link", "set", bridge, "up")
        for link in (up, down):
            _run(IP, "link", "set", link, "netns", wire)
            _run(*here, IP, "link", "set", link, "master", bridge)
            _run(*here, IP, "link", "set", link, "up")

    def _wire_links(self, index: int) -> tuple[str, str, str]:
        """The wire's end toward the router, its end toward the host, and its bridge."""
        return f"{self.prefix[:8]}u{index}", f"{self.prefix[:8]}d{index}", f"{self.prefix[:8]}b{index}"

    def impair(
        self,
        name: str,
        *,
        delay_ms: float = 0.0,
        loss: float = 0.0,
        ingress_delay_ms: float = 0.0,
        ingress_loss: float = 0.0,
        seed: int | None = None,
    ) -> None:
        """Delay and drop what the host sends as `tc qdisc add dev eth0 root netem delay <delay_ms>ms
        loss <loss * 100>%` on the host would (a qdisc holds back egress only): a fixed delay that
        keeps the order, each frame lost or not by itself. Losses are fractions (0.05 is 5 %). What
        the host receives is delayed and dropped by `ingress_*` (none by default, as with netem).
        A ping's round trip grows by both delays. Impairing an impaired host replaces its settings.

        The relay is a process in the wire namespace (its pid in `relay`); it opens the wire's ends
        before the bridge lets them go, so no frame is lost in the switch but a few may pass twice."""
        if name not in self._wires:
            raise ValueError(f"{name} was not built impairable")
        for value in (loss, ingress_loss):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"a loss is a fraction from 0 to 1 (0.05 is 5 %), not {value}")
        self.clear(name)
        wire, (up, down, _) = self._wires[name], self._wire_links(self.hosts[name].index)
        argv = [IP, "netns", "exec", wire, sys.executable, "-m", "devstack.rehearsal.impairment"]
        argv += ["--a", up, "--b", down]  # a: toward the router, b: toward the host
        for direction, (delay, lost) in {
            "a2b": (ingress_delay_ms, ingress_loss),
            "b2a": (delay_ms, loss),
        }.items():
            argv += [f"--delay-ms-{direction}", str(delay), f"--loss-{direction}", str(lost)]
        argv += [] if seed is None else ["--seed", str(seed)]
        relay = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _ready(relay)
            for link in (up, down):
                _run(IP, "netns", "exec", wire, IP, "link", "set", link, "nomaster")
        except BaseException as error:
            stopped = _stop_relay(relay, quiet=True)
            self._bridge(name)
            if isinstance(error, RuntimeError):
                raise RuntimeError(f"impairing {name}: {error} (relay: {stopped})") from error
            raise
        self._relays[name] = relay

    def relay(self, name: str) -> int | None:
        """The pid of the relay impairing the host's link, None while it is not impaired."""
        relay = self._relays.get(name)
        return relay.pid if relay is not None else None

    def clear(self, name: str) -> dict[str, dict[str, int]]:
        """Stop impairing the host's link: the relay stops (what it held back is lost, as when a
        netem qdisc goes) and the bridge joins the wire's ends again. The relay's counts per
        direction (`b2a`: from the host), {} when the link was not impaired."""
        relay = self._relays.pop(name, None)
        if relay is None:
            return {}
        try:
            return _stop_relay(relay)
        finally:
            self._bridge(name)

    def _bridge(self, name: str) -> None:
        wire, (up, down, bridge) = self._wires[name], self._wire_links(self.hosts[name].index)
        for link in (up, down):
            _run(IP, "netns", "exec", wire, IP, "link", "set", link, "master", bridge)

    def cut(self, name: str) -> None:
        """Drop every packet to and from the host (its link goes down at the router)."""
        _run(IP, "netns", "exec", self.router, IP, "link", "set", self.hosts[name].router_side, "down")

    def heal(self, name: str) -> None:
        _run(IP, "netns", "exec", self.router, IP, "link", "set", self.hosts[name].router_side, "up")

    @contextlib.contextmanager
    def cut_off(self, name: str) -> Iterator[None]:
        """The host cut for the `with` block, healed at its end (also when the block raises)."""
        self.cut(name)
        try:
            yield
        finally:
            self.heal(name)

    def kill_host(self, name: str, *, wait_s: float = 10.0) -> list[int]:
        """SIGKILL every process in the host's namespace at once (the host lost), again for any
        that appears meanwhile (a fork caught between the listing and the kill), until none is
        left; their pids. A killed process lingers in the listing until its parent reaps it."""
        killed: list[int] = []
        deadline = time.monotonic() + wait_s
        while pids := self.pids(name):
            for pid in pids:
                if pid not in killed:
                    killed.append(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes on {name} outlived SIGKILL: {pids}")
            time.sleep(0.05)
        return killed

    def pids(self, name: str) -> list[int]:
        namespace = self.hosts[name].namespace
        if namespace is None:
            return []
        listed = subprocess.run([IP, "netns", "pids", namespace], capture_output=True, text=True)
        return [int(pid) for pid in listed.stdout.split()]

    def remove(self) -> None:
        """Stop what still runs in the namespaces (TERM, then KILL), remove them and the client link."""
        for relay in self._relays.values():
            _stop_relay(relay, quiet=True)
        self._relays.clear()
        self._wires.clear()
        self._take_down(self._made, self._links)
        self._made.clear()
        self._links.clear()
        if self._client_link is not None:
            subprocess.run([IP, "route", "del", f"10.{self.net}.0.0/16"], capture_output=True)
            self._client_link = None
        if self._lock is not None:  # everything removed: no record, and the net is free
            self._record().unlink(missing_ok=True)
            self._lock.close()
            self._lock = None

    def _take_down(self, namespaces: list[str], links: list[str]) -> None:
        """What runs in the namespaces stopped, then they and the links removed."""
        for name in namespaces:
            self._stop_all_in(name)
        for name in reversed(namespaces):
            subprocess.run([IP, "netns", "delete", name], capture_output=True)
        for link in links:  # deleting one end of a veth pair deletes both
            subprocess.run([IP, "link", "delete", link], capture_output=True)

    def _stop_all_in(self, namespace: str, *, grace_s: float = 5.0) -> None:
        def pids() -> list[int]:
            listed = subprocess.run([IP, "netns", "pids", namespace], capture_output=True, text=True)
            return [int(pid) for pid in listed.stdout.split()]

        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            running = pids()
            if not running:
                return
            for pid in running:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait_s
            while pids() and time.monotonic() < deadline:
                time.sleep(0.1)


def _offloads_off(link: str) -> None:
    """`ethtool -K <link> tx off sg off tso off gso off gro off` (no ethtool here), for a link in
    this process's namespace: the settings go with it into another."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for command in ETHTOOL_OFFLOADS:
            value = array.array("I", [command, 0])  # struct ethtool_value: the command, off
            request = struct.pack("16sP", link.encode(), value.buffer_info()[0])
            try:
                fcntl.ioctl(sock, SIOCETHTOOL, request)
            except OSError as error:
                raise RuntimeError(f"turning offload {command:#x} off on {link}: {error}") from error


def _ready(relay: subprocess.Popen[str], *, wait_s: float = 10.0) -> None:
    """Wait for the relay's first line, which it prints once it has opened both interfaces."""
    assert relay.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(relay.stdout, selectors.EVENT_READ)
        line = relay.stdout.readline() if selector.select(wait_s) else ""
    if not line.startswith('{"ready"'):
        raise RuntimeError(f"the relay did not start in {wait_s} s: {line.strip()!r}")


def _stop_relay(relay: subprocess.Popen[str], *, grace_s: float = 5.0, quiet: bool = False) -> dict:
    """SIGTERM to the relay's pid, then KILL after `grace_s`; its last counts. A relay that exits
    otherwise than as asked raises (with its stderr), unless `quiet`: then that is returned."""
    with contextlib.suppress(ProcessLookupError):
        relay.send_signal(signal.SIGTERM)
    try:
        out, err = relay.communicate(timeout=grace_s)
    except subprocess.TimeoutExpired:
        relay.kill()
        out, err = relay.communicate()
    lines = out.strip().splitlines()
    if quiet:
        return {"returncode": relay.returncode, "stderr": err.strip()[-2000:]}
    if relay.returncode != 0:
        raise RuntimeError(f"the relay exited {relay.returncode}: {err.strip()[-2000:]}")
    return json.loads(lines[-1]) if lines else {}
