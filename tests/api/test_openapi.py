"""The OpenAPI document tells the truth: schemathesis fuzzes every operation against the real stack.

Bounded and reproducible: a fixed seed and a fixed number of examples per operation (the
`examples`, `coverage`, `fuzzing` and `stateful` phases). The checks: no 5xx, every status code
documented, every content type documented, every response body valid against its schema. Every
route added later is fuzzed too. Logout is left out: it would revoke the fuzzer's own token
midway (test_fair_use.py covers it).

Twice: as a user on the shared stack, and as an admin on a platform of its own (PostgreSQL, Redis
and the API, no workers), where whatever the fuzzer does with admin rights (instructions, routes,
accounts) cannot reach the other tests. And every integer a client may send is bounded in the
document itself (a cursor past PostgreSQL's bigint was a 500).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree

import httpx
import pytest

from tests.conftest import ApiClient, make_admin, own_stack, register
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import REPO, Stack

SEED = 42
# Ten random examples per operation besides the coverage phase's boundary cases, which do not
# depend on it: 5,586 cases, 111 s alone, where twenty made 6,888 in 150 s. The largest test in the
# suite, and the suite's length is CI's.
EXAMPLES_PER_OPERATION = 10
# The admin run: the operations an admin's rights change (every /v1/admin route, the shared
# library's documents and collections, the GIFT export, other accounts), with fewer examples each
# (its stateful phase reaches deep into what it creates). The user run covers the rest.
ADMIN_EXAMPLES_PER_OPERATION = 8
ADMIN_PATHS = r"^/v1/admin/|^/v1/documents|^/v1/collections|\.gift$|^/users/\{id\}"
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


def _references(node: Any, where: str = "#") -> Iterator[tuple[str, str]]:
    """Every `$ref` in the document, with where it stands."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield where, value
            else:
                yield from _references(value, f"{where}/{key.replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _references(value, f"{where}/{index}")


def _resolve(document: dict[str, Any], reference: str) -> Any:
    """A local JSON pointer (RFC 6901, as a URI fragment) in the document; KeyError if it dangles."""
    assert reference.startswith("#/"), f"not a local reference: {reference}"
    node: Any = document
    for part in reference[2:].split("/"):
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def test_every_reference_in_the_document_resolves() -> None:
    # Issue 42's probe: POST /api/matches referred to "#/$defs/TargetCreate", which no client can
    # resolve (an inline model schema's own $defs, nested in the operation).
    from api.main import app

    document = app.openapi()
    references = list(_references(document))
    assert len(references) > 100
    dangling = []
    for where, reference in references:
        try:
            _resolve(document, reference)
        except (KeyError, IndexError, ValueError, AssertionError):
            dangling.append(f"{where}: {reference}")
    assert not dangling, dangling
    assert "$defs" not in json.dumps(document)
    body = document["paths"]["/api/matches"]["post"]["requestBody"]["content"]["application/json"]
    assert json.dumps(body).count("#/components/schemas/TargetCreate") == 1


def _schemathesis(
    stack: Stack,
    token: str,
    report_dir: Path,
    *,
    examples: int,
    excluded: tuple[str, ...] = (),
    paths: str | None = None,
) -> None:
    """Run schemathesis over the API (the paths matching `paths`, or all; never the `excluded`
    operation ids) with this bearer token; fail with its summary."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{stack.api_url}/openapi.json",
        "--checks", CHECKS,
        "--max-examples", str(examples),
        "--seed", str(SEED),
        "--header", f"Authorization: {token}",
        "--exclude-path-regex", "/logout$",
        # Deleting the account would end the run's user; tests/learners covers it.
        "--exclude-operation-id", "delete_my_account_api_profiles_me_delete",
        "--request-timeout", "30",
        "--workers", "1",
        "--no-shrink",
        "--report", "ndjson,junit",
        "--report-dir", str(report_dir),
        *[arg for operation in excluded for arg in ("--exclude-operation-id", operation)],
        *(["--include-path-regex", paths] if paths else []),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    failures = result.stdout.find("= FAILURES =")  # schemathesis's own section, ahead of its warnings
    summary = result.stdout[max(0, failures - 100) :][:8000] if failures >= 0 else result.stdout[-6000:]
    if result.returncode != 0:  # the API's own account of any 5xx, for whoever reads the CI log
        tracebacks = (stack.root / "api.log").read_text(errors="replace").split("Traceback")[1:]
        summary += "\n\nAPI log tracebacks:\n" + "\n".join("Traceback" + t[:3000] for t in tracebacks[-3:])
        # Last, so that a log cut to its tail still names what failed (a CI failure once left only
        # "1 failure" readable).
        summary += "\n\nIn brief:\n" + _failures_in_brief(report_dir)
    assert result.returncode == 0, summary
    events = [json.loads(line) for line in next(report_dir.glob("*.ndjson")).read_text().splitlines() if line]
    assert events, "schemathesis reported nothing"
    print(summary)  # the figures (operations, cases, failures) land in the test log


def _failures_in_brief(report_dir: Path) -> str:
    """Each failing or erring operation in schemathesis's JUnit report, with the start of its message."""
    lines = []
    for report in report_dir.glob("*.xml"):
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            for outcome in [*case.iter("failure"), *case.iter("error")]:
                text = " ".join(f"{outcome.get('message', '')} {outcome.text or ''}".split())
                lines.append(f"{case.get('name')}: {outcome.tag}: {text[:600]}")
    return "\n".join(lines) or "(no JUnit report)"


# Its own time limit: about 2 minutes alone, 5 or more under a CI run's load on two cores (the
# schemathesis subprocess itself is given 10).
@pytest.mark.timeout(600)
def test_schemathesis_finds_no_failure_over_the_whole_api(
    stack: Stack, client: ApiClient, tmp_path: Path
) -> None:
    _schemathesis(stack, client.headers["Authorization"], tmp_path, examples=EXAMPLES_PER_OPERATION)


@pytest.fixture(scope="module")
def own_platform(fake_ollama: FakeOllama) -> Iterator[Stack]:
    """PostgreSQL, Redis and the API of its own: an admin's fuzzing changes nothing other tests see."""
    with own_stack(fake_ollama, "mentorq-admin-fuzz-") as platform:
        platform.start_api()
        yield platform


# Left out of the admin run: changing or deleting its own account (through /users or its own profile,
# which links lead it to) would end the fuzzer's session (the user run fuzzes /users/me).
NOT_FUZZED_AS_ADMIN = (
    "users_patch_current_user_users_me_patch",
    "delete_profile_v1_admin_profiles__profile_id__delete",
    "users_delete_user_users__id__delete",
    "users_patch_user_users__id__patch",
)


def test_schemathesis_as_an_admin_finds_no_failure(own_platform: Stack, tmp_path: Path) -> None:
    with register(own_platform.api_url) as admin:
        make_admin(own_platform, admin)
        _schemathesis(
            own_platform,
            admin.headers["Authorization"],
            tmp_path,
            examples=ADMIN_EXAMPLES_PER_OPERATION,
            excluded=NOT_FUZZED_AS_ADMIN,
            paths=ADMIN_PATHS,
        )
        assert admin.get("/users/me").json()["is_superuser"], "the run must end with the admin signed in"


def _unbounded_integers(
    schema: dict[str, Any], where: str, components: dict[str, Any], seen: frozenset
) -> list[str]:
    """Where an integer in this schema (through $refs, unions, objects and arrays) lacks a maximum."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return [] if name in seen else _unbounded_integers(components[name], where, components, seen | {name})
    found = []
    if schema.get("type") == "integer" and "maximum" not in schema and "exclusiveMaximum" not in schema:
        found.append(where)
    for union in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(union, []):
            found += _unbounded_integers(part, where, components, seen)
    for name, part in schema.get("properties", {}).items():
        found += _unbounded_integers(part, f"{where}.{name}", components, seen)
    for key, suffix in (("items", "[]"), ("additionalProperties", "{}")):
        if isinstance(schema.get(key), dict):
            found += _unbounded_integers(schema[key], where + suffix, components, seen)
    return found


def test_every_integer_a_client_sends_is_bounded(client: ApiClient) -> None:
    spec = httpx.get(f"{client.base_url}/openapi.json").json()
    components = spec["components"]["schemas"]
    unbounded = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']} {parameter['name']}"
                unbounded += _unbounded_integers(parameter.get("schema", {}), where, components, frozenset())
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                where = f"{method.upper()} {path} ({media})"
                unbounded += _unbounded_integers(content.get("schema", {}), where, components, frozenset())
    assert not unbounded, unbounded


def test_a_cursor_past_the_largest_bigint_is_refused_not_a_server_error(admin_client: ApiClient) -> None:
    for cursor in ("9223372036854775808", "99999999999999999999999", "-1"):
        response = admin_client.get("/v1/admin/cache", params={"cursor": cursor})
        assert response.status_code == 422 and response.json()["code"] == "validation_error", response.text
    assert admin_client.get("/v1/admin/cache", params={"cursor": "9223372036854775807"}).status_code == 200


def test_a_version_past_its_integer_column_is_refused_not_a_server_error(admin_client: ApiClient) -> None:
    # Versions are `integer` columns: a bigint bound would let 2**31 through to PostgreSQL's
    # "integer out of range" (a fuzzer's random kind is 404 before the query, so it never got there).
    for version in (2**31, 2**63 - 1):
        response = admin_client.put("/v1/admin/instructions/grade/active", json={"version": version})
        assert response.status_code == 422 and response.json()["code"] == "validation_error", response.text
    missing = admin_client.put("/v1/admin/instructions/grade/active", json={"version": 2**31 - 1})
    assert missing.status_code == 404, missing.text
    restore = admin_client.post(f"/api/profiles/me/revisions/{2**31}/restore")
    assert restore.status_code == 422, restore.text
