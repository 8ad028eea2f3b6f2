"""The production topology rehearsed on one machine: docker-compose.yml's services on separate
network hosts (devstack/rehearsal/network.py), each started with the command and environment
the compose file gives it (devstack/rehearsal/compose.py).

    data  PostgreSQL (pgvector) and Redis, passwords on both, each its own process so that one
          can be restarted alone (devstack/rehearsal/data_host.py)
    api   `migrate`, then two `api` processes (ports 8000 and 8001: two replicas of the service)
          behind the production nginx configuration on port 80
    gpu   the fake Ollama server (tests/support/fake_ollama.py) with N slots on port 11434, and
          the model lanes' workers: worker-llm, worker-embed, worker-query, worker-transcribe
    cpu   worker-cpu, worker-io, beat
    gpu2  a second GPU host, started on demand (`add_gpu_host`): its own fake Ollama server and
          its own worker-llm, sharing the llm lane with gpu's
    client  the machine's own namespace: whoever drives the rehearsal

The compose file's host names become the hosts' addresses: `postgres` and `redis` the data
host's, `ollama` the address of the gpu host the service runs on (each GPU host has its own model
server). Each host has its own hostname (a UTS namespace), so `llm@%h` names gpu's and gpu2's
llm workers apart. The hosts share this machine's files (only the network is
separate), so a file one host writes and another reads would not be caught here.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
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
HOSTS = ("data", "api", "gpu", "cpu", "gpu2")
GPU_HOSTS = ("gpu", "gpu2")
PLACEMENT = {
    "api": ("migrate", "api", "proxy"),
    "gpu": ("worker-llm", "worker-embed", "worker-query", "worker-transcribe"),
    "cpu": ("worker-cpu", "worker-io", "beat"),
}
OLLAMA_PORT = 11434
# A prompt holding one of these streams this slowly at every GPU host's model server: a job
# that outlives a shortened broker visibility timeout (tests/hosts/).
SLOW_MARKERS = {"slow-job-": 3.0}
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
    service: str | None = None  # the compose service it runs, if one


@dataclass
class Rehearsal:
    root: Path
    network: Network
    variables: dict[str, str]
    llm_slots: int = 4  # each GPU host's model server's, like OLLAMA_NUM_PARALLEL
    token_delay_s: float = 0.02
    # Settings the operator adds to every mentorq service's environment from the compose file.
    settings: dict[str, str] = field(default_factory=dict)
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

    def hosts_map(self, host: str = "gpu") -> dict[str, str]:
        """The compose file's host names as a service on `host` reaches them: a GPU host's model
        server is its own; every other host's services use the first GPU host's."""
        data = self.network.hosts["data"].address
        gpu = self.network.hosts[host if host in GPU_HOSTS else "gpu"].address
        # `redis-state` is the data host's one Redis too: the rehearsal is about hosts and links,
        # and the split is tested on the test stack (tests/test_state_redis.py).
        return {"postgres": data, "redis": data, "redis-state": data, "ollama": f"{gpu}:{OLLAMA_PORT}"}

    # --- processes ------------------------------------------------------------------------

    def spawn(
        self,
        name: str,
        host: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        service: str | None = None,
    ) -> Process:
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
        process = self.processes[name] = Process(name, where, popen, log, argv, env or {}, service)
        return process

    def run_service(
        self,
        service: str,
        host: str,
        *,
        name: str | None = None,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> Process:
        """A mentorq service of the compose file on `host` (`port`: another replica's API port;
        `extra_env`: settings an operator added to the compose file's)."""
        argv, env = compose.service_run(service, self.variables, self.hosts_map(host))
        if port is not None:
            argv = [str(port) if previous == "--port" else part for previous, part in zip(["", *argv], argv)]
        argv[0] = str(Path(sys.executable).parent / argv[0])  # the entrypoint in this environment
        env = {**env, **self.settings, **(extra_env or {})}
        return self.spawn(name or service, host, argv, env, service=service)

    def add_gpu_host(self, host: str = "gpu2", *, services: Iterable[str] = ("worker-llm",)) -> None:
        """A second GPU host joins: its own model server, then its lanes' workers (named
        `<service>@<host>` here, `llm@gpu2` on the broker), as an operator adds one."""
        _start_fake_ollama(self, host=host, name=f"ollama@{host}")
        names = [f"{service}@{host}" for service in services]
        for service, name in zip(services, names):
            self.run_service(service, host, name=name)
        _wait_for_workers(self, names)

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
            self.spawn(process.name, process.host.name, process.argv, process.env, service=process.service)
        for process in lost:
            if process.name.startswith("ollama"):
                wait_for(
                    lambda address=process.host.address: _listening(address, OLLAMA_PORT),
                    timeout_s=30,
                    what="the fake Ollama server",
                )
        _wait_for_workers(self, [p.name for p in lost if (p.service or "").startswith("worker-")])

    def restart_redis(self, *, keep_data: bool, down_s: float = 0.0) -> None:
        """Redis stopped (SIGTERM: it writes its append-only file and exits) and started again
        `down_s` later, with its data (the compose file's named volume) or on an empty one
        (`keep_data=False`: the volume lost, or a Redis without persistence)."""
        self.stop("redis")
        if not keep_data:
            shutil.rmtree(self.root / "data" / "redis")
        time.sleep(down_s)
        _start_data_server(self, "redis")

    def start_data_server(self, server: str) -> None:
        """`postgres` or `redis` started (again) on the data host, on its data: after
        `stop(server)`, PostgreSQL's fast shutdown (its connections cut, as `docker restart` does
        with the image's SIGINT) or Redis's (it writes its append-only file)."""
        _start_data_server(self, server)

    def wait_for_workers(self, names: list[str]) -> None:
        """Until each named worker process has registered on the broker."""
        _wait_for_workers(self, names)

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
    settings: dict[str, str] | None = None,
    net: int = 77,
    one_host: bool = False,
) -> Rehearsal:
    """Build the hosts and start the services on them (`services`: a subset of PLACEMENT's); the
    caller closes the rehearsal (also when this raises, nothing is left: it closes itself).
    `settings`: environment an operator adds to every mentorq service's. `net`: the addresses'
    second octet (10.<net>.x.y; one rehearsal per net at a time). `one_host`: every service in
    one namespace, reaching the others over its loopback: the same run without the network, as
    a baseline (benchmarks/hosts.py)."""
    wanted = set(services) if services is not None else {s for placed in PLACEMENT.values() for s in placed}
    network = Network(prefix=prefix or f"mq{os.getpid() % 100000}", net=net)
    if one_host:
        network.build(["one"])
        network.hosts.update({name: network.hosts["one"] for name in HOSTS})
    else:  # the gpu host's link can be slowed and made lossy (Network.impair), as `tc netem` would
        network.build(HOSTS, impairable=("gpu",))
    variables = {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(18),
        "REDIS_PASSWORD": secrets.token_urlsafe(18),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "FLOWER_BASIC_AUTH": f"admin:{secrets.token_urlsafe(12)}",
        "MENTORQ_LLM_MODEL": "llama3.2:1b",
        "MENTORQ_LLM_PARALLEL": str(llm_slots),
        # The "gpu" host here has no GPU: as an operator rehearsing on such hosts would set in .env,
        # else compose's MENTORQ_DEVICE=cuda stops the GPU workers at start (as it should).
        "MENTORQ_DEVICE": "cpu",
    }
    rehearsal = Rehearsal(
        root, network, variables, llm_slots=llm_slots, token_delay_s=token_delay_s, settings=settings or {}
    )
    try:
        _start_data(rehearsal)
        _start_fake_ollama(rehearsal)
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
        _wait_for_workers(rehearsal, [name for name in rehearsal.processes if name.startswith("worker-")])
    except BaseException:
        rehearsal.close()
        raise
    return rehearsal


