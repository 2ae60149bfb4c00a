"""One chat turn: remember the message, recall related memories, reply, and store it all atomically.

A turn has three phases so that the JSON, streaming and OpenAI-compatible endpoints share it:
prepare (encode + one read transaction), generate (the router, no transaction open) and
persist (one write transaction for the whole turn, router calls included)."""

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from memory_service.db.models import Conversation, Message
from memory_service.errors import NotFound
from memory_service.encoder.encoder import Encoded
from memory_service.events import log_event, start_session_if_idle
from memory_service.experiments.assignment import PolicyChoice, choose_policy, record_exposure
from memory_service.llm.base import ChatMessage
from memory_service.llm.call_log import log_calls
from memory_service.llm.router import PromptParts, Routed, RouterError
from memory_service.llm.routing import Features, features
from memory_service.memory.policies import MemoryPolicy
from memory_service.memory.ranking import RankQuery, rank
from memory_service.memory.store import RecalledMemory, mark_recalled, remember
from memory_service.runtime import Runtime
from memory_service.users import get_user


@dataclass(frozen=True)
class TurnResult:
    reply: str
    conversation_id: uuid.UUID
    memories_used: list[RecalledMemory]
    model: str
    latency_ms: int
    policy: str | None = None  # the memory policy that served the turn
    route: str | None = None
    route_reason: str | None = None
    backend: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_ms: int | None = None
    cost: float = 0.0


@dataclass
class PreparedTurn:
    """Everything read before the model runs; no database connection is held while it does."""

    user_id: uuid.UUID
    message: str
    started: float
    received_at: datetime
    encoded: Encoded
    choice: PolicyChoice
    policy: MemoryPolicy
    conversation: Conversation | None
    memories: list[RecalledMemory]
    history: list[ChatMessage]
    features: Features

    @property
    def prompt(self) -> PromptParts:
        return PromptParts(message=self.message, memories=self.memories, history=self.history)


def _conversation(session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID | None) -> Conversation | None:
    """The named conversation, or the user's latest; None means a new one starts with this turn."""
    if conversation_id is not None:
        conversation = session.get(Conversation, (user_id, conversation_id))
        if conversation is None:
            raise NotFound(f"conversation {conversation_id} not found")
        return conversation
    return session.scalars(
        select(Conversation).where(Conversation.user_id == user_id).order_by(Conversation.created_at.desc()).limit(1)
    ).first()


def _history(session: Session, conversation: Conversation | None, n: int) -> list[ChatMessage]:
    if conversation is None or n == 0:
        return []
    rows = session.scalars(
        select(Message)
        .where(Message.user_id == conversation.user_id, Message.conversation_id == conversation.id)
        .order_by(Message.created_at.desc())
        .limit(n)
    ).all()
    return [{"role": m.role, "content": m.content} for m in reversed(rows)]


def prepare_turn(
    runtime: Runtime, user_id: uuid.UUID, message: str, conversation_id: uuid.UUID | None = None
) -> PreparedTurn:
    started = time.perf_counter()
    received_at = datetime.now(UTC)
    settings = runtime.settings
    encoded = runtime.embedder.encode_one(message)  # embedding and emotion tags from one pass
    embedding = encoded.embedding

    with runtime.db.transaction() as session:
        get_user(session, user_id)
        # Read-only here; the assignment and its exposure event are written with the turn below.
        choice = choose_policy(session, runtime.experiments, runtime.policies, user_id)
        conversation = _conversation(session, user_id, conversation_id)
        policy = runtime.policies.get(choice.policy_name)
        memories = rank(session, user_id, RankQuery(message, embedding, encoded.tags), policy)
        history = _history(session, conversation, settings.history_messages)

    return PreparedTurn(
        user_id=user_id, message=message, started=started, received_at=received_at, encoded=encoded,
        choice=choice, policy=policy, conversation=conversation, memories=memories, history=history,
        features=features(message, memories, intensity=encoded.tags.intensity, arm=choice.arm),
    )


