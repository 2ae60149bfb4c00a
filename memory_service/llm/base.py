"""The interface every chat backend implements: one method, plus a readiness check."""

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


class ModelError(RuntimeError):
    """The backend could not produce a reply; the turn is abandoned and nothing is stored."""


class ChatBackend(Protocol):
    name: str

    def complete(self, messages: list[ChatMessage], *, max_tokens: int, temperature: float) -> Completion: ...

    def is_ready(self) -> bool: ...
