"""Two HTTPS sites on loopback for browser tests of a framed launch: a test CA's certificate for
both host names, and Debian's nginx terminating TLS for each and passing it to a loopback upstream
(X-Forwarded-Proto https, the Host with its port), as a production proxy does. Chromium reaches
them by name through `browser_args` (host resolver rules, and the certificate's key trusted)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.rehearsal.proxy import NGINX
from tests.support.stack import free_port, stop_process, wait_until


@dataclass(frozen=True)
class Sites:
    urls: dict[str, str]  # host name -> https://name:port
    spki_sha256: str  # base64 SHA-256 of the certificate's public key, for Chromium to trust

    def browser_args(self) -> list[str]:
        rules = ",".join(f"MAP {name} 127.0.0.1" for name in self.urls)
        return [f"--host-resolver-rules={rules}", f"--ignore-certificate-errors-spki-list={self.spki_sha256}"]


def ca_signed_certificate(folder: Path, names: list[str]) -> tuple[Path, Path, str]:
    """A test CA, and a server certificate it signed for `names`: (chain, key, SPKI hash)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mentorq test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain, key_path = folder / "chain.pem", folder / "key.pem"
    chain.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return chain, key_path, base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _server(name: str, port: int, upstream: str, default: bool) -> str:
    return f"""
    server {{
        listen 127.0.0.1:{port} ssl{" default_server" if default else ""};
        server_name {name};
        location / {{
            proxy_pass http://{upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_buffering off;
        }}
    }}"""


@contextmanager
def https_sites(root: Path, upstreams: Mapping[str, str], *, port: int | None = None) -> Iterator[Sites]:
    """nginx serving each host name of `upstreams` (name -> host:port) over HTTPS on one port."""
    chain, key, spki = ca_signed_certificate(root, list(upstreams))
    port = port or free_port()
    servers = "".join(
        _server(name, port, upstream, index == 0) for index, (name, upstream) in enumerate(upstreams.items())
    )
    temp = root / "temp"
    temp.mkdir()
    conf = root / "nginx.conf"
    conf.write_text(
        f"""
daemon off;
user root;  # the certificate's key lives in root's private temp folder
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    ssl_certificate {chain};
    ssl_certificate_key {key};
    {servers}
}}
"""
    )
    check = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(root)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(root)], start_new_session=True, stderr=subprocess.DEVNULL
    )
    try:
        first = next(iter(upstreams))
        wait_until(
            lambda: (
                httpx.get(f"https://127.0.0.1:{port}/", verify=False, headers={"Host": first}, timeout=1)
                is not None
            ),
            timeout=20,
            message="nginx",
        )
        yield Sites({name: f"https://{name}:{port}" for name in upstreams}, spki)
    finally:
        stop_process(process)
