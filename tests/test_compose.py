"""The production topology, checked statically (no Docker engine runs here).

docker-compose.yml is parsed with yaml.safe_load and held against the code it runs:
every mentorq command must parse as a real `mentorq` CLI subcommand with real options
(the Typer app in mentorq/cli.py, through click), every environment variable must be a
real Settings alias (and the values must validate), the GPU services must reserve a GPU,
dependencies must be satisfiable, and the Dockerfile must pin the torch the `worker`
extra pins.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from devstack.rehearsal.compose import INTERPOLATION, argv, environment, interpolate

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"

TORCH_VERSION = "2.13.0"
EXPECTED_SERVICES = {
    "postgres",
    "redis",
    "redis-state",
    "ollama",
    "migrate",
    "api",
    "worker-llm",
    "worker-embed",
    "worker-query",
    "worker-transcribe",
    "worker-cpu",
    "worker-io",
    "beat",
    "flower",
    "proxy",
}
WORKERS = ("worker-llm", "worker-embed", "worker-query", "worker-transcribe", "worker-cpu", "worker-io")
GPU_SERVICES = {"ollama", "worker-embed", "worker-query", "worker-transcribe"}
# Variables a mentorq service may get that are not Settings fields. Keep this short:
# FLOWER_BASIC_AUTH is read by `mentorq flower` (and Flower itself).
ENV_ALLOW_LIST = {"FLOWER_BASIC_AUTH"}
# Warm shutdown must have time to finish a running job before Docker's SIGKILL.
MIN_WORKER_GRACE_SECONDS = 60
# Services that start as root, each with the reason it needs to; every other one runs as a user.
ROOT_ALLOWED = {
    "ollama": "the official image keeps its models and key in /root/.ollama",
    "ollama-pull": "the ollama image's CLI, a one-shot client of the ollama service",
    "proxy": "nginx's master binds 80 and 443 and reads the TLS key; its workers run as nginx",
}
# Each backing service's URL and the .env variable its password must come from.
CREDENTIALS = {
    "DATABASE_URL": "POSTGRES_PASSWORD",
    "REDIS_URL": "REDIS_PASSWORD",
    "MENTORQ_STATE_REDIS_URL": "REDIS_PASSWORD",
}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def compose() -> dict:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), (
        "no services in docker-compose.yml"
    )
    return data


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def is_mentorq_service(service: dict) -> bool:
    """Runs the project's image (built from the Dockerfile, ENTRYPOINT `mentorq`)."""
    return "build" in service or str(service.get("image", "")).split(":")[0].endswith("mentorq")


@pytest.fixture(scope="module")
def mentorq_services(services: dict[str, dict]) -> dict[str, dict]:
    found = {name: svc for name, svc in services.items() if is_mentorq_service(svc)}
    assert found, "no service runs the mentorq image"
    return found


def is_one_shot(service: dict) -> bool:
    return str(service.get("restart", "no")) == "no"


def referenced_variables(text: str) -> dict[str, bool]:
    """Every ${VAR...} in `text` (`$$` escapes skipped): name -> whether it is required."""
    found: dict[str, bool] = {}
    for match in INTERPOLATION.finditer(text.replace("$$", "")):
        required = match["op"] in (None, ":?", "?")
        found[match["name"]] = found.get(match["name"], False) or required
    return found


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert "=" in line, f"{path.name}: not KEY=value: {line!r}"
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def option_value(args: list[str], *names: str) -> str | None:
    """The value of the first option in `names` (`-Q gpu`, `--queues gpu`, `--queues=gpu`)."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1 :]
    return None


def worker_args(service: dict) -> list[str]:
    """A worker's Celery arguments, with `--lane` expanded the way `mentorq worker` does."""
    from core import lanes

    args = argv(service.get("command"))[1:]
    lane = option_value(args, "--lane")
    if lane is None:
        return args
    parallel = environment(service).get("MENTORQ_LLM_PARALLEL", "4")
    return lanes.worker_arguments(lane, llm_parallel=parallel) + args  # type: ignore[arg-type]


def worker_queues(service: dict) -> list[str]:
    value = option_value(worker_args(service), "-Q", "--queues")
    assert value, f"worker command names no queues: {service.get('command')!r}"
    return [queue.strip() for queue in value.split(",") if queue.strip()]


