"""Reading server-sent events: frames from a stream of text lines (the CLI and the tests use it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class SseEvent:
    event: str
    data: Any
    id: int | None


def iter_sse(lines: Iterator[str]) -> Iterator[SseEvent]:
    """Yield events from the response's text lines; comments (keep-alives) are skipped."""
    event, data, event_id = "message", [], None
    for line in lines:
        if line == "":
            if data:
                yield SseEvent(event, json.loads("\n".join(data)), event_id)
            event, data, event_id = "message", [], None
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                event_id = int(value)
