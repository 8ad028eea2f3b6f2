"""The request guard's own cost: a request through the API's body checks vs the same app without them.

    .venv/bin/python -m benchmarks.request_guard [--runs 30] [--upload-mb 20]

The guard (api/request_guard.py) reads every body a second time as the app reads it: a multipart
body through python-multipart (each part's name, filename and headers checked, text fields
decoded, file bytes only counted), any other body once whole as JSON. Two apps in this process,
the same FastAPI routes with the real error handlers, one behind the guard; requests go over ASGI
(no network, no database), interleaved (bare, guarded, bare, ...) after 3 uncounted warm-ups of
each, so the difference is the guard's work. Two bodies: a multipart upload of one file (the
documents route's shape) and about 1 MB of JSON full of \\u escapes (the guard's slow path: a body
without them is not parsed at all).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import httpx
from fastapi import FastAPI, Request
from starlette.datastructures import UploadFile

from api.errors import install_error_handlers
from api.request_guard import RequestGuard
from benchmarks._harness import (
    argument_parser,
    begin_run,
    fmt,
    latency_summary_ms,
    print_table,
    ratio,
    write_results,
)

NAME = "request_guard"
WARMUPS = 3


def app(*, guarded: bool, max_bytes: int) -> FastAPI:
    application = FastAPI()
    install_error_handlers(application)
    if guarded:
        application.add_middleware(RequestGuard, max_bytes=max_bytes)

    @application.post("/upload")
    async def upload(request: Request) -> dict:
        form = await request.form()
        sizes = [len(await f.read()) for f in form.getlist("files") if isinstance(f, UploadFile)]
        return {"files": sizes, "title": form.get("title")}

    @application.post("/json")
    async def as_json(request: Request) -> dict:
        return {"keys": len(await request.json())}

    return application


def multipart_body(upload_mb: int) -> bytes:
    line = "lorem ipsum dolor sit amet €\n".encode()
    data = (line * ((upload_mb << 20) // len(line) + 1))[: upload_mb << 20]
    return b"".join(
        [
            b'--B\r\nContent-Disposition: form-data; name="title"\r\n\r\nNotes\r\n',
            b'--B\r\nContent-Disposition: form-data; name="files"; filename="r\xc3\xa9sum\xc3\xa9.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\n" + data + b"\r\n",
            b"--B--\r\n",
        ]
    )


def json_body() -> bytes:
    return json.dumps({f"key{i}": "café – " * 20 for i in range(3000)}, ensure_ascii=True).encode()


async def measure(path: str, body: bytes, content_type: str, runs: int) -> dict[str, list[float]]:
    """Seconds per request, bare and guarded, interleaved."""
    apps = {name: app(guarded=name == "guarded", max_bytes=len(body) + 1) for name in ("bare", "guarded")}
    samples: dict[str, list[float]] = {"bare": [], "guarded": []}
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://bench")
        for name, application in apps.items()
    }
    try:
        for index in range(WARMUPS + runs):
            for name, client in clients.items():
                started = time.perf_counter()
                response = await client.post(path, content=body, headers={"content-type": content_type})
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.text
                if index >= WARMUPS:
                    samples[name].append(elapsed)
    finally:
        for client in clients.values():
            await client.aclose()
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--upload-mb", type=int, default=20)
    args: argparse.Namespace = parser.parse_args(argv)
    runs, upload_mb = max(1, min(args.runs, 500)), max(1, min(args.upload_mb, 200))
    run = begin_run()
    document = json_body()
    cases = {
        f"multipart, one {upload_mb} MB file": (
            "/upload",
            multipart_body(upload_mb),
            "multipart/form-data; boundary=B",
        ),
        f"JSON, {len(document) >> 10} KB of \\u escapes": ("/json", document, "application/json"),
    }
    rows, results = [], {"machine": run.machine, "args": vars(args), "cases": {}}
    for label, (path, body, content_type) in cases.items():
        samples = asyncio.run(measure(path, body, content_type, runs))
        bare, guarded = latency_summary_ms(samples["bare"]), latency_summary_ms(samples["guarded"])
        added = guarded["p50_ms"] - bare["p50_ms"]
        rows.append(
            [
                label,
                fmt(bare["p50_ms"]),
                fmt(guarded["p50_ms"]),
                fmt(added),
                f"{fmt(ratio(guarded['p50_ms'], bare['p50_ms']), 2)}x",
                fmt(added / (len(body) / 2**20), 2),
            ]
        )
        results["cases"][label] = {"bare": bare, "guarded": guarded, "body_bytes": len(body)}
    print_table(
        ["body", "bare p50 ms", "guarded p50 ms", "guard ms", "ratio", "guard ms/MB"],
        rows,
        title=f"one request at a time, {runs} of each, in-process (ASGI)",
    )
    print(f"results: {write_results(NAME, results)}  ({run.total.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