def parse_duration(value: object) -> float:
    """Compose durations: '1m30s', '10m', '90s', '1h'."""
    text = str(value)
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"not a duration: {value!r}"
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    pairs = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


# --------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def cli_commands() -> dict:
    """name -> click command of the real `mentorq` console script (pyproject [project.scripts])."""
    import typer.main

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts.get("mentorq", "").startswith("mentorq.cli:"), scripts

    from mentorq.cli import app  # the Typer app behind the console script

    assert app.registered_commands or app.registered_groups, "the mentorq Typer app registers no commands"
    group = typer.main.get_command(app)  # what Typer runs: names resolved, groups included
    commands = getattr(group, "commands", None)
    assert commands, "`mentorq` must have subcommands"
    return dict(commands)


def test_expected_services_exist(services: dict[str, dict]) -> None:
    missing = EXPECTED_SERVICES - services.keys()
    assert not missing, f"docker-compose.yml lacks services: {sorted(missing)}"


def test_mentorq_services_run_the_mentorq_image(services: dict[str, dict], mentorq_services: dict) -> None:
    expected = {"migrate", "api", *WORKERS, "beat", "flower"}
    assert expected <= mentorq_services.keys()
    for name in expected:
        assert "entrypoint" not in services[name], f"{name}: must keep the image's `mentorq` ENTRYPOINT"


def test_every_command_is_a_real_mentorq_subcommand(mentorq_services: dict, cli_commands: dict) -> None:
    """Each command parses against the real CLI: subcommand, option names, option values."""
    for name, service in mentorq_services.items():
        args = argv(service.get("command"))
        assert args, f"{name}: no command (the image's default would run instead)"
        subcommand, rest = args[0], args[1:]
        assert subcommand in cli_commands, (
            f"{name}: `mentorq {subcommand}` is not a mentorq subcommand; real ones: {sorted(cli_commands)}"
        )
        command = cli_commands[subcommand]
        try:
            # Parses and validates (names, types) without running the callback.
            ctx = command.make_context(f"mentorq {subcommand}", list(rest))
        except Exception as exc:  # noqa: BLE001 - click's UsageError/BadParameter (Typer vendors click)
            if type(exc).__name__ == "Exit":
                continue
            message = exc.format_message() if hasattr(exc, "format_message") else repr(exc)
            pytest.fail(f"{name}: `mentorq {' '.join(args)}` does not parse: {message}")
        # worker/beat/flower pass unknown options through to Celery/Flower; a misspelt
        # mentorq option would land there silently, so the compose file passes none.
        assert not ctx.args, f"{name}: not options of `mentorq {subcommand}`: {ctx.args}"


def test_expected_subcommands_per_service(mentorq_services: dict) -> None:
    roles = {name: argv(svc.get("command"))[0] for name, svc in mentorq_services.items()}
    assert roles["migrate"] == "migrate"
    assert roles["api"] == "api"
    assert all(roles[name] == "worker" for name in WORKERS)
    assert roles["beat"] == "beat"
    assert roles["flower"] == "flower"
    assert list(roles.values()).count("beat") == 1, "exactly one beat"


# --------------------------------------------------------------------------- environment


@pytest.fixture(scope="module")
def setting_aliases() -> set[str]:
    from core.settings import Settings

    aliases = {field.alias or name for name, field in Settings.model_fields.items()}
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"} <= aliases
    return aliases


def test_every_env_var_is_a_real_setting(mentorq_services: dict, setting_aliases: set[str]) -> None:
    for name, service in mentorq_services.items():
        assert "env_file" not in service, f"{name}: env_file would bypass this check; use `environment`"
        unknown = set(environment(service)) - setting_aliases - ENV_ALLOW_LIST
        assert not unknown, f"{name}: not Settings aliases nor allow-listed: {sorted(unknown)}"


def test_env_values_validate_as_settings(mentorq_services: dict) -> None:
    """With .env.example's names filled in, each service's environment builds Settings."""
    from core.settings import Settings

    fill = {key: "x" * 48 for key in read_env_file(ENV_EXAMPLE)}
    for name, service in mentorq_services.items():
        env = {k: interpolate(v, fill) for k, v in environment(service).items() if k not in ENV_ALLOW_LIST}
        settings = Settings(_env_file=None, **env)
        assert settings.env == "production", f"{name}: MENTORQ_ENV must be production"
        assert settings.llm_provider == "ollama", name
        assert settings.database_url and settings.database_url.startswith("postgresql+psycopg://"), name
        assert settings.redis_url and settings.ollama_host, name


