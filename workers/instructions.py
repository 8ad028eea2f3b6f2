"""A job's system prompt: the kind's active instructions (versioned by admins, recorded on the job)
followed by the kind's contract (the output it must give and the rules the checks rely on, which
only code changes)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from db.instructions import ActiveInstructions, use_instructions
from db.unit_of_work import unit_of_work


def load(kind: str, job_id: uuid.UUID) -> ActiveInstructions:
    with unit_of_work() as session:
        return use_instructions(session, kind=kind, job_id=job_id)


def system_prompt(instructions: ActiveInstructions | str, contract: str) -> str:
    text = instructions.text if isinstance(instructions, ActiveInstructions) else instructions
    return f"{text.strip()}\n\n{contract.strip()}" if text.strip() else contract.strip()


def data_message(data: Any) -> dict[str, str]:
    """The user message carrying a job's data as JSON between <data> tags, which every contract tells
    the model to read as quoted data, never as instructions."""
    return {"role": "user", "content": f"<data>\n{json.dumps(data, ensure_ascii=False)}\n</data>"}
