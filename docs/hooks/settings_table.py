"""MkDocs hook: the configuration page's table of settings, written from core.settings.Settings.

Each row is a field of the one settings class: its environment variable (the field's alias), its
default and its `description=`. So the page cannot drift from the code: a new setting appears at
the next build, and tests/test_docs.py fails on a setting without a description.
"""

from __future__ import annotations

import json
from pathlib import PurePath

MARKER = "<!-- settings-table -->"


def shown_default(field) -> str:
    """A field's default as a reader types it in an environment variable (`unset` for none)."""
    from pydantic_core import PydanticUndefined

    value = field.default
    if value is PydanticUndefined:
        value = field.default_factory() if field.default_factory else None
    if value is None:
        return "unset"
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    if isinstance(value, bool):
        value = str(value).lower()
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, list | dict):
        value = json.dumps(value)
    elif isinstance(value, PurePath):
        value = str(value)
    return f"`{value}`"


def settings_table() -> str:
    """The Markdown table: variable, default, meaning; in the order the settings class declares them."""
    from core.settings import Settings

    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{field.alias or name.upper()}` | {shown_default(field)} | {meaning} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, settings_table())
