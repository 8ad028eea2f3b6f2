"""The admin console at /admin: server-rendered pages for superusers (api/console/templates), a
little plain JavaScript that only enhances them (api/console/static), CSRF-checked forms.

A page lives with its feature: `api/<feature>/console.py` with a `router` (route_class=ConsoleRoute,
include_in_schema=False) and a `NAV` entry, plus its templates in `api/<feature>/templates/`; listing
the module in PAGES adds it to the app and to the navigation, in that order. This package keeps what
every page shares: sign-in, the admin check, CSRF, the layout and the static files."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.ask import console as answer_cache
from api.console import signin
from api.console.templating import STATIC_DIR, NavEntry
from api.documents import console as library
from api.exercises import console as question_bank
from api.instructions import console as instructions
from api.jobs import console as jobs
from api.llm_routes import console as llm_routing
from api.lti import console as lms
from api.matches import console as matches
from api.search import console as embeddings
from api.sources import console as sources
from api.stats import console as overview
from api.users import console as users
from api.voices import console as voices

PAGES = [
    overview,
    jobs,
    users,
    library,
    instructions,
    llm_routing,
    sources,
    answer_cache,
    embeddings,
    voices,
    lms,
    question_bank,
    matches,
]

# Uploads through the library page's form may be as large as the API's own upload route allows.
UPLOAD_PATH = library.UPLOAD_PATH
# And clips through the Voices page's enrolment form, as large as the API's enrolment route allows.
VOICE_ENROL_PATH = voices.ENROL_PATH


def install_console(app: FastAPI) -> None:
    """Mount the console's pages, sign-in and static files on the app."""
    app.mount("/admin/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.include_router(signin.router)
    nav: list[NavEntry] = []
    for page in PAGES:
        app.include_router(page.router)
        nav.append(page.NAV)
    app.state.console_nav = nav