def persist_turn(runtime: Runtime, turn: PreparedTurn, routed: Routed, *, streamed: bool = False) -> TurnResult:
    """The whole turn in one transaction: a failure anywhere leaves nothing behind."""
    user_id, message, received_at, embedding = turn.user_id, turn.message, turn.received_at, turn.encoded.embedding
    encoded, choice, conversation = turn.encoded, turn.choice, turn.conversation
    completion, memories = routed.completion, routed.memories
    latency_ms = round((time.perf_counter() - turn.started) * 1000)
    replied_at = datetime.now(UTC)

    with runtime.db.transaction() as session:
        if conversation is None:
            conversation = Conversation(user_id=user_id)
            session.add(conversation)
            session.flush()
        user_message = Message(
            user_id=user_id, conversation_id=conversation.id, role="user", content=message,
            created_at=received_at,
        )
        session.add(user_message)
        session.flush()
        remember(
            session,
            user_id=user_id,
            text=message,
            role="user",
            embedding=embedding,
            message_id=user_message.id,
            created_at=received_at,
            tags=encoded.tags,
            dedupe_threshold=turn.policy.dedupe_threshold,
        )
        session.add(
            Message(
                user_id=user_id,
                conversation_id=conversation.id,
                role="assistant",
                content=completion.text,
                model=completion.model,
                latency_ms=latency_ms,
                created_at=replied_at,
            )
        )
        mark_recalled(session, user_id, [m.id for m in memories])
        start_session_if_idle(session, user_id, received_at)
        record_exposure(session, user_id, choice)
        log_event(
            session, "message_sent", user_id, conversation_id=str(conversation.id), chars=len(message),
            experiment=choice.experiment_key, arm=choice.arm, policy=choice.policy_name,
        )
        if memories:
            log_event(session, "memory_recalled", user_id, count=len(memories))
        log_calls(session, routed.calls, user_id=user_id, conversation_id=conversation.id, streamed=streamed)

    return TurnResult(
        reply=completion.text,
        conversation_id=conversation.id,
        memories_used=memories,
        model=completion.model,
        latency_ms=latency_ms,
        policy=choice.policy_name,
        route=routed.route,
        route_reason=routed.reason,
        backend=routed.backend,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        ttft_ms=routed.ttft_ms,
        cost=routed.cost,
    )


def log_failed_calls(runtime: Runtime, turn: PreparedTurn, error: RouterError, *, streamed: bool) -> None:
    """The turn stores nothing, but the calls it made still reach the call log."""
    if error.calls:
        with runtime.db.transaction() as session:
            conversation_id = turn.conversation.id if turn.conversation else None
            log_calls(session, error.calls, user_id=turn.user_id, conversation_id=conversation_id, streamed=streamed)


async def achat_turn(
    runtime: Runtime, user_id: uuid.UUID, message: str, conversation_id: uuid.UUID | None = None,
    *, model: str | None = None,
) -> TurnResult:
    """The turn for the event loop: database and encoder work run in the thread pool.
    model: a route name the caller asked for (OpenAI `model`), else the routing policy decides."""
    turn = await run_in_threadpool(prepare_turn, runtime, user_id, message, conversation_id)
    try:
        routed = await runtime.router.complete(turn.prompt, turn.features, requested=model)
    except RouterError as exc:
        await run_in_threadpool(log_failed_calls, runtime, turn, exc, streamed=False)
        raise
    return await run_in_threadpool(persist_turn, runtime, turn, routed)


def chat_turn(
    runtime: Runtime, user_id: uuid.UUID, message: str, conversation_id: uuid.UUID | None = None
) -> TurnResult:
    """The same turn for synchronous callers (scripts, tests); never call it on an event loop."""
    turn = prepare_turn(runtime, user_id, message, conversation_id)
    try:
        routed = asyncio.run(runtime.router.complete(turn.prompt, turn.features))
    except RouterError as exc:
        log_failed_calls(runtime, turn, exc, streamed=False)
        raise
    return persist_turn(runtime, turn, routed)