def _start_data(rehearsal: Rehearsal) -> None:
    for server in ("postgres", "redis"):
        _start_data_server(rehearsal, server)


def _start_data_server(rehearsal: Rehearsal, server: str) -> None:
    """PostgreSQL or Redis on the data host, given only its own password; ready when it answers
    a client over the network (a restarted one's log still holds the last start's words)."""
    import psycopg
    import redis

    data = rehearsal.network.hosts["data"]
    argv = [sys.executable, "-m", "devstack.rehearsal.data_host", "--dir", str(rehearsal.root / "data")]
    argv += ["--address", data.address, "--serve", server]
    password = "POSTGRES_PASSWORD" if server == "postgres" else "REDIS_PASSWORD"
    rehearsal.spawn(server, "data", argv, {password: rehearsal.variables[password]})

    def answers() -> bool:
        if server == "postgres":
            with psycopg.connect(rehearsal.database_url, connect_timeout=2) as db:
                return db.execute("SELECT 1").fetchone() == (1,)
        client = redis.Redis.from_url(rehearsal.redis_url, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()

    wait_for(answers, timeout_s=120, what=server, logs=lambda: rehearsal.tail(server))


def _start_fake_ollama(rehearsal: Rehearsal, *, host: str = "gpu", name: str = "ollama") -> None:
    """The fake model server on a GPU host, every one recording its finished generations to the
    rehearsal's one file (appended a line at a time), so a count spans hosts and restarts."""
    where = rehearsal.network.hosts[host]
    argv = [sys.executable, "-m", "tests.support.fake_ollama", "--host", where.address]
    argv += ["--port", str(OLLAMA_PORT), "--slots", str(rehearsal.llm_slots)]
    argv += ["--token-delay-s", str(rehearsal.token_delay_s)]
    argv += ["--record-to", str(rehearsal.root / "generations.jsonl")]
    argv += [f"--slow={marker}={delay}" for marker, delay in SLOW_MARKERS.items()]
    rehearsal.spawn(name, host, argv)
    wait_for(
        lambda: _listening(where.address, OLLAMA_PORT),
        timeout_s=30,
        what=f"the fake Ollama server on {host}",
        logs=lambda: rehearsal.tail(name),
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


def _wait_for_workers(rehearsal: Rehearsal, names: list[str]) -> None:
    """Until each named worker process has registered on the broker under the name its compose
    command gives it (`llm@%h`: %h is its host's name)."""
    import redis

    client = redis.Redis.from_url(rehearsal.redis_url)
    for name in names:
        process = rehearsal.processes[name]
        argv, _ = compose.service_run(process.service or name, rehearsal.variables, rehearsal.hosts_map())
        hostname = argv[argv.index("--hostname") + 1].replace("%h", process.host.name)
        wait_for(
            lambda hostname=hostname: bool(client.exists(f"mentorq:worker:{hostname}")),
            timeout_s=180,
            what=name,
            logs=lambda name=name: rehearsal.tail(name),
        )
    client.close()
