"""Apps (tenants) and their API keys. A key is shown once, at creation; only its SHA-256 is kept.

A key is `ms_` and 43 URL-safe characters (256 random bits), so a hash lookup is as good as a
constant-time compare: guessing a key means finding a SHA-256 preimage."""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from memory_service.db.models import ApiKey, App
from memory_service.errors import NotFound

KEY_PREFIX = "ms_"
SHOWN_CHARS = 11  # "ms_" and 8 characters: enough to tell keys apart in a listing


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison (of hashes, so lengths leak nothing either)."""
    return hmac.compare_digest(hash_key(given), hash_key(expected))


@dataclass(frozen=True)
class NewKey:
    id: uuid.UUID
    app_id: uuid.UUID
    app_name: str
    prefix: str
    key: str  # the only time the plain key exists


def get_or_create_app(session: Session, name: str) -> App:
    app = session.scalars(select(App).where(App.name == name)).first()
    if app is None:
        app = App(name=name)
        session.add(app)
        session.flush()
    return app


def create_key(session: Session, app_name: str) -> NewKey:
    """A new key for the app, creating the app on first use."""
    if not app_name.strip():
        raise ValueError("the app name must not be blank")
    app = get_or_create_app(session, app_name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(app_id=app.id, prefix=key[:SHOWN_CHARS], key_hash=hash_key(key))
    session.add(row)
    session.flush()
    return NewKey(id=row.id, app_id=app.id, app_name=app.name, prefix=row.prefix, key=key)


def revoke_key(session: Session, key_id: uuid.UUID) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} not found")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.flush()
    return row


def list_keys(session: Session, app_name: str | None = None) -> list[tuple[ApiKey, str]]:
    query = select(ApiKey, App.name).join(App, App.id == ApiKey.app_id).order_by(App.name, ApiKey.created_at)
    if app_name is not None:
        query = query.where(App.name == app_name)
    return [(key, name) for key, name in session.execute(query).all()]


def find_active_key(session: Session, key: str) -> ApiKey | None:
    """The live key with this plain text, or None (unknown or revoked)."""
    return session.scalars(
        select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    ).first()
