"""The production topology rehearsed on one machine: docker-compose.yml's services on separate
network hosts (devstack/rehearsal/network.py), each started with the command and environment
the compose file gives it (devstack/rehearsal/compose.py).

    data  PostgreSQL (pgvector) and Redis, passwords on both (devstack/rehearsal/data_host.py)
    api   `migrate`, then two `api` processes (ports 8000 and 8001: two replicas of the service)
          behind the production nginx configuration on port 80
    gpu   the fake Ollama server (tests/support/fake_ollama.py) with N slots on port 11434, and
          the model lanes' workers: worker-llm, worker-embed, worker-query
    cpu   worker-cpu, worker-io, beat
    client  the machine's own namespace: whoever drives the rehearsal

The compose file's host names become the hosts' addresses: `postgres` and `redis` the data
host's, `ollama` the gpu host's. The hosts share this machine's files (only the network is
separate), so a file one host writes and another reads would not be caught here.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from devstack.rehearsal import compose
from devstack.rehearsal.network import Host, Network
from devstack.rehearsal.proxy import NGINX, production_config
from devstack.supervisor import stop_process

REPO = Path(__file__).resolve().parents[2]
HOSTS = ("data", "api", "gpu", "cpu")
PLACEMENT = {
    "api": ("migrate", "api", "proxy"),
    "gpu": ("worker-llm", "worker-embed", "worker-query"),
    "cpu": ("worker-cpu", "worker-io", "beat"),
}
OLLAMA_PORT = 11434
PROXY_PORT = 80
API_PORTS = (8000, 8001)
# What the rehearsal keeps from this machine's environment: where programs and the models' caches are.
KEPT_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "HF_HOME",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "SENTENCE_TRANSFORMERS_HOME",
    "TORCH_HOME",
    "XDG_CACHE_HOME",
    "MENTORQ_MODELS_DIR",
)


@dataclass
class Process:
    name: str
    host: Host
    popen: subprocess.Popen
    log: Path
    argv: list[str]
    env: dict[str, str]


@dataclass
class Rehearsal:
    root: Path
    network: Network
    variables: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The production proxy on the api host, as the client reaches it."""
        return f"http://{self.network.hosts['api'].address}:{PROXY_PORT}"

    @property
    def redis_url(self) -> str:
        return f"redis://:{self.variables['REDIS_PASSWORD']}@{self.network.hosts['data'].address}:6379/0"

    @property
    def database_url(self) -> str:
        password, data = self.variables["POSTGRES_PASSWORD"], self.network.hosts["data"].address
        return f"postgresql://mentorq:{password}@{data}:5432/mentorq"

    def hosts_map(self) -> dict[str, str]:
        data, gpu = self.network.hosts["data"].address, self.network.hosts["gpu"].address
        return {"postgres": data, "redis": data, "ollama": f"{gpu}:{OLLAMA_PORT}"}

    # --- processes ------------------------------------------------------------------------

    def spawn(self, name: str, host: str, argv: list[str], env: dict[str, str] | None = None) -> Process:
        """Start `argv` on `host` in the repository, its output in root/logs/<name>.log."""
        where = self.network.hosts[host]
        log = self.root / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        base = {key: os.environ[key] for key in KEPT_ENV if key in os.environ}
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                where.command(argv),
                cwd=REPO,
                env={**base, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = self.processes[name] = Process(name, where, popen, log, argv, env or {})
        return process

    def run_service(
        self, service: str, host: str, *, name: str | None = None, port: int | None = None
    ) -> Process:
        """A mentorq service of the compose file on `host` (`port`: another replica's API port)."""
        argv, env = compose.service_run(service, self.variables, self.hosts_map())
        if port is not None:
            argv = [str(port) if previous == "--port" else part for previous, part in zip(["", *argv], argv)]
        argv[0] = str(Path(sys.executable).parent / argv[0])  # the entrypoint in this environment
        return self.spawn(name or service, host, argv, env)

    def lose_host(self, host: str) -> list[Process]:
        """Every process on the host SIGKILLed at once (a power cut); what ran there, to bring back."""
        lost = [process for process in self.processes.values() if process.host.name == host]
        for process in lost:  # reaped as they die, so the namespace empties (kill_host waits for that)
            del self.processes[process.name]
        reaper = threading.Thread(target=lambda: [process.popen.wait() for process in lost], daemon=True)
        reaper.start()
        self.network.kill_host(host)
        reaper.join(10)
        return lost

    def bring_back(self, lost: list[Process]) -> None:
        """Start again what `lose_host` killed, as it was started (the model server first)."""
        for process in lost:
            self.spawn(process.name, process.host.name, process.argv, process.env)
        if any(process.name == "ollama" for process in lost):
            gpu = self.network.hosts["gpu"]
            wait_for(
                lambda: _listening(gpu.address, OLLAMA_PORT), timeout_s=30, what="the fake Ollama server"
            )
        _wait_for_workers(self, [process.name for process in lost if process.name.startswith("worker-")])

    def generations(self) -> list[str]:
        """The prompt of every generation the model server finished, across its restarts."""
        record = self.root / "generations.jsonl"
        if not record.exists():
            return []
        return [json.loads(line) for line in record.read_text().splitlines() if line]

    def stop(self, name: str, *, kill: bool = False, grace_s: float = 30.0) -> None:
        stop_process(self.processes.pop(name).popen, grace_s, kill=kill)

    def close(self) -> None:
        """Every process by its own pid (TERM, then KILL), then the network with what is left in it."""
        try:
            for name in reversed(list(self.processes)):
                with contextlib.suppress(Exception):
                    self.stop(name)
        finally:
            self.network.remove()

    def tail(self, name: str, lines: int = 30) -> str:
        log = self.root / "logs" / f"{name}.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def wait_for(
    check: Callable[[], bool], *, timeout_s: float, what: str, logs: Callable[[], str] = str
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(Exception):
            if check():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout_s:.0f} s\n{logs()}")
        time.sleep(0.2)


