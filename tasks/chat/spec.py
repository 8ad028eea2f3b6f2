"""The `chat` kind: one chat completion through the configured LLM provider, streamed token by token."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core import lanes
from core.jobspec import JobSpec


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=100_000)


class ChatOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1, le=8192)
    seed: int | None = None
    stop: list[str] | None = Field(None, max_length=8)


class ChatInput(BaseModel):
    """Either `prompt` (one user message) or `messages`; `format` is a JSON schema for the answer."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = Field(None, min_length=1, max_length=100_000)
    messages: list[ChatMessage] | None = Field(None, min_length=1, max_length=200)
    model: str | None = Field(None, max_length=200)
    format: dict[str, Any] | None = None
    options: ChatOptions | None = None

    @model_validator(mode="after")
    def _prompt_xor_messages(self) -> ChatInput:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' or 'messages'")
        return self

    def as_messages(self) -> list[dict[str, str]]:
        if self.messages is not None:
            return [message.model_dump() for message in self.messages]
        return [{"role": "user", "content": self.prompt or ""}]


class ChatUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class ChatOutput(BaseModel):
    text: str
    json_: Any | None = Field(None, alias="json", serialization_alias="json")
    model: str
    provider: str
    usage: ChatUsage

    model_config = ConfigDict(populate_by_name=True)


SPEC = JobSpec(
    name="chat",
    description="One LLM chat completion, optionally constrained to a JSON schema; streams tokens.",
    input_model=ChatInput,
    output_model=ChatOutput,
    queue=lanes.LLM,
    soft_time_limit=300,
    time_limit=330,
)
