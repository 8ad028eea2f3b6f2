"""docker-compose.yml's production topology rehearsed on one machine, each host a Linux network
namespace (`mentorq rehearse`, tests/hosts/)."""

from __future__ import annotations

import shutil
import signal
import tempfile
from pathlib import Path


def run_rehearsal(*, keep: bool = False) -> int:
    """Start the rehearsal, print its hosts and services, wait for Ctrl-C, remove everything."""
    from devstack.rehearsal import network, topology

    why_not = network.unavailable()
    if why_not is not None:
        print(f"cannot rehearse here: {why_not}")
        return 2
    root = Path(tempfile.mkdtemp(prefix="mentorq-rehearsal-"))
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM cleans up as Ctrl-C does
    try:
        rehearsal = topology.start(root)
        try:
            print(f"{'host':7} {'address':12} {'link':12} services")
            for host in rehearsal.network.hosts.values():
                services = sorted(name for name, p in rehearsal.processes.items() if p.host is host)
                idle = "(you)" if host.namespace is None else "(spare: a second GPU host joins here)"
                print(f"{host.name:7} {host.address:12} {host.router_side:12} {', '.join(services) or idle}")
            print(f"\nThe API through the production proxy: {rehearsal.url}  (logs: {root / 'logs'})")
            print(f"Cut a host: ip netns exec {rehearsal.network.router} ip link set LINK down (up heals)")
            print("Ctrl-C stops every process and removes the namespaces.")
            signal.pause()
        finally:
            rehearsal.close()
    except KeyboardInterrupt:
        pass
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0
