"""The documentation says what the code does (issue 41): the configuration page has every setting, and
every curl example calls a route the API has, with that method.

`make test` also builds the site with `mkdocs build --strict` (a broken link, a missing page or an
anchor that points nowhere fails it); these tests check what a link checker cannot.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

from tests.support.fresh_process import last_json_line
from tests.support.stack import REPO

DOCS = REPO / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
# Where the examples reach the API: the README's and the docs' $API, dev's address, compose's name.
API_PREFIXES = ("$API", "http://127.0.0.1:8000", "localhost:8000", "127.0.0.1:8000", "http://api:8000")
# Examples of other servers, each named here so that no curl escapes the check unseen.
OTHER_SERVERS = ("http://127.0.0.1:5555", "http://worker-llm:9464")
# Routes kept out of the OpenAPI document on purpose, which the docs still show: the metrics
# scrape (for Prometheus, with its own token) and the console's pages (HTML for a browser).
OUTSIDE_THE_SCHEMA = re.compile(r"^/metrics$|^/admin(/|$)")


def _load_hook():
    import importlib.util

    spec = importlib.util.spec_from_file_location("settings_table", DOCS / "hooks" / "settings_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_configuration_page_is_written_from_every_setting() -> None:
    from core.settings import Settings

    hook = _load_hook()
    page = (DOCS / "configuration.md").read_text()
    assert hook.MARKER in page, "the configuration page must hold the table's marker"
    rendered = hook.on_page_markdown(page, page=None)
    undescribed = [
        field.alias for field in Settings.model_fields.values() if not (field.description or "").strip()
    ]
    assert not undescribed, (
        f"settings without a description= (the configuration page's meaning): {undescribed}"
    )
    for field in Settings.model_fields.values():
        assert re.search(rf"^\| `{field.alias}` \| .+ \| .+ \|$", rendered, re.M), field.alias
    assert hook.MARKER not in rendered


def _environment_reads() -> set[str]:
    """Every literal variable name the code reads from the environment outside the settings class."""
    names: set[str] = set()
    for folder in ("api", "core", "db", "tasks", "workers", "devstack", "mentorq"):
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("get", "getenv", "pop"):
                    target = ast.unparse(node.func.value) if hasattr(node.func, "value") else ""
                    if (
                        target in ("os.environ", "os")
                        and node.args
                        and isinstance(node.args[0], ast.Constant)
                    ):
                        names.add(node.args[0].value)
                elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                    if isinstance(node.slice, ast.Constant):
                        names.add(node.slice.value)
    return {name for name in names if isinstance(name, str)}


# Read from the environment, but not configuration: the process's own plumbing (the user's home and
# cache folder: MENTORQ_MODEL_CACHE's default is under them).
NOT_CONFIGURATION = {
    "PATH",
    "PYTHONPATH",
    "HF_HUB_OFFLINE",
    "HF_HUB_DISABLE_PROGRESS_BARS",
    "HOME",
    "XDG_CACHE_HOME",
}


def test_every_variable_the_code_reads_is_on_the_configuration_page() -> None:
    rendered = _load_hook().on_page_markdown((DOCS / "configuration.md").read_text(), page=None)
    reads = {name for name in _environment_reads() if re.fullmatch(r"[A-Z][A-Z0-9_]+", name)}
    assert {"MENTORQ_API_URL", "FLOWER_BASIC_AUTH", "DATABASE_URL"} <= reads  # the scan finds reads
    missing = sorted(name for name in reads - NOT_CONFIGURATION if f"`{name}`" not in rendered)
    assert not missing, f"environment variables read by the code but not on the configuration page: {missing}"


# --- curl examples -------------------------------------------------------------------------------------


def _code_blocks(text: str) -> list[str]:
    """The shell blocks of a Markdown text (fences opened with bash, sh, shell or no language)."""
    blocks, language, lines = [], None, []
    for line in text.splitlines():
        if line.startswith("```"):
            if language is None:
                language, lines = line[3:].strip() or "plain", []
            else:
                if language in ("bash", "sh", "shell", "plain"):
                    blocks.append("\n".join(lines) + "\n")
                language = None
        elif language is not None:
            lines.append(line)
    return blocks


def _logical_lines(block: str) -> list[str]:
    """Shell lines as the shell reads them: continuations joined, quoted newlines kept inside."""
    lines, current, quote = [], [], None
    block = block.replace("\\\n", " ")
    for char in block:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (not current or current[-1] in " \t"):
            quote = "\n"  # a comment runs to the end of the line
            continue
        if char == "\n" and quote in (None, "\n"):
            lines.append("".join(current))
            current, quote = [], None
            continue
        if quote != "\n":
            current.append(char)
    lines.append("".join(current))
    return [line for line in lines if "curl " in line]


def curl_examples(text: str) -> list[tuple[str, str]]:
    """(method, url) of every curl command in `text`'s shell blocks."""
    found = []
    for block in _code_blocks(text):
        for line in _logical_lines(block):
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            tokens = list(lexer)
            for start in (i for i, token in enumerate(tokens) if token == "curl"):
                args = []
                for token in tokens[start + 1 :]:
                    if token in ("|", "||", "&&", ";", ")", ">"):
                        break
                    args.append(token)
                found.append(_method_and_url(args))
    return found


