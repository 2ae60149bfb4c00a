"""The database restarts under load: requests fail fast with 503 while it is down, and the service
recovers by itself (pre-pinged pool) with nothing half-written. A server of its own, not the
session's shared one."""

import dataclasses
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from memory_service.api.app import create_app
from memory_service.db.database import Database
from memory_service.db.migrate import upgrade
from memory_service.db.models import Memory
from memory_service.keys import create_key


def test_database_restart_under_load(runtime, tmp_path) -> None:
    settings = runtime.settings.model_copy(update={
        "database_url": None, "pg_data_dir": tmp_path / "pg", "db_connect_timeout_s": 1,
        "rate_limit_key_per_minute": 0, "rate_limit_user_per_minute": 0,
    })
    db = Database.from_settings(settings)
    try:
        upgrade(db.engine)
        with db.transaction() as session:
            key = create_key(session, "restart").key
        app = create_app(dataclasses.replace(runtime, settings=settings, db=db))
        with TestClient(app, headers={"X-API-Key": key}) as client:
            user = client.post("/v1/users").json()["id"]
            results: list[tuple[float, int, float]] = []  # (started, status, seconds)
            stop = threading.Event()

            def worker(n: int) -> None:
                i = 0
                while not stop.is_set():
                    i += 1
                    started = time.monotonic()
                    if i % 2:
                        status = client.post(f"/v1/users/{user}/memories",
                                             json={"text": f"worker {n} note {i}: {uuid.uuid4()}"}).status_code
                    else:
                        status = client.get(f"/v1/users/{user}/memories", params={"limit": 5}).status_code
                    results.append((started, status, time.monotonic() - started))

            with ThreadPoolExecutor(4) as pool:
                for n in range(4):
                    pool.submit(worker, n)
                time.sleep(1.0)
                db.server.stop()
                down_at = time.monotonic()
                time.sleep(2.0)
                # The server accepts connections up to a second before start() returns (pgserver then
                # polls postmaster.pid with 1 s sleeps), so "down" ends when start() is called.
                restart_at = time.monotonic()
                db.server.start()
                up_at = time.monotonic()
                deadline = up_at + 30
                while time.monotonic() < deadline and not any(s < 300 and t > up_at for t, s, _ in results):
                    time.sleep(0.1)
                time.sleep(0.5)
                stop.set()

            statuses = {s for _, s, _ in results}
            assert statuses <= {200, 201, 503}, statuses
            during = [(s, d) for t, s, d in results if down_at + 0.2 < t < restart_at - 0.2]
            assert during and all(s == 503 for s, _ in during)
            assert max(d for _, d in during) < 3.0  # fast: a refused connection, not a hang
            assert any(s < 300 for t, s, _ in results if t > up_at)  # recovered without a restart
            written = sum(1 for _, s, _ in results if s == 201)
        with db.transaction() as session:
            stored = session.scalar(select(func.count()).select_from(Memory).where(Memory.user_id == uuid.UUID(user)))
        assert stored == written  # every 201 is stored, no 503 left anything behind
    finally:
        db.close()
