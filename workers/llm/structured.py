"""Structured output: ask for a JSON schema, validate, retry once with the error, else fail."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from workers.llm.base import (
    ChatResult,
    ContextTooLong,
    LLMError,
    LLMInvalidOutput,
    LLMProvider,
    TokenCallback,
)

# What a validator may raise for bad data. pydantic's ValidationError is a ValueError,
# jsonschema's is not.
VALIDATION_ERRORS = (ValueError, jsonschema.ValidationError)
MAX_ERROR_CHARS = 1000


class InvalidSchema(LLMError, ValueError):
    """A caller-supplied JSON schema is not itself a valid Draft 2020-12 schema."""

    code = "invalid_schema"


def jsonschema_validator(schema: dict) -> Callable[[Any], Any]:
    """A validate() for `schema` (Draft 2020-12) returning the data; raises InvalidSchema up front."""
    try:
        Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InvalidSchema(f"invalid JSON schema: {exc.message}") from exc
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    def validate(data: Any) -> Any:
        # The most relevant error, not the first: it is what the model is asked to fix.
        error = best_match(validator.iter_errors(data))
        if error is not None:
            raise error
        return data

    return validate


FENCED = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)


def unfence(text: str) -> str:
    """The JSON inside a Markdown code fence (```json ... ```), which small models like to add;
    any other text unchanged."""
    match = FENCED.match(text)
    return match.group(1) if match else text


GENERATED_ITEMS_CAP = 8
KEPT_MIN_LENGTH = 16


def generation_schema(model: type[BaseModel], *, max_items: int = GENERATED_ITEMS_CAP) -> dict[str, Any]:
    """The JSON schema of `model` to send with a request, made fit for grammar-constrained decoding:
    string lengths dropped and every array capped at `max_items`. llama.cpp unrolls `maxItems: N`
    into N nested optional rules (at 50 its grammar parser crashed the worker), and without a cap a
    small model repeats items until max_tokens cuts its JSON. A small `minLength` (a required text
    that may not be empty) is kept, so the model cannot fill a required field with "". The answer is
    still validated against the model's own, wider bounds."""

    def fit(node: Any) -> Any:
        if isinstance(node, list):
            return [fit(item) for item in node]
        if not isinstance(node, dict):
            return node
        fitted = {key: fit(value) for key, value in node.items() if key not in ("maxLength", "minLength")}
        if 0 < node.get("minLength", 0) <= KEPT_MIN_LENGTH:  # "not empty" costs the grammar nothing
            fitted["minLength"] = node["minLength"]
        if fitted.get("type") == "array":
            fitted["maxItems"] = min(fitted.get("maxItems", max_items), max_items)
        return fitted

    return fit(model.model_json_schema())


def describe_error(exc: BaseException) -> str:
    """A short human description of a parse or validation error, fit to quote to the model."""
    if isinstance(exc, json.JSONDecodeError):
        text = f"the answer is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    elif isinstance(exc, jsonschema.ValidationError):
        text = f"at {exc.json_path}: {exc.message}"
    elif isinstance(exc, PydanticValidationError):
        text = "; ".join(f"at {'.'.join(str(p) for p in e['loc']) or '$'}: {e['msg']}" for e in exc.errors())
    else:
        text = str(exc)
    return text[:MAX_ERROR_CHARS]


def chat_structured(
    provider: LLMProvider,
    messages: list[dict],
    *,
    schema: dict,
    validate: Callable[[Any], Any],
    model: str | None = None,
    options: dict | None = None,
    on_token: TokenCallback | None = None,
) -> tuple[ChatResult, Any]:
    """Chat for JSON matching `schema`; returns (result, validate(data)).

    A bad answer is retried once with the validation error quoted back to the model; a
    second bad answer raises LLMInvalidOutput carrying the raw text. The returned result's
    token counts cover both attempts. `on_token` sees the deltas of both attempts.
    """
    conversation = list(messages)
    prompt_tokens = completion_tokens = 0
    error = ""
    for attempt in (1, 2):
        try:
            result = provider.chat(
                conversation, model=model, json_schema=schema, options=options, on_token=on_token
            )
        except ContextTooLong as exc:
            if attempt == 1:
                raise
            # The correction (the bad answer quoted back, and the schema) did not fit a small model's
            # context: the job fails for what it is, an invalid answer, not for the correction's size.
            raise LLMInvalidOutput(
                f"the model's answer is invalid, and its correction does not fit the context: {error}",
                raw_text=conversation[-2]["content"],
            ) from exc
        prompt_tokens += result.prompt_tokens
        completion_tokens += result.completion_tokens
        try:
            value = validate(json.loads(unfence(result.text)))
        except VALIDATION_ERRORS as exc:
            error = describe_error(exc)
            if attempt == 2:
                raise LLMInvalidOutput(
                    f"the model's answer is invalid after a retry: {error}", raw_text=result.text
                ) from exc
            conversation = [
                *messages,
                {"role": "assistant", "content": result.text},
                {"role": "user", "content": _correction(error, schema)},
            ]
            continue
        return replace(result, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens), value
    raise AssertionError("unreachable")  # the loop returns or raises


def _correction(error: str, schema: dict) -> str:
    return (
        f"Your previous answer was invalid: {error}\n"
        "Answer again with only a JSON document that satisfies this JSON schema:\n"
        f"{json.dumps(schema)}"
    )
