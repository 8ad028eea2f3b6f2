"""docker-compose.yml read as a rehearsal runs it: each service's command and environment, with
Compose's variable substitution, and the compose network's host names (`postgres`, `redis`,
`ollama`) moved to the addresses of the hosts that serve them. What the rehearsal runs is what
the compose file says, so the two cannot drift; tests/test_compose.py checks the same file
statically with these helpers.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
ENTRYPOINT = "mentorq"  # the Dockerfile's ENTRYPOINT, which a mentorq service's command follows

INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")


class MissingVariable(ValueError):
    pass


def load(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ValueError(f"no services in {path}")
    return data


def argv(command: object) -> list[str]:
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    if not isinstance(command, list):
        raise ValueError(f"command must be a string or list, got {command!r}")
    return [str(part) for part in command]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {pair[0]: (pair[1] if len(pair) > 1 else "") for pair in pairs}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def interpolate(value: str, values: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} substitution against `values`."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = values.get(name)
        if op in (":-", "-"):
            return current if current not in (None, "") or (op == "-" and current is not None) else arg
        if current is None or (op == ":?" and current == ""):
            raise MissingVariable(f"${{{name}}} is unset: {arg or 'required'}")
        return current

    out = INTERPOLATION.sub(substitute, value.replace("$$", "\0"))
    return out.replace("\0", "$")


def relocate(value: str, hosts: dict[str, str]) -> str:
    """A URL naming a compose service (`redis://:pw@redis:6379/0`) pointed at the address serving
    it: `hosts` maps a service name to `address` or `address:port`. Anything else is unchanged."""
    parts = urlsplit(value)
    if not parts.scheme or parts.hostname not in hosts:
        return value
    where = hosts[parts.hostname]
    credentials, _, _ = parts.netloc.rpartition("@")
    if ":" not in where and parts.port is not None:
        where = f"{where}:{parts.port}"
    netloc = f"{credentials}@{where}" if credentials else where
    return urlunsplit(parts._replace(netloc=netloc))


def service_run(
    name: str, variables: dict[str, str], hosts: dict[str, str], compose: dict[str, Any] | None = None
) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) of a mentorq service as the compose file runs it, its URLs relocated."""
    service = (compose or load())["services"][name]
    command = [interpolate(part, variables) for part in argv(service.get("command"))]
    env = {key: relocate(interpolate(value, variables), hosts) for key, value in environment(service).items()}
    return [ENTRYPOINT, *command], env
