"""Users of a companion app, as the service knows them."""

import uuid

from sqlalchemy.orm import Session

from memory_service.db.models import User
from memory_service.errors import NotFound
from memory_service.events import log_event


def create_user(
    session: Session, name: str | None = None, *, app_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None
) -> User:
    """app_id: the owning app (API users); user_id: chosen up front, so a scoped transaction can
    name the user before its row exists."""
    user = User(id=user_id or uuid.uuid4(), name=name, app_id=app_id)
    session.add(user)
    session.flush()
    log_event(session, "user_created", user.id)
    return user


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def delete_user(session: Session, user_id: uuid.UUID) -> None:
    """Removes the user; conversations, messages and memories go with it (ON DELETE CASCADE)."""
    session.delete(get_user(session, user_id))
