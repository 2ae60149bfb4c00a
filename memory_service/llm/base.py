"""The interface every chat backend implements: one streaming method, a token counter and a
readiness check. Capabilities are class attributes, as in simonw/llm."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, TypedDict


class ChatMessage(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Generation:
    """What one call asks of a backend; the route supplies model and timeout."""

    max_tokens: int
    temperature: float
    model: str | None = None
    timeout_s: float = 60.0


class ModelError(RuntimeError):
    """The backend could not produce a reply; the turn is abandoned and nothing is stored.

    retryable: the same backend may succeed if asked again (connection refused, timeout, 5xx, 429)."""

    retryable = False


class BackendUnavailable(ModelError):
    retryable = True


class Overloaded(ModelError):
    """The backend's queue is full: try another backend rather than waiting."""


class ContextOverflow(ModelError):
    """Even without memories and history the prompt does not fit the route's context window."""


class ChatBackend(Protocol):
    name: str
    can_stream: bool

    def stream(self, messages: list[ChatMessage], gen: Generation) -> AsyncIterator[str | Completion]:
        """Text deltas as they are decoded, then exactly one Completion with the usage."""
        ...

    def count_tokens(self, messages: list[ChatMessage]) -> int: ...

    def is_ready(self) -> bool: ...


def estimate_tokens(messages: list[ChatMessage]) -> int:
    """A conservative count for backends whose tokenizer we do not have: ~3 characters a token,
    plus the chat template's few tokens per message."""
    return sum(len(m["content"]) // 3 + 8 for m in messages) + 4