def _listening(address: str, port: int) -> bool:
    with socket.create_connection((address, port), timeout=1):
        return True


def start(
    root: Path,
    *,
    prefix: str | None = None,
    services: Iterable[str] | None = None,
    llm_slots: int = 4,
    token_delay_s: float = 0.02,
) -> Rehearsal:
    """Build the hosts and start the services on them (`services`: a subset of PLACEMENT's); the
    caller closes the rehearsal (also when this raises, nothing is left: it closes itself)."""
    wanted = set(services) if services is not None else {s for placed in PLACEMENT.values() for s in placed}
    network = Network(prefix=prefix or f"mq{os.getpid() % 100000}").build(HOSTS)
    variables = {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(18),
        "REDIS_PASSWORD": secrets.token_urlsafe(18),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "FLOWER_BASIC_AUTH": f"admin:{secrets.token_urlsafe(12)}",
        "MENTORQ_LLM_MODEL": "llama3.2:1b",
        "MENTORQ_LLM_PARALLEL": str(llm_slots),
    }
    rehearsal = Rehearsal(root, network, variables)
    try:
        _start_data(rehearsal)
        _start_fake_ollama(rehearsal, slots=llm_slots, token_delay_s=token_delay_s)
        migrate = rehearsal.run_service("migrate", "api")
        if migrate.popen.wait(180) != 0:
            raise RuntimeError(f"migrate failed\n{rehearsal.tail('migrate')}")
        rehearsal.processes.pop("migrate")
        if "api" in wanted:
            _start_api(rehearsal, proxy="proxy" in wanted)
        for host in ("gpu", "cpu"):
            for service in PLACEMENT[host]:
                if service in wanted:
                    rehearsal.run_service(service, host)
        _wait_for_workers(rehearsal, [s for s in wanted if s.startswith("worker-")])
    except BaseException:
        rehearsal.close()
        raise
    return rehearsal


def _start_data(rehearsal: Rehearsal) -> None:
    data = rehearsal.network.hosts["data"]
    argv = [
        sys.executable,
        "-m",
        "devstack.rehearsal.data_host",
        "--dir",
        str(rehearsal.root / "data"),
        "--address",
        data.address,
    ]
    passwords = {name: rehearsal.variables[name] for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD")}
    rehearsal.spawn("data", "data", argv, passwords)
    wait_for(
        lambda: "ready" in rehearsal.tail("data", 5),
        timeout_s=120,
        what="the data host",
        logs=lambda: rehearsal.tail("data"),
    )


def _start_fake_ollama(rehearsal: Rehearsal, *, slots: int, token_delay_s: float) -> None:
    gpu = rehearsal.network.hosts["gpu"]
    argv = [
        sys.executable,
        "-m",
        "tests.support.fake_ollama",
        "--host",
        gpu.address,
        "--port",
        str(OLLAMA_PORT),
        "--slots",
        str(slots),
        "--token-delay-s",
        str(token_delay_s),
        "--record-to",
        str(rehearsal.root / "generations.jsonl"),
    ]
    rehearsal.spawn("ollama", "gpu", argv)
    wait_for(
        lambda: _listening(gpu.address, OLLAMA_PORT),
        timeout_s=30,
        what="the fake Ollama server",
        logs=lambda: rehearsal.tail("ollama"),
    )


def _start_api(rehearsal: Rehearsal, *, proxy: bool) -> None:
    import httpx

    api = rehearsal.network.hosts["api"]
    for replica, port in enumerate(API_PORTS, start=1):
        rehearsal.run_service("api", "api", name=f"api-{replica}", port=port)
    for replica, port in enumerate(API_PORTS, start=1):
        wait_for(
            lambda port=port: httpx.get(f"http://{api.address}:{port}/healthz", timeout=2).status_code == 200,
            timeout_s=90,
            what=f"api-{replica}",
            logs=lambda replica=replica: rehearsal.tail(f"api-{replica}"),
        )
    if not proxy:
        return
    folder = rehearsal.root / "proxy"
    folder.mkdir()
    conf = production_config(
        folder, upstreams=[f"127.0.0.1:{port}" for port in API_PORTS], listen=f"{api.address}:{PROXY_PORT}"
    )
    rehearsal.spawn("proxy", "api", [NGINX, "-c", str(conf), "-p", str(folder)])
    wait_for(
        lambda: httpx.get(f"{rehearsal.url}/healthz", timeout=2).status_code == 200,
        timeout_s=30,
        what="the proxy",
        logs=lambda: rehearsal.tail("proxy"),
    )


def _wait_for_workers(rehearsal: Rehearsal, services: list[str]) -> None:
    import redis

    client = redis.Redis.from_url(rehearsal.redis_url)
    machine = socket.gethostname()
    for service in services:
        argv, _ = compose.service_run(service, rehearsal.variables, rehearsal.hosts_map())
        hostname = argv[argv.index("--hostname") + 1].replace("%h", machine)
        wait_for(
            lambda hostname=hostname: bool(client.exists(f"mentorq:worker:{hostname}")),
            timeout_s=180,
            what=service,
            logs=lambda service=service: rehearsal.tail(service),
        )
    client.close()