def test_urls_point_at_compose_services(services: dict[str, dict], mentorq_services: dict) -> None:
    fill = {key: "pw" for key in read_env_file(ENV_EXAMPLE)}
    pg_env = environment(services["postgres"])
    for name, service in mentorq_services.items():
        env = environment(service)
        for var, target, port in (
            ("DATABASE_URL", "postgres", 5432),
            ("REDIS_URL", "redis", 6379),
            ("MENTORQ_STATE_REDIS_URL", "redis-state", 6379),
            ("OLLAMA_HOST", "ollama", 11434),
        ):
            assert var in env, f"{name}: {var} missing"
            url = urlsplit(interpolate(env[var], fill))
            assert (url.hostname, url.port) == (target, port), f"{name}: {var} -> {url.netloc}"
        db = urlsplit(interpolate(env["DATABASE_URL"], fill))
        assert db.username == pg_env["POSTGRES_USER"], f"{name}: DATABASE_URL user differs from POSTGRES_USER"
        assert db.path.lstrip("/") == pg_env["POSTGRES_DB"], (
            f"{name}: DATABASE_URL db differs from POSTGRES_DB"
        )
        assert "${POSTGRES_PASSWORD" in env["DATABASE_URL"], (
            f"{name}: DATABASE_URL must use POSTGRES_PASSWORD"
        )
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), (
            f"{name}: SECRET_KEY must be required, not defaulted"
        )