def _method_and_url(args: list[str]) -> tuple[str, str]:
    method, url, has_body = None, None, False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-X", "--request"):
            method, i = args[i + 1], i + 2
            continue
        if arg in ("-d", "--data", "--data-raw", "--data-binary", "-F", "--form"):
            has_body, i = True, i + 2
            continue
        if arg in ("-H", "--header", "-o", "--output", "-u", "--user", "-b", "-c"):
            i += 2
            continue
        if not arg.startswith("-") and url is None:
            url = arg
        i += 1
    return (method or ("POST" if has_body else "GET")).upper(), url or ""


def _openapi_and_hidden_routes() -> tuple[dict, list[tuple[str, set[str]]]]:
    code = (
        "import json; from api.main import app; from fastapi.routing import iter_route_contexts; "
        "hidden = [(r.path, sorted(r.methods or ())) for r in iter_route_contexts(app.routes) "
        "if r.path and not getattr(r.route, 'include_in_schema', True)]; "
        "print(json.dumps({'openapi': app.openapi(), 'hidden': hidden}))"
    )
    loaded = last_json_line(code)
    return loaded["openapi"], [(path, set(methods)) for path, methods in loaded["hidden"]]


def _template(path: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", r"[^/]+", re.escape(path)) + "$")


def _api_path(url: str) -> str | None:
    for prefix in API_PREFIXES:
        if url.startswith(prefix):
            path = url[len(prefix) :].split("?", 1)[0]
            # A shell variable or an elision stands for one path segment.
            return re.sub(r"\$\{?[A-Za-z_]+\}?|…", "X", path) or "/"
    return None


def test_curl_examples_are_found_in_the_pages() -> None:
    """The extraction itself: a known example of each shape is found, with its method."""
    sample = """```bash
curl -s -X POST $API/v1/jobs/$ID/cancel -H "$AUTH"           # queued: never runs
TOKEN=$(curl -s $API/auth/jwt/login -d 'username=a&password=b' | jq -r .access_token)
curl -s $API/v1/jobs -H "$AUTH" -H 'content-type: application/json' -d '{
  "kind": "chat", "input": {"prompt": "a # not a comment"}}'
curl -s "$API/v1/documents?collection=biology" -H "$AUTH" \\
     -H 'x: y'
```"""
    assert curl_examples(sample) == [
        ("POST", "$API/v1/jobs/$ID/cancel"),
        ("POST", "$API/auth/jwt/login"),
        ("POST", "$API/v1/jobs"),
        ("GET", "$API/v1/documents?collection=biology"),
    ]


def test_every_curl_example_calls_a_route_the_api_has() -> None:
    openapi, hidden = _openapi_and_hidden_routes()
    operations = [(_template(path), {m.upper() for m in item}) for path, item in openapi["paths"].items()]
    hidden_routes = [(_template(path), methods) for path, methods in hidden if OUTSIDE_THE_SCHEMA.match(path)]
    checked, wrong = 0, []
    for page in [*PAGES, REPO / "README.md"]:
        for method, url in curl_examples(page.read_text()):
            where = f"{page.relative_to(REPO)}: {method} {url}"
            if url.startswith(OTHER_SERVERS):
                continue
            path = _api_path(url)
            if path is None:
                wrong.append(f"{where} (not an API URL this test knows)")
                continue
            checked += 1
            routes = hidden_routes if OUTSIDE_THE_SCHEMA.match(path) else operations
            methods = set().union(*(m for pattern, m in routes if pattern.match(path)))
            if not methods:
                wrong.append(f"{where} (no such path)")
            elif method not in methods and not (method == "HEAD" and "GET" in methods):
                wrong.append(f"{where} (the path takes {sorted(methods)})")
    assert checked >= 80, f"only {checked} curl examples found"
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_every_page_is_in_the_navigation(page: Path) -> None:
    """A page missing from mkdocs.yml's nav is built but unreachable (mkdocs only warns at INFO)."""
    nav = (REPO / "mkdocs.yml").read_text()
    assert f": {page.relative_to(DOCS)}" in nav


# Feature homes whose page is elsewhere: the metrics scrape is an operator's, beside Prometheus.
FEATURE_PAGES_ELSEWHERE = {
    "metrics": DOCS / "production" / "metrics.md",
    "console": DOCS / "operations" / "console.md",
}


def test_every_feature_home_has_its_page_under_its_own_name() -> None:
    features = sorted(p.parent.name for p in (REPO / "api").glob("*/__init__.py"))
    assert "jobs" in features and "documents" in features
    missing = [
        feature
        for feature in features
        if not FEATURE_PAGES_ELSEWHERE.get(feature, DOCS / "api" / f"{feature}.md").is_file()
    ]
    assert not missing, f"api/<feature>/ folders without docs/api/<feature>.md: {missing}"
