"""The OpenAPI document tells the truth: schemathesis fuzzes every operation against the real stack.

Bounded and reproducible: a fixed seed and a fixed number of examples per operation (the
`examples`, `coverage`, `fuzzing` and `stateful` phases). The checks: no 5xx, every status code
documented, every content type documented, every response body valid against its schema. Every
route added later is fuzzed too. Logout is left out: it would revoke the fuzzer's own token
midway (test_fair_use.py covers it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import ApiClient
from tests.stack import REPO, Stack

SEED = 42
EXAMPLES_PER_OPERATION = 30
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_every_error_is_documented_as_problem_json(client: ApiClient) -> None:
    spec = httpx.get(f"{client.base_url}/openapi.json").json()
    assert "Problem" in spec["components"]["schemas"]
    assert not {"HTTPValidationError", "ErrorModel"} & set(spec["components"]["schemas"])
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" in responses, (method, path)
            for status, response in responses.items():
                if status.startswith("4") or (status.startswith("5") and path != "/readyz"):
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
            if operation.get("security"):
                assert "401" in responses and "429" in responses, (method, path)
    assert set(spec["paths"]["/auth/jwt/logout"]["post"]["responses"]) >= {"204", "401"}
    assert "200" not in spec["paths"]["/auth/jwt/logout"]["post"]["responses"]


def test_schemathesis_finds_no_failure_over_the_whole_api(
    stack: Stack, client: ApiClient, tmp_path: Path
) -> None:
    token = client.headers["Authorization"]
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{stack.api_url}/openapi.json",
        "--checks", CHECKS,
        "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--seed", str(SEED),
        "--header", f"Authorization: {token}",
        "--exclude-path-regex", "/logout$",
        # Deleting the account would end the run's user; tests/learners covers it.
        "--exclude-operation-id", "delete_my_account_api_profiles_me_delete",
        "--request-timeout", "30",
        "--workers", "1",
        "--no-shrink",
        "--report", "ndjson",
        "--report-dir", str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    summary = result.stdout[-6000:]
    if result.returncode != 0:  # the API's own account of any 5xx, for whoever reads the CI log
        tracebacks = (stack.root / "api.log").read_text(errors="replace").split("Traceback")[1:]
        summary += "\n\nAPI log tracebacks:\n" + "\n".join("Traceback" + t[:3000] for t in tracebacks[-3:])
    assert result.returncode == 0, summary
    events = [json.loads(line) for line in next(tmp_path.glob("*.ndjson")).read_text().splitlines() if line]
    assert events, "schemathesis reported nothing"
    print(summary)  # the figures (operations, cases, failures) land in the test log
