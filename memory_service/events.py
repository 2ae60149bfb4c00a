"""Product events, written in the same transaction as the change they describe."""

import uuid
from typing import Any

from sqlalchemy.orm import Session

from memory_service.db.models import Event


def log_event(session: Session, name: str, user_id: uuid.UUID | None, **properties: Any) -> None:
    session.add(Event(name=name, user_id=user_id, properties=properties))
