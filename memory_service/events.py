"""Product events, written in the same transaction as the change they describe."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from memory_service.db.models import Event

# A new session starts with the first activity after this much silence (the usual web-analytics rule).
SESSION_GAP = timedelta(minutes=30)
# Events that count as the user being active, for sessionization.
ACTIVITY_EVENTS = ("session_start", "message_sent")


def log_event(session: Session, name: str, user_id: uuid.UUID, **properties: Any) -> None:
    session.add(Event(name=name, user_id=user_id, properties=properties))


def log_event_at(session: Session, name: str, user_id: uuid.UUID, at: datetime, **properties: Any) -> None:
    """As log_event, with the time the thing happened rather than the commit's transaction time."""
    session.add(Event(name=name, user_id=user_id, properties=properties, occurred_at=at))


def start_session_if_idle(session: Session, user_id: uuid.UUID, at: datetime) -> bool:
    """Log `session_start` when the user's last activity is older than SESSION_GAP (or absent).

    Call it before logging the activity itself; returns whether a session started."""
    last = session.scalar(
        select(func.max(Event.occurred_at)).where(Event.user_id == user_id, Event.name.in_(ACTIVITY_EVENTS))
    )
    if last is not None and at - last < SESSION_GAP:
        return False
    log_event_at(session, "session_start", user_id, at)
    return True
