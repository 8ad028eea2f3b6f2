"""The one way the grade kind asks the model: the active `grade` instructions first, then the contract
the checks rely on, the data fenced as data, and an answer validated against its schema (retried
once, then `llm_invalid_output`)."""

from __future__ import annotations

import uuid
from typing import TypeVar

from pydantic import BaseModel

from workers.instructions import data_message, system_prompt
from workers.instructions import load as load_instructions
from workers.llm import get_llm_provider
from workers.llm.structured import chat_structured, generation_schema

Answer = TypeVar("Answer", bound=BaseModel)


def ask_model(
    job_id: uuid.UUID, contract: str, data: dict, answer: type[Answer], *, max_tokens: int
) -> Answer:
    """The model's answer to `data` under `contract`, as an `answer` (deterministic: temperature 0)."""
    _, reply = chat_structured(
        get_llm_provider(),
        [
            {"role": "system", "content": system_prompt(load_instructions("grade", job_id), contract)},
            data_message(data),
        ],
        schema=generation_schema(answer),
        validate=answer.model_validate,
        options={"temperature": 0, "max_tokens": max_tokens},
    )
    return reply
