"""Scheduled sources, the parts the API and the workers share: kinds, cron schedules, the folder root.

A source is a page, an RSS/Atom feed, a sitemap or a server-side folder that refreshes one
collection on a cron schedule (the `source_run` kind does a run; beat submits them). Both the API
(at registration) and the worker (at every run) validate a folder against the allowed root, so a
root changed after registration still holds.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from croniter import CroniterBadDateError, croniter

SOURCE_KINDS = ("page", "feed", "sitemap", "folder")
URL_KINDS = frozenset({"page", "feed", "sitemap"})

# The five-field form only (minute hour day month weekday), or one of these names: croniter also
# takes a seconds field, which would ask for more runs than beat ever looks.
_CRON_ALIASES = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})


class SourceConfigError(Exception):
    """A source the platform will not run as configured; `code` is stable, the message says why."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def check_schedule(expression: str) -> str:
    """The schedule, normalised (spaces collapsed); `invalid_schedule` when it is not a cron
    expression that ever fires (Feb 30 parses, but never comes)."""
    normalised = " ".join(expression.split())
    if normalised.lower() in _CRON_ALIASES:
        return normalised.lower()
    if len(normalised.split(" ")) != 5 or not croniter.is_valid(normalised):
        raise SourceConfigError(
            "invalid_schedule",
            f"{expression!r} is not a cron expression: five fields (minute hour day month weekday), "
            "e.g. '*/30 * * * *', or @hourly, @daily, @weekly, @monthly, @yearly",
        )
    try:
        next_run_after(normalised, datetime.now(UTC))
    except (CroniterBadDateError, ValueError):
        raise SourceConfigError("invalid_schedule", f"{expression!r} never fires") from None
    return normalised


def next_run_after(expression: str, moment: datetime) -> datetime:
    """The first time the schedule fires strictly after `moment` (UTC)."""
    return croniter(expression, moment.astimezone(UTC)).get_next(datetime)


def folder_root(configured: Path | None) -> Path:
    """The resolved folder root; `folder_sources_disabled` when MENTORQ_SOURCE_FOLDERS_ROOT is unset."""
    if configured is None or not str(configured).strip():
        raise SourceConfigError(
            "folder_sources_disabled",
            "folder sources are off: set MENTORQ_SOURCE_FOLDERS_ROOT to the folder they may read from",
        )
    return Path(os.path.realpath(configured))


def inside(path: Path, root: Path) -> bool:
    """Whether a resolved `path` is `root` or lies under it."""
    return path == root or root in path.parents


def resolve_folder(location: str, configured_root: Path | None) -> Path:
    """The folder a source names, symlinks resolved, refused unless it lies inside the root.

    A relative location is taken relative to the root. Raises SourceConfigError:
    `folder_sources_disabled`, `folder_outside_root`."""
    root = folder_root(configured_root)
    if not location or "\x00" in location:
        raise SourceConfigError("folder_outside_root", "the folder is empty or holds a NUL character")
    candidate = Path(location) if os.path.isabs(location) else root / location
    resolved = Path(os.path.realpath(candidate))
    if not inside(resolved, root):
        raise SourceConfigError(
            "folder_outside_root", f"{location!r} resolves to {str(resolved)!r}, outside {str(root)!r}"
        )
    return resolved
