"""Structural promises: the API host stays light, every error code and feature is documented, and
migrations go both ways (every setting: tests/test_docs.py)."""

from __future__ import annotations

import json

from db import migrate
from tests.support.fresh_process import last_json_line
from tests.support.stack import REPO, Stack

# Ralph: its xAPI package is hundreds of pydantic models (about a second of a core at every API
# start); core/xapi/statements.py imports it only when it builds a statement.
HEAVY = ("torch", "sentence_transformers", "llama_cpp", "transformers", "workers", "tasks.platform", "ralph")


def test_importing_the_api_loads_no_model_library_and_no_task_code() -> None:
    # The API reads the kinds' light specs (tasks/<kind>/spec.py), never a task.py; and its
    # producer-only Celery app must not import the task modules the Celery config names.
    code = (
        "import json, sys; import api.main; from core import broker; broker.publisher().tasks; "
        f"loaded = [m for m in {HEAVY!r} "
        "if m in sys.modules or any(k.startswith(m + '.') for k in sys.modules)]; "
        "loaded += [m for m in sys.modules if m.startswith('tasks.') and m.endswith('.task')]; "
        "print(json.dumps(loaded))"
    )
    assert last_json_line(code) == []


# What a Celery worker imports at every start (the app, every task module the config names) but uses
# at most on some job, if at all: fastapi-users and FastAPI (the users table's columns are written out
# in db/models/users.py; the mail task mints its tokens with fastapi-users when it sends a message),
# Ralph (built into a statement), PyAV (opened with a recording). Together they were about a third
# of a worker's import, paid at every start and restart.
WORKER_NEED_NOT = ("fastapi_users", "fastapi", "ralph", "av")


def test_a_worker_start_loads_no_web_framework_and_no_library_a_job_may_never_need() -> None:
    code = (
        "import importlib, json, os, sys; from workers.celery_app import app; "
        "[importlib.import_module(module) for module in app.conf.include]; "
        "assert any(m.endswith('.task') for m in sys.modules), 'no task module was imported'; "
        f"print(json.dumps([[m for m in {WORKER_NEED_NOT!r} if m in sys.modules], "
        "[os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT')]]))"
    )
    loaded, waiting = last_json_line(code)
    assert loaded == []
    # Set by the app's import, before anything loads torch's OpenMP, which the local LLM then shares
    # (workers/llm/local.wait_passively).
    assert waiting == ["PASSIVE", "300"]


def test_migrations_upgrade_to_head_and_downgrade_to_base_on_an_empty_database(stack: Stack) -> None:
    stack.sql("DROP DATABASE IF EXISTS migration_check")
    stack.sql("CREATE DATABASE migration_check")
    url = stack.database_url.replace("/postgres?", "/migration_check?")
    tables = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    try:
        migrate.upgrade(url)
        import psycopg

        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
            created = {row[0] for row in connection.execute(tables)}
            assert {"users", "jobs", "job_events", "alembic_version"} <= created
            assert connection.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
            migrate.downgrade(url)
            assert [row[0] for row in connection.execute(tables)] == ["alembic_version"]
            migrate.upgrade(url)  # and up again: downgrade left nothing behind that blocks it
    finally:
        stack.sql("DROP DATABASE IF EXISTS migration_check WITH (FORCE)")


def _problem_codes_in_the_code() -> set[str]:
    """Every literal problem code the API, its documents layer and the proxy can answer."""
    import ast

    codes: set[str] = set()
    for path in [*(REPO / "api").rglob("*.py"), REPO / "core" / "documents" / "errors.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in ("ProblemError", "RequestRefused", "problem_response") and len(node.args) >= 2:
                if isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
                    codes.add(node.args[1].value)
            codes |= {
                kw.value.value
                for kw in node.keywords
                if kw.arg == "code" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)
            }
    from core.documents.errors import ERROR_STATUS

    codes |= set(ERROR_STATUS)
    codes |= {
        json.loads(path.read_text())["code"]
        for path in (REPO / "deploy" / "nginx" / "problems").glob("*.json")
    }
    return codes


def test_every_error_code_the_api_answers_is_on_the_errors_page() -> None:
    page = (REPO / "docs" / "api" / "errors.md").read_text()
    codes = _problem_codes_in_the_code()
    assert {"invalid_text", "rate_limited", "too_many_redeliveries", "job_not_found", "url_timeout"} <= codes
    missing = sorted(code for code in codes if f"`{code}`" not in page)
    assert not missing, f"error codes docs/api/errors.md does not list: {missing}"


