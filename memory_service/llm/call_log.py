"""Router calls into Postgres: written inside the turn's transaction when the turn succeeds, in
their own transaction when it fails (so failed calls reach analytics too)."""

import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session

from memory_service.db.models import RouterCall
from memory_service.llm.router import CallRecord


def log_calls(
    session: Session,
    calls: Iterable[CallRecord],
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID | None,
    streamed: bool,
) -> None:
    session.add_all(
        RouterCall(
            user_id=user_id, conversation_id=conversation_id, route=c.route, reason=c.reason, backend=c.backend,
            model=c.model, prompt_tokens=c.prompt_tokens, completion_tokens=c.completion_tokens,
            ttft_ms=c.ttft_ms, latency_ms=c.latency_ms, cost=c.cost, fallback_from=c.fallback_from,
            error=c.error, streamed=streamed,
        )
        for c in calls
    )
