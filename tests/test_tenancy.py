"""API keys, tenant and user scope, the admin key, and row-level security as a second wall."""

import dataclasses
import uuid

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from memory_service.api.app import create_app
from memory_service.cli import main
from memory_service.db.scope import Scope
from memory_service.keys import create_key


@pytest.fixture(scope="module")
def other(runtime):
    """A second app with its own key, client and one user holding one memory."""
    with runtime.db.transaction() as session:
        new = create_key(session, f"other-{uuid.uuid4().hex[:6]}")
    with TestClient(create_app(runtime), headers={"X-API-Key": new.key}) as client:
        user = client.post("/v1/users", json={"name": "Bea"}).json()["id"]
        written = client.post(f"/v1/users/{user}/memories", json={"text": "Bea's secret: my PIN is 4321."})
        assert written.status_code == 201, written.text
        yield {"key": new, "client": client, "user": user}


def test_requests_need_a_valid_key(client, user_id, api_key) -> None:
    bare = TestClient(client.app)
    missing = bare.get(f"/v1/users/{user_id}")
    assert missing.status_code == 401 and "missing API key" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    assert bare.get(f"/v1/users/{user_id}", headers={"Authorization": "Bearer ms_wrong"}).status_code == 401
    assert bare.get(f"/v1/users/{user_id}", headers={"X-API-Key": api_key}).status_code == 200
    assert bare.post("/v1/chat", json={"user_id": user_id, "message": "hi"}).status_code == 401


def test_another_apps_user_is_404_everywhere(client, other) -> None:
    stranger = other["user"]
    assert other["client"].get(f"/v1/users/{stranger}").status_code == 200
    for method, path, body in [
        ("GET", f"/v1/users/{stranger}", None),
        ("GET", f"/v1/users/{stranger}/memories", None),
        ("POST", f"/v1/users/{stranger}/memories", {"text": "planted"}),
        ("POST", f"/v1/users/{stranger}/memories/search", {"query": "PIN"}),
        ("GET", f"/v1/users/{stranger}/experiments", None),
        ("GET", f"/v1/users/{stranger}/export", None),
        ("DELETE", f"/v1/users/{stranger}", None),
        ("POST", "/v1/chat", {"user_id": stranger, "message": "What is my PIN?"}),
        ("POST", "/v1/chat/completions", {"model": "auto", "user": stranger,
                                          "messages": [{"role": "user", "content": "What is my PIN?"}]}),
    ]:
        response = client.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        assert "4321" not in response.text
    # Still there for its own app.
    assert len(other["client"].get(f"/v1/users/{stranger}/memories").json()) == 1


def test_row_level_security_is_a_second_wall(runtime, client, user_id, app_id, other) -> None:
    assert client.post(f"/v1/users/{user_id}/memories", json={"text": "I grow tomatoes."}).status_code == 201
    mine, theirs = uuid.UUID(user_id), uuid.UUID(other["user"])

    # The owner, unscoped (analytics, migrations), sees both users' rows.
    with runtime.db.transaction(scope=None) as session:
        owners = set(session.execute(text("SELECT DISTINCT user_id FROM memories")).scalars())
    assert {mine, theirs} <= owners

    # The service role with A's scope: an unfiltered query returns only A's rows.
    with runtime.db.transaction(scope=Scope(app_id, mine)) as session:
        assert session.execute(text("SELECT current_user")).scalar() == "memory_service_app"
        rows = session.execute(text("SELECT * FROM memories")).mappings().all()
        users = session.execute(text("SELECT id FROM users")).scalars().all()
        events = set(session.execute(text("SELECT user_id FROM events")).scalars())
    assert rows and {r["user_id"] for r in rows} == {mine}
    assert users == [mine] and events == {mine}

    # With only the tenant named, user rows are invisible; the users table shows only the tenant's.
    with runtime.db.transaction(scope=Scope(app_id)) as session:
        assert session.execute(text("SELECT count(*) FROM memories")).scalar() == 0
        assert session.execute(text("SELECT count(*) FROM messages")).scalar() == 0
        tenant_users = set(session.execute(text("SELECT id FROM users")).scalars())
    assert mine in tenant_users and theirs not in tenant_users

    # Writing into someone else's rows is refused, not silently allowed.
    with pytest.raises(ProgrammingError, match="row-level security"):
        with runtime.db.transaction(scope=Scope(app_id, mine)) as session:
            session.execute(
                text("INSERT INTO events (user_id, name) VALUES (:u, 'forged')"), {"u": theirs}
            )


