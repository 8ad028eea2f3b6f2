"""The admin console at /admin: server-rendered pages for superusers (api/console/templates), a
little plain JavaScript that only enhances them (api/console/static), CSRF-checked forms.

A page is one module here with a `router` (route_class=ConsoleRoute, include_in_schema=False) and
a `NAV` entry, plus one template; listing the module in PAGES adds it to the app and to the
navigation, in that order."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.console import instructions, jobs, library, llm_routing, overview, signin, sources, users
from api.console.templating import STATIC_DIR, NavEntry

PAGES = [overview, jobs, users, library, instructions, llm_routing, sources]

# Uploads through the library page's form may be as large as the API's own upload route allows.
UPLOAD_PATH = library.UPLOAD_PATH


def install_console(app: FastAPI) -> None:
    """Mount the console's pages, sign-in and static files on the app."""
    app.mount("/admin/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.include_router(signin.router)
    nav: list[NavEntry] = []
    for page in PAGES:
        app.include_router(page.router)
        nav.append(page.NAV)
    app.state.console_nav = nav
