"""The production nginx configuration (deploy/nginx, what docker-compose.yml's `proxy` mounts) run
outside a container: copied under a folder, its paths moved there, its upstream pointed at the API
processes and its plain-HTTP site listening where asked. Nothing else in it changes."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "deploy" / "nginx"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
COMPOSE_UPSTREAM = "server api:8000;"


def production_config(
    root: Path,
    *,
    upstreams: Sequence[str],
    listen: str,
    changes: Iterable[tuple[str, str, str]] = (),
) -> Path:
    """nginx.conf under `root` for deploy/nginx with `upstreams` (host:port) and the site on `listen`
    (address:port). `changes` are (file, old, new) replacements a caller needs besides (a test's
    shorter timeouts); each `old` must be there. Returns the path of nginx.conf."""
    site = root / "mentorq"
    shutil.copytree(SOURCE, site)
    servers = "\n    ".join(f"server {upstream};" for upstream in upstreams)
    edits = [
        ("mentorq.conf", COMPOSE_UPSTREAM, servers),
        ("site.conf", "listen 80 default_server;", f"listen {listen} default_server;"),
        *changes,
    ]
    shutil.copy(site / "site-http.conf", site / "site.conf")
    for name in sorted({edit[0] for edit in edits} | {"mentorq.conf", "locations.conf"}):
        path = site / name
        text = path.read_text().replace("/etc/nginx/mentorq-site.conf", str(site / "site.conf"))
        text = text.replace("/etc/nginx/mentorq", str(site))
        for file, old, new in edits:
            if file == name:
                if old not in text:
                    raise ValueError(f"{name} no longer says {old!r}")
                text = text.replace(old, new)
        path.write_text(text)
    temp = root / "temp"
    temp.mkdir()
    conf = root / "nginx.conf"
    conf.write_text(
        f"""
daemon off;
user root;  # the files live in root's private temp folders; the image mounts them world-readable
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {site}/mentorq.conf;
}}
"""
    )
    return conf
