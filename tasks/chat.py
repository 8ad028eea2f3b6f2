"""The `chat` kind: one completion from the configured LLM, streamed token by token."""

from __future__ import annotations

from db.kinds.chat import ChatInput, ChatOutput, ChatUsage
from workers.errors import JobError
from workers.llm import get_llm_provider
from workers.llm.base import LLMError, LLMInvalidOutput, LLMUnavailable
from workers.llm.structured import InvalidSchema, chat_structured, jsonschema_validator
from workers.runtime import JobContext, job_task


@job_task("chat")
def chat(ctx: JobContext, payload: ChatInput) -> ChatOutput:
    """Ask the model; with `format`, the answer must validate against that JSON schema."""
    provider = get_llm_provider()
    options = payload.options.model_dump(exclude_none=True) if payload.options else None
    parsed = None
    try:
        if payload.format is not None:
            result, parsed = chat_structured(
                provider,
                payload.as_messages(),
                schema=payload.format,
                validate=jsonschema_validator(payload.format),
                model=payload.model,
                options=options,
                on_token=ctx.emit_output,
            )
        else:
            result = provider.chat(payload.as_messages(), model=payload.model, options=options, on_token=ctx.emit_output)
    except InvalidSchema as error:
        raise JobError("invalid_schema", str(error)) from error
    except LLMInvalidOutput as error:
        raise JobError(error.code, str(error), details={"raw_text": error.raw_text[:20_000]}) from error
    except LLMUnavailable as error:
        raise JobError(error.code, str(error), retryable=True) from error
    except LLMError as error:
        raise JobError(error.code, str(error)) from error
    return ChatOutput(
        text=result.text,
        json=parsed,
        model=result.model,
        provider=result.provider,
        usage=ChatUsage(prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens),
    )
