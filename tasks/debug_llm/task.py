"""`debug.llm`: one call to the configured LLM, streamed or not, under a 3 s time limit."""

from __future__ import annotations

from tasks.debug_llm.spec import SPEC, DebugLLMInput, DebugLLMOutput
from workers.llm import get_llm_provider
from workers.runtime import JobContext, job_task


@job_task(SPEC)
def debug_llm(ctx: JobContext, payload: DebugLLMInput) -> DebugLLMOutput:
    messages = [{"role": "user", "content": payload.prompt}]
    result = get_llm_provider().chat(messages, on_token=ctx.emit_output if payload.stream else None)
    return DebugLLMOutput(text=result.text)