def test_the_api_is_one_folder_per_feature_with_the_same_module_names() -> None:
    """api/<feature>/ holds routes.py, service.py, schemas.py and console.py (any of them), and
    pages.py for a feature whose pages are not the console's (LTI's, framed by the LMS, with their
    own headers); nothing feature-shaped sits at the top of api/, and every feature is in the docs'
    feature table."""
    api = REPO / "api"
    assert not sorted(p.name for p in api.glob("*_service.py")), "services go in api/<feature>/service.py"
    assert not sorted(p.name for p in api.glob("*_schemas.py")), "schemas go in api/<feature>/schemas.py"
    assert not (api / "routes").exists() and not (api / "schemas.py").exists()
    features = sorted(p.parent.name for p in api.glob("*/__init__.py") if p.parent.name != "console")
    allowed = {"__init__.py", "routes.py", "service.py", "schemas.py", "console.py", "pages.py"}
    odd = {
        f"{feature}/{p.name}"
        for feature in features
        for p in (api / feature).glob("*.py")
        if p.name not in allowed and feature != "jobs"  # jobs also holds the event hub and stream
    }
    assert not odd, f"a feature's HTTP side is routes, service, schemas and its console page: {odd}"
    glossary = (REPO / "docs" / "architecture" / "layout.md").read_text().split("## Features", 1)[1]
    missing = [feature for feature in features if f"**{feature}**" not in glossary]
    assert not missing, f"features missing from docs/architecture/layout.md's feature table: {missing}"


def test_console_template_names_are_unique_across_features() -> None:
    """The console's loader searches api/console/templates and every api/<feature>/templates as one
    namespace (api/console/templating.py): a second page.html would silently shadow the first."""
    seen: dict[str, list[str]] = {}
    api = REPO / "api"
    for template in sorted(api.glob("*/templates/**/*.html")):
        feature = template.relative_to(api).parts[0]
        name = str(template.relative_to(api / feature / "templates"))
        seen.setdefault(name, []).append(str(template.relative_to(REPO)))
    assert seen, "no console templates found"
    assert not {name: paths for name, paths in seen.items() if len(paths) > 1}


# Features whose behaviour is tested where it shows, not in a folder of their own.
TESTED_ELSEWHERE = {
    "catalog": "tests/tasks/test_registry.py (the kinds) and tests/llm_routes/ (the models)",
    "health": "tests/api/test_worker_registry.py and the fault tests, which watch readiness",
    "users": "tests/console/ (the Users page is how admins use it) and tests/api/ (sign-in)",
}


def test_the_tests_mirror_the_features() -> None:
    """tests/<feature>/ for each API feature, so a feature's tests are found by its name."""
    features = sorted(
        p.parent.name for p in (REPO / "api").glob("*/__init__.py") if p.parent.name != "console"
    )
    missing = [
        feature
        for feature in features
        if not (REPO / "tests" / feature / "__init__.py").exists() and feature not in TESTED_ELSEWHERE
    ]
    assert not missing, f"features without tests/<feature>/: {missing}"
    assert all(feature in features for feature in TESTED_ELSEWHERE)


# The same strings with another meaning: an OpenAPI example, a lane, a word in model names, an HTML tag.
NOT_A_KIND = {
    ("api/jobs/schemas.py", "chat"),
    ("core/lanes.py", "embed"),
    ("core/llm_endpoints.py", "embed"),
    ("core/catalog.py", "embed"),
    ("workers/documents/formats_html.py", "embed"),
    # OpenTelemetry's GenAI semantic conventions name the operation of a chat completion "chat".
    ("workers/llm/metered.py", "chat"),
}


def test_no_kind_name_is_written_outside_its_spec() -> None:
    """Kinds own their names: api, db, core and workers use SPEC.name or the registry. (A partial
    index's predicate, which must read as its migration does, is inside a longer string.)"""
    import ast

    from tasks.registry import all_kinds

    names = set(all_kinds())
    written = {
        (str(path.relative_to(REPO)), node.value)
        for layer in ("api", "db", "core", "workers", "devstack")
        for path in (REPO / layer).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
    }
    assert written - NOT_A_KIND == set()