def test_admin_key_guards_key_management(client, admin_headers, runtime) -> None:
    assert client.get("/v1/admin/keys").status_code == 401  # the app key is not the admin key
    created = client.post("/v1/admin/keys", json={"app": "admin-made"}, headers=admin_headers)
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["key"].startswith(key["prefix"]) and key["app"] == "admin-made"
    listed = client.get("/v1/admin/keys", params={"app": "admin-made"}, headers=admin_headers).json()
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0]

    fresh = TestClient(client.app, headers={"Authorization": f"Bearer {key['key']}"})
    assert fresh.post("/v1/users").status_code == 201
    revoked = client.delete(f"/v1/admin/keys/{key['id']}", headers=admin_headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert fresh.post("/v1/users").status_code == 401

    no_admin = runtime.settings.model_copy(update={"admin_key": None})
    with TestClient(create_app(dataclasses.replace(runtime, settings=no_admin)), headers=admin_headers) as closed:
        assert closed.get("/v1/admin/keys").status_code == 403


def test_keys_cli_create_list_revoke(runtime) -> None:
    env = {"DATABASE_URL": runtime.db.url}
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "--app", "cli-app"], env=env)
    assert created.exit_code == 0, created.output
    lines = created.output.splitlines()
    key_id, key = lines[1].removeprefix("key id "), lines[2]
    with runtime.db.transaction() as session:
        stored = session.execute(text("SELECT key_hash, prefix FROM api_keys WHERE id = :id"), {"id": key_id}).one()
    assert key not in stored.key_hash and key.startswith(stored.prefix)  # only the hash is kept

    listed = runner.invoke(main, ["keys", "list", "--app", "cli-app"], env=env)
    assert key_id in listed.output and "active" in listed.output
    assert runner.invoke(main, ["keys", "revoke", key_id], env=env).exit_code == 0
    assert "revoked" in runner.invoke(main, ["keys", "list", "--app", "cli-app"], env=env).output
    bad = runner.invoke(main, ["keys", "revoke", "nope"], env=env)
    assert bad.exit_code == 1 and "must be a key's UUID" in bad.output
    missing = runner.invoke(main, ["keys", "revoke", str(uuid.uuid4())], env=env)
    assert missing.exit_code == 1 and "not found" in missing.output


def test_every_request_transaction_runs_in_the_users_scope(client, runtime, user_id, monkeypatch) -> None:
    """The scope follows the request into the thread pool, the streaming task and background tasks:
    no transaction of a user's request falls back to the owner, except the key lookups."""
    from memory_service.db import database

    seen: list[tuple[str, object]] = []
    original = database.Database.transaction

    def recording(self, scope=database._Current):
        resolved = database.current_scope() if scope is database._Current else scope
        seen.append(("implicit" if scope is database._Current else "explicit", resolved))
        return original(self, scope)

    monkeypatch.setattr(database.Database, "transaction", recording)
    assert client.post("/v1/chat", json={"user_id": user_id, "message": "I like sailing."}).status_code == 200
    streamed = client.post("/v1/chat", json={"user_id": user_id, "message": "And rowing.", "stream": True})
    assert streamed.status_code == 200 and "event: done" in streamed.text
    assert client.post(f"/v1/users/{user_id}/memories/search", json={"query": "boats"}).status_code == 200
    implicit = [scope for kind, scope in seen if kind == "implicit"]
    assert len(implicit) >= 6
    assert all(scope is not None and str(scope.user_id) == user_id for scope in implicit), implicit
    # Explicit ones: the key lookups (owner, before any scope) and the check that the user is the app's.
    assert all(scope is None or str(scope.user_id) == user_id for kind, scope in seen if kind == "explicit")
