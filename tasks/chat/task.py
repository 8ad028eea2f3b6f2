"""The `chat` kind's body: one completion from the configured LLM, streamed token by token."""

from __future__ import annotations

from tasks.chat.spec import SPEC, ChatInput, ChatOutput, ChatUsage
from workers.llm import get_llm_provider
from workers.llm.structured import chat_structured, jsonschema_validator
from workers.runtime import JobContext, job_task


@job_task(SPEC)
def chat(ctx: JobContext, payload: ChatInput) -> ChatOutput:
    """Ask the model; with `format`, the answer must validate against that JSON schema."""
    provider = get_llm_provider()
    options = payload.options.model_dump(exclude_none=True) if payload.options else None
    parsed = None
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
        result = provider.chat(
            payload.as_messages(), model=payload.model, options=options, on_token=ctx.emit_output
        )
    return ChatOutput(
        text=result.text,
        json=parsed,
        model=result.model,
        provider=result.provider,
        usage=ChatUsage(prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens),
    )