def test_env_example_documents_every_variable() -> None:
    text = COMPOSE_FILE.read_text()
    referenced = referenced_variables(text)
    example = read_env_file(ENV_EXAMPLE)
    documented = set(example) | set(re.findall(r"^#\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    required = {name for name, is_required in referenced.items() if is_required}
    assert required <= set(example), (
        f".env.example lacks required variables: {sorted(required - set(example))}"
    )
    assert not (set(referenced) - documented), f"undocumented: {sorted(set(referenced) - documented)}"
    assert not (set(example) - set(referenced)), (
        f"unused in compose: {sorted(set(example) - set(referenced))}"
    )
    # Copied unchanged, the placeholder must be refused rather than silently used.
    from core.settings import PLACEHOLDER_SECRETS

    assert example["SECRET_KEY"].strip().lower() in PLACEHOLDER_SECRETS


# --------------------------------------------------------------------------- GPU, queues


def gpu_reserved(service: dict) -> bool:
    devices = (((service.get("deploy") or {}).get("resources") or {}).get("reservations") or {}).get(
        "devices"
    ) or []
    for device in devices:
        if (
            device.get("driver") == "nvidia"
            and "gpu" in (device.get("capabilities") or [])
            and (
                device.get("device_ids")
                or str(device.get("count", "0")) in {"all"}
                or int(device.get("count", 0) or 0) >= 1
            )
        ):
            return True
    return False


def test_gpu_services_reserve_a_gpu(services: dict[str, dict]) -> None:
    reserving = {name for name, svc in services.items() if gpu_reserved(svc)}
    assert reserving == GPU_SERVICES, f"GPU reserved by {sorted(reserving)}, expected {sorted(GPU_SERVICES)}"


def test_the_gpu_workers_use_their_gpu_with_a_cuda_torch(services: dict[str, dict]) -> None:
    """Issue 52: a GPU-reserving mentorq worker runs its models on CUDA (and stops without one),
    and the worker image installs torch's CUDA build unless the operator picks another index."""
    for name in GPU_SERVICES - {"ollama"}:
        assert environment(services[name]).get("MENTORQ_DEVICE") == "${MENTORQ_DEVICE:-cuda}", name
        args = services[name]["build"]["args"]
        assert args["TORCH_INDEX_URL"].startswith("${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cu"), (
            name
        )


def test_each_lane_has_a_worker_shaped_for_what_it_waits_on(services: dict[str, dict]) -> None:
    """core/lanes.py: LLM calls in threads as wide as Ollama's slots, the embed lane as two threads on
    one copy of the model, query and transcribe in one process each, and no other worker takes a
    lane's messages."""
    llm = worker_args(services["worker-llm"])
    assert worker_queues(services["worker-llm"]) == ["llm"]
    assert option_value(llm, "--pool", "-P") == "threads"
    parallel = "${MENTORQ_LLM_PARALLEL:-4}"
    assert option_value(llm, "--concurrency", "-c") == parallel
    assert environment(services["ollama"]).get("OLLAMA_NUM_PARALLEL") == parallel, (
        "Ollama must serve as many generations at once as worker-llm sends"
    )
    embed = worker_args(services["worker-embed"])
    assert worker_queues(services["worker-embed"]) == ["embed"]
    assert option_value(embed, "--pool", "-P") == "threads"
    assert option_value(embed, "--concurrency", "-c") == "2"
    for name, lane in (
        ("worker-query", "query"),
        ("worker-transcribe", "transcribe"),
    ):
        assert worker_queues(services[name]) == [lane]
        assert option_value(worker_args(services[name]), "--concurrency", "-c") == "1"
    for name in ("worker-cpu", "worker-io"):
        assert not {"llm", "embed", "query", "transcribe"} & set(worker_queues(services[name])), name
    hostnames = [option_value(argv(services[name]["command"])[1:], "--hostname", "-n") for name in WORKERS]
    assert len(set(hostnames)) == len(WORKERS), "workers need distinct node names"


def test_workers_cover_every_celery_queue(services: dict[str, dict]) -> None:
    """The queues celeryconfig declares are exactly the ones the workers consume."""
    env = {**os.environ, "MENTORQ_ENV": "dev", "REDIS_URL": "redis://127.0.0.1:1/0", "PYTHONPATH": str(ROOT)}
    probe = "import celeryconfig, json; print(json.dumps(sorted(q.name for q in celeryconfig.task_queues)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"cannot import celeryconfig: {done.stderr[-2000:]}"
    declared = set(json.loads(done.stdout.strip().splitlines()[-1]))
    consumed = set().union(*(worker_queues(services[name]) for name in WORKERS))
    assert consumed == declared, (
        f"workers consume {sorted(consumed)}, celeryconfig declares {sorted(declared)}"
    )


# --------------------------------------------------------------------------- state, health, lifecycle


def test_redis_is_append_only_with_a_volume(services: dict[str, dict]) -> None:
    redis = services["redis"]
    assert str(redis["image"]).startswith("redis:7")
    args = argv(redis.get("command"))
    assert "--appendonly" in args and args[args.index("--appendonly") + 1] == "yes", args
    assert any(str(v).endswith(":/data") for v in redis.get("volumes", [])), "redis /data needs a volume"


def test_postgres_is_pgvector_with_a_volume(compose: dict, services: dict[str, dict]) -> None:
    postgres = services["postgres"]
    assert str(postgres["image"]).startswith("pgvector/pgvector:")
    volumes = [str(v) for v in postgres.get("volumes", [])]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in volumes), volumes
    for svc in services.values():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/", "~", "$")):  # ${VAR:-./path} is a bind mount too
                assert source in (compose.get("volumes") or {}), f"named volume {source} is not declared"


def test_long_running_services_have_health_or_conditions(services: dict[str, dict]) -> None:
    for name, service in services.items():
        if is_one_shot(service):
            continue
        assert service.get("restart") == "unless-stopped", f"{name}: restart policy"
        health = service.get("healthcheck") or {}
        has_health = bool(health.get("test")) and not health.get("disable")
        depends = service.get("depends_on") or {}
        has_conditions = (
            isinstance(depends, dict)
            and bool(depends)
            and all(isinstance(d, dict) and d.get("condition") for d in depends.values())
        )
        assert has_health or has_conditions, f"{name}: neither a healthcheck nor depends_on conditions"


def test_dependencies_are_satisfiable(services: dict[str, dict]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on must use conditions"
        for target, spec in depends.items():
            assert target in services, f"{name}: depends on unknown service {target}"
            condition = spec.get("condition")
            if condition == "service_healthy":
                assert (services[target].get("healthcheck") or {}).get("test"), (
                    f"{name} waits for {target} to be healthy, but {target} has no healthcheck"
                )
            elif condition == "service_completed_successfully":
                assert is_one_shot(services[target]), f"{name} waits for {target} to exit, but it restarts"
            else:
                assert condition == "service_started", f"{name}: unknown condition {condition!r}"


def test_one_shots_and_ordering(services: dict[str, dict]) -> None:
    assert is_one_shot(services["migrate"])
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker-llm", "worker-embed", "worker-query", "worker-cpu", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name
    assert services["worker-llm"]["depends_on"]["ollama"]["condition"] == "service_healthy"


def test_api_health_and_port(services: dict[str, dict]) -> None:
    api = services["api"]
    args = argv(api["command"])
    assert option_value(args, "--host") == "0.0.0.0" and option_value(args, "--port") == "8000"
    assert "/healthz" in " ".join(argv(api["healthcheck"]["test"])) and ":8000/" in " ".join(
        argv(api["healthcheck"]["test"])
    )
    # Only the proxy reaches the API, and its X-Forwarded-For names the client.
    assert not api.get("ports"), "the API is reached through the proxy, not published"
    assert "8000" in [str(port) for port in api.get("expose", [])]
    assert option_value(args, "--forwarded-allow-ips") == "*"


def test_the_proxy_fronts_the_api_with_the_repository_s_nginx_config(services: dict[str, dict]) -> None:
    proxy = services["proxy"]
    assert str(proxy["image"]).startswith("nginx:")
    assert {str(p) for p in proxy["ports"]} == {"80:80", "443:443"}
    assert proxy["depends_on"]["api"]["condition"] == "service_healthy"
    # source:target[:ro], where the source may be ${VAR:-default} (which holds a colon itself)
    mounts = {}
    for volume in proxy["volumes"]:
        source, target = re.match(r"^(\$\{[^}]*\}|[^:]+):([^:]+)", str(volume)).groups()
        mounts[target] = source
    assert mounts["/etc/nginx/conf.d/mentorq.conf"] == "./deploy/nginx/mentorq.conf"
    assert mounts["/etc/nginx/mentorq"] == "./deploy/nginx"
    assert mounts["/docker-entrypoint.d/40-mentorq-site.sh"] == "./deploy/nginx/select-site.sh"
    assert "/etc/nginx/certs" in mounts
    for source in mounts.values():
        if source.startswith("./"):
            assert (ROOT / source).exists(), source
    assert "/healthz" in " ".join(argv(proxy["healthcheck"]["test"]))


def test_flower_requires_basic_auth(services: dict[str, dict]) -> None:
    flower = services["flower"]
    args = argv(flower["command"])
    assert option_value(args, "--port") == "5555" and option_value(args, "--address") == "0.0.0.0"
    assert option_value(args, "--basic-auth") is None, "credentials belong in the environment, not argv"
    auth = environment(flower).get("FLOWER_BASIC_AUTH", "")
    assert auth.startswith("${FLOWER_BASIC_AUTH:?"), "Flower must refuse to start without credentials"
    assert any(str(p).endswith("5555:5555") for p in flower.get("ports", []))


def test_workers_shut_down_warm(services: dict[str, dict]) -> None:
    for name in (
        "worker-llm",
        "worker-embed",
        "worker-cpu",
    ):  # worker-io's deliveries last seconds; a short grace is enough
        worker = services[name]
        assert worker.get("stop_signal", "SIGTERM") in ("SIGTERM", "TERM"), (
            f"{name}: SIGTERM is the warm shutdown"
        )
        grace = parse_duration(worker.get("stop_grace_period", "10s"))
        assert grace >= MIN_WORKER_GRACE_SECONDS, f"{name}: stop_grace_period {grace}s cannot finish a job"


# --------------------------------------------------------------------------- images


def test_images_api_light_workers_full(services: dict[str, dict]) -> None:
    def extras(service: dict) -> str:
        return str(((service.get("build") or {}).get("args") or {}).get("EXTRAS", "worker"))

    assert extras(services["api"]) == "", 'the api image is built with EXTRAS="" (no torch)'
    for name in WORKERS:
        assert "worker" in extras(services[name]).split(","), f"{name} needs the worker extra"
    for name in ("api", "migrate", "beat", "flower"):
        assert services[name]["image"] == services["api"]["image"], f"{name} shares the light api image"
    assert services["worker-llm"]["image"] != services["api"]["image"]
    for service in services.values():
        build = service.get("build")
        if build:
            assert (
                ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
            ).resolve() == DOCKERFILE


def test_dockerfile_pins_torch_like_the_worker_extra() -> None:
    text = DOCKERFILE.read_text()
    pins = set(re.findall(r"\btorch==(\d+(?:\.\d+)*)", text))
    assert pins == {TORCH_VERSION}, f"Dockerfile torch pins: {pins}"
    assert not re.search(r"\btorch(?:[<>~!]=?|>=)", text), "torch must be pinned with =="
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["worker"]
    assert f"torch=={TORCH_VERSION}" in extra, f"pyproject worker extra pins {extra}"


def test_dockerfile_shape() -> None:
    instructions = dockerfile_instructions()
    froms = [args for kw, args in instructions if kw == "FROM"]
    assert froms and all("PYTHON_IMAGE" in f or "python:3.11-slim" in f for f in froms), froms
    assert any(kw == "ARG" and args == "PYTHON_IMAGE=python:3.11-slim" for kw, args in instructions)
    assert ("ARG", "EXTRAS=worker") in instructions
    final = instructions[max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM") :]
    users = [args for kw, args in final if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the final image must run as non-root"
    entrypoints = [args for kw, args in instructions if kw == "ENTRYPOINT"]
    assert entrypoints and json.loads(entrypoints[-1]) == ["mentorq"]
    run_text = " ".join(args for kw, args in instructions if kw == "RUN")
    assert re.search(r"pip install [^;&]*\"\.\$\{EXTRAS:\+\[\$\{EXTRAS\}\]\}\"", run_text), (
        "the project must be installed with the EXTRAS build arg"
    )


def test_dockerfile_copies_every_package() -> None:
    """Every COPY source exists, and every package pyproject installs is copied in."""
    instructions = dockerfile_instructions()
    copied: set[str] = set()
    for kw, args in instructions:
        if kw != "COPY" or "--from=" in args:
            continue
        parts = [p for p in args.split() if not p.startswith("--")]
        for source in parts[:-1]:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
            copied.add(source.rstrip("/"))
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {p.rstrip("*") for p in tool["packages"]["find"]["include"]}
    modules = {m + ".py" for m in tool.get("py-modules", [])}
    wanted = {p for p in packages if (ROOT / p).is_dir()} | modules | {"pyproject.toml"}
    assert wanted <= copied, f"not copied into the image: {sorted(wanted - copied)}"


# --------------------------------------------------------------------------- credentials, users


def required_reference(value: str) -> str | None:
    """The variable `value` is exactly a required reference to (`${NAME:?message}`), else None."""
    match = INTERPOLATION.fullmatch(value.strip())
    return match["name"] if match and match["op"] in (":?", "?") else None


@pytest.mark.parametrize("name", ["redis", "redis-state"])
def test_redis_requires_a_password_from_the_environment(services: dict[str, dict], name: str) -> None:
    redis = services[name]
    args = argv(redis["command"])
    assert option_value(args, "--requirepass") is not None, f"{name} must require a password"
    assert required_reference(option_value(args, "--requirepass") or "") == "REDIS_PASSWORD"
    # Even a client with the password may not move `dir` and write a file elsewhere, nor load code.
    for option in ("--enable-protected-configs", "--enable-debug-command", "--enable-module-command"):
        assert option_value(args, option) == "no", f"{name} {option} must be no"
    # The healthcheck authenticates, and fails on a refusal instead of counting any answer as health.
    assert required_reference(environment(redis).get("REDISCLI_AUTH", "")) == "REDIS_PASSWORD"
    check = " ".join(argv(redis["healthcheck"]["test"]))
    assert "redis-cli ping" in check and "PONG" in check, check


def test_the_broker_redis_never_evicts_and_the_state_redis_is_capped_and_evicts_lru(
    services: dict[str, dict],
) -> None:
    """Issue 59: what requests make goes to `redis-state`, which a flood fills to its cap and no
    further, evicting the keys nobody reads (docs/production/redis.md says why LRU); the broker
    has no cap to reach and drops nothing."""
    broker = argv(services["redis"]["command"])
    assert option_value(broker, "--maxmemory-policy") == "noeviction"
    assert option_value(broker, "--maxmemory") is None, "a capped noeviction broker refuses jobs when full"
    state = argv(services["redis-state"]["command"])
    maxmemory = option_value(state, "--maxmemory") or ""
    assert re.fullmatch(r"[1-9][0-9]*(mb|gb)", maxmemory), f"redis-state needs a maxmemory, got {maxmemory!r}"
    assert option_value(state, "--maxmemory-policy") == "allkeys-lru"
    assert option_value(state, "--appendonly") == "no", "the state is no record: nothing to keep on disk"
    assert not services["redis-state"].get("volumes")
    # The services that keep state there wait for it (the API; worker-io: the platforms' tokens).
    for name in ("api", "worker-io"):
        assert services[name]["depends_on"]["redis-state"]["condition"] == "service_healthy", name


def test_postgres_requires_a_password_from_the_environment(services: dict[str, dict]) -> None:
    env = environment(services["postgres"])
    assert required_reference(env.get("POSTGRES_PASSWORD", "")) == "POSTGRES_PASSWORD"
    assert env.get("POSTGRES_HOST_AUTH_METHOD", "scram-sha-256") not in ("trust", "password", "md5"), (
        "network connections must authenticate with scram-sha-256"
    )
    assert "trust" not in env.get("POSTGRES_INITDB_ARGS", ""), "no trusted connections"


def test_every_url_carries_its_credentials_from_the_environment(
    services: dict[str, dict], mentorq_services: dict
) -> None:
    """Each backing service's URL names its password by reference, and the reference is what the
    running service gets: change the secret in .env and every URL follows (none is written in)."""
    pg_env = environment(services["postgres"])
    for name, service in mentorq_services.items():
        env = environment(service)
        for var, secret in CREDENTIALS.items():
            assert "${" + secret + ":?" in env[var], f"{name}: {var} must require ${secret}"
            for fill in ("first-secret", "second-secret"):
                url = urlsplit(interpolate(env[var], {**read_env_file(ENV_EXAMPLE), secret: fill}))
                assert url.password == fill, f"{name}: {var}'s password is not ${secret}"
        database = urlsplit(interpolate(env["DATABASE_URL"], read_env_file(ENV_EXAMPLE)))
        assert database.username == pg_env["POSTGRES_USER"], name
    example = read_env_file(ENV_EXAMPLE)
    for secret in CREDENTIALS.values():
        assert example.get(secret), f".env.example must name {secret}"
        assert re.fullmatch(r"[A-Za-z0-9._~-]+", example[secret]), f"{secret}: URL-safe characters only"


def test_no_service_runs_as_root_where_it_need_not(services: dict[str, dict]) -> None:
    final_user = [args for kw, args in dockerfile_instructions() if kw == "USER"][-1].split(":")[0]
    for name, service in services.items():
        user = str(service.get("user", "")).split(":")[0]
        if name in ROOT_ALLOWED:
            assert ROOT_ALLOWED[name] and user in ("", "root", "0"), f"{name}: update ROOT_ALLOWED"
            continue
        if "build" in service:
            # The project's image: its USER, unless compose overrides it.
            user = user or final_user
        assert user, f"{name}: no `user:` and its image's user is not known to be unprivileged"
        assert user not in ("root", "0"), f"{name}: runs as root"


def test_workers_that_run_code_can_make_the_sandbox(services: dict[str, dict]) -> None:
    """The cpu worker grades learners' code and the llm worker's publish gate runs drafted code:
    bubblewrap needs user namespaces and mounts, which Docker's default profiles refuse."""
    for name in ("worker-cpu", "worker-llm"):
        assert set(services[name].get("security_opt", [])) == {"seccomp=unconfined", "apparmor=unconfined"}, (
            name
        )
    for name, service in services.items():
        if name not in ("worker-cpu", "worker-llm"):
            assert not service.get("security_opt"), f"{name} runs no code: keep Docker's profiles"
    installed = " ".join(args for kw, args in dockerfile_instructions() if kw == "RUN")
    assert "bubblewrap" in installed and "libseccomp2" in installed
