"""Load test on loopback: N concurrent users chat through the real service for D seconds.

  .venv/bin/python benchmarks/load.py [--users 50] [--duration 60] [--max-tokens 16]

A fresh embedded Postgres in a temporary directory, the real encoder and GGUF model, uvicorn on
127.0.0.1; each virtual user creates its user, then sends OpenAI-compatible turns on the fast
route (`model: small`) one after another, each with an Idempotency-Key. Only 429s are expected
errors (the client then waits Retry-After). Printed as JSON: request counts by outcome,
p50/p95/p99 latency of successful turns, throughput, and whether the database holds exactly what
the clients were told was stored (2 messages per turn; memories: sum of mentions, since a
near-duplicate strengthens an existing memory instead of adding a row)."""

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from memory_service.api.app import create_app  # noqa: E402
from memory_service.config import Settings  # noqa: E402
from memory_service.db.migrate import upgrade  # noqa: E402
from memory_service.db.models import Memory, Message  # noqa: E402
from memory_service.keys import create_key  # noqa: E402
from memory_service.runtime import build_runtime  # noqa: E402

TOPICS = ["my sister", "the garden", "my new job", "a film I watched", "my cat", "the weekend", "cooking dinner",
          "a long walk", "my exams", "an old friend", "the rain", "learning guitar"]


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))], 1)


def serve(app) -> tuple[uvicorn.Server, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


async def virtual_user(http: httpx.AsyncClient, n: int, until: float, log: dict) -> None:
    user = (await http.post("/v1/users", json={"name": f"load-{n}"})).json()["id"]
    log["users"][user] = 0
    i = 0
    while time.monotonic() < until:
        i += 1
        body = {"model": "small", "user": user,
                "messages": [{"role": "user", "content": f"Turn {i}: let me tell you about {TOPICS[(n + i) % len(TOPICS)]}, {uuid.uuid4().hex[:6]}."}]}
        started = time.perf_counter()
        try:
            response = await http.post("/v1/chat/completions", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        except httpx.HTTPError as exc:
            log["errors"].append(f"{type(exc).__name__}: {exc}")
            continue
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code == 200:
            log["latencies"].append(elapsed)
            log["users"][user] += 1
        elif response.status_code == 429:
            log["rate_limited"] += 1
            await asyncio.sleep(float(response.headers.get("retry-after", "1")))
        else:
            log["errors"].append(f"{response.status_code}: {response.text[:200]}")


async def run_load(base_url: str, key: str, users: int, duration: float) -> dict:
    log = {"users": {}, "latencies": [], "rate_limited": 0, "errors": []}
    limits = httpx.Limits(max_connections=users + 5)
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=300,
                                 limits=limits) as http:
        until = time.monotonic() + duration
        started = time.monotonic()
        await asyncio.gather(*(virtual_user(http, n, until, log) for n in range(users)))
        log["wall_s"] = time.monotonic() - started
    return log


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()
    if not 1 <= args.users <= 200 or not 1 <= args.duration <= 600:
        parser.error("--users must be 1..200 and --duration 1..600 (the run is bounded)")

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp).chmod(0o777)
        settings = Settings(pg_data_dir=Path(tmp) / "pg", llm_max_tokens=args.max_tokens, llm_temperature=0.0)
        runtime = build_runtime(settings)
        try:
            upgrade(runtime.db.engine)
            with runtime.db.transaction() as session:
                key = create_key(session, "load-test").key
            server, base_url = serve(create_app(runtime))
            log = asyncio.run(run_load(base_url, key, args.users, args.duration))
            server.should_exit = True
            with runtime.db.transaction() as session:
                db = {}
                for user in log["users"]:
                    uid = uuid.UUID(user)
                    db[user] = (
                        session.scalar(select(func.count()).select_from(Message).where(Message.user_id == uid)),
                        session.scalar(select(func.coalesce(func.sum(Memory.mentions), 0)).where(Memory.user_id == uid)),
                    )
        finally:
            runtime.close()

    turns = sum(log["users"].values())
    mismatched = [u for u, n in log["users"].items() if db[u] != (2 * n, n)]
    print(json.dumps({
        "users": args.users, "duration_s": args.duration, "max_tokens": args.max_tokens, "route": "small",
        "turns_ok": turns, "rate_limited_429": log["rate_limited"], "errors": len(log["errors"]),
        "error_samples": log["errors"][:5],
        "latency_ms": {"p50": pct(log["latencies"], 50), "p95": pct(log["latencies"], 95),
                       "p99": pct(log["latencies"], 99)},
        "turns_per_s": round(turns / log["wall_s"], 2),
        "db_messages": sum(m for m, _ in db.values()), "db_memory_mentions": sum(k for _, k in db.values()),
        "db_matches_clients": not mismatched, "mismatched_users": mismatched[:5],
    }, indent=2))


if __name__ == "__main__":
    main()
