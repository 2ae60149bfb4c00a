"""Router figures, printed as JSON. Baselines are measured in the same run.

  .venv/bin/python benchmarks/router.py [--rounds 5]

- decision_overhead_ms: features + policy decision per request (target p99 <= 0.2 ms)
- decode_tokens_per_s: through the in-process backend vs raw llama-cpp-python
- ttft_overhead: service path (router: fit, worker thread, template) vs raw llama-cpp-python,
  same messages, both cold (target <= 10%)
- turn_two: cold TTFT vs turn-two TTFT with 4 users interleaving, with and without the prefix
  state cache (target >= 5x)
- concurrency: 8 concurrent streams through the router: errors and p95 TTFT
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memory_service.config import REPO_ROOT, Settings  # noqa: E402
from memory_service.llm.llama_cpp_backend import LlamaCppBackend  # noqa: E402
from memory_service.llm.prompt_cache import PrefixStateCache  # noqa: E402
from memory_service.llm.registry import build_router  # noqa: E402
from memory_service.llm.router import PromptParts  # noqa: E402
from memory_service.llm.router_config import load_router_config  # noqa: E402
from memory_service.llm.routing import features  # noqa: E402
from memory_service.memory.store import RecalledMemory  # noqa: E402

MAX_TOKENS = 48


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def memories_for(user: int, n: int = 8) -> list[RecalledMemory]:
    day0 = datetime(2026, 5, 1, tzinfo=UTC)
    return [
        RecalledMemory(
            id=uuid.uuid4(), role="user", score=1 - i / 20, created_at=day0 + timedelta(days=i),
            text=f"User {user}: my friend number {i} and I went hiking by the river, then talked for hours "
                 f"about the books we read and the music we like best this year.",
        )
        for i in range(n)
    ]


def decision_overhead(router, n: int = 20000) -> dict:
    mems = memories_for(0, 5)
    msg = "I had a rough day at work and my manager ignored my proposal again. What should I do?"
    times = []
    for _ in range(n):
        t = time.perf_counter()
        router.decide(features(msg, mems))
        times.append((time.perf_counter() - t) * 1000)
    fit_times = []
    for _ in range(200):
        t = time.perf_counter()
        router.fit("small", PromptParts(msg, mems))
        fit_times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(pct(times, 50), 4), "p99_ms": round(pct(times, 99), 4), "target_p99_ms": 0.2,
            "context_fit_p50_ms": round(pct(fit_times, 50), 3), "context_fit_p99_ms": round(pct(fit_times, 99), 3)}


def raw_stream(llama, messages) -> tuple[float, int, float]:
    """(ttft_s, tokens, decode_s) for raw llama-cpp-python create_chat_completion."""
    t = time.perf_counter()
    first, n = None, 0
    for chunk in llama.create_chat_completion(messages=messages, max_tokens=MAX_TOKENS, temperature=0.0, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            n += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    return first - t, n, end - first


async def routed_stream(router, parts: PromptParts) -> tuple[float, int, float]:
    t = time.perf_counter()
    first, n = None, 0
    async for item in router.stream(parts, features(parts.message, parts.memories)):
        if isinstance(item, str):
            n += 1
            end = time.perf_counter()  # the last token, not the cache save that follows it
            if first is None:
                first = end
    return first - t, n, end - first


def cold(backend: LlamaCppBackend) -> None:
    backend.llama.reset()
    backend.llama._ctx.kv_cache_clear()
    if backend.cache is not None:
        backend.cache = PrefixStateCache(backend.cache.capacity_bytes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    settings = Settings(llm_max_tokens=MAX_TOKENS, llm_temperature=0.0)
    from llama_cpp import Llama

    local = LlamaCppBackend(settings.llm_model_path, n_ctx=settings.llm_context_size, seed=settings.llm_seed)
    router = build_router(load_router_config(REPO_ROOT / "config" / "router.yaml"), settings, local=local)
    raw = Llama(model_path=str(settings.llm_model_path), n_ctx=settings.llm_context_size, seed=0, verbose=False)
    out: dict = {"decision_overhead": decision_overhead(router)}

    # Cold TTFT, same messages, alternating raw and service; and decode speed.
    parts = PromptParts("Tell me something kind about my weekend plans with my friends.", memories_for(1))
    messages, _ = router.fit("small", parts)
    prompt_tokens = local.count_tokens(messages)
    raw_ttft, svc_ttft, raw_tps, svc_tps = [], [], [], []
    for _ in range(args.rounds):
        raw.reset()
        raw._ctx.kv_cache_clear()
        ttft, n, dec = raw_stream(raw, messages)
        raw_ttft.append(ttft)
        raw_tps.append((n - 1) / dec if n > 1 else 0)
        cold(local)
        ttft, n, dec = asyncio.run(routed_stream(router, parts))
        svc_ttft.append(ttft)
        svc_tps.append((n - 1) / dec if n > 1 else 0)
    r, s = statistics.median(raw_ttft), statistics.median(svc_ttft)
    out["ttft_overhead"] = {"prompt_tokens": prompt_tokens, "raw_ms": round(r * 1000, 1),
                            "service_ms": round(s * 1000, 1), "overhead_pct": round((s / r - 1) * 100, 1),
                            "target_pct": 10, "prompt_tokens_per_s_raw": round(prompt_tokens / r)}
    out["decode_tokens_per_s"] = {"raw": round(statistics.median(raw_tps), 1),
                                  "service": round(statistics.median(svc_tps), 1), "target": 90}

    # Turn two with 4 users interleaving, with and without the prefix state cache.
    def interleaved(cache_mb: int) -> dict:
        local.cache = PrefixStateCache(cache_mb << 20) if cache_mb else None
        cold(local)
        users = range(4)
        first_msgs = {u: f"User {u} here: tell me something nice about my plans for the weekend." for u in users}
        colds, seconds, history = [], [], {}

        async def run():
            for u in users:
                t = time.perf_counter()
                reply, first = "", None
                async for item in router.stream(PromptParts(first_msgs[u], memories_for(u)),
                                                features(first_msgs[u], [])):
                    if isinstance(item, str):
                        first = first or time.perf_counter()
                    else:
                        reply = item.completion.text
                colds.append(first - t)
                history[u] = [{"role": "user", "content": first_msgs[u]}, {"role": "assistant", "content": reply}]
            for u in users:
                # Turn one's message is now a memory too; it is in the history, so not quoted twice.
                mems = memories_for(u) + [RecalledMemory(id=uuid.uuid4(), text=first_msgs[u], role="user", score=0.9,
                                                         created_at=datetime(2026, 6, 1, tzinfo=UTC))]
                ttft, _, _ = await routed_stream(router, PromptParts("And what about next week?", mems, history[u]))
                seconds.append(ttft)

        asyncio.run(run())
        c, t2 = statistics.median(colds), statistics.median(seconds)
        return {"cold_ms": round(c * 1000, 1), "turn_two_ms": round(t2 * 1000, 1), "speedup": round(c / t2, 1),
                "turn_two_max_ms": round(max(seconds) * 1000, 1),
                "cache_mb_used": round(local.cache.size_bytes / 2**20, 1) if local.cache else 0}

    out["turn_two_4_users"] = {"with_cache": interleaved(256), "without_cache": interleaved(0), "target_speedup": 5}

    # 8 concurrent streams through the router (the in-process backend serves them in turn).
    async def concurrent():
        async def one(i):
            return await routed_stream(router, PromptParts(f"Stream {i}: say something cheerful.", memories_for(i, 3)))
        return await asyncio.gather(*(one(i) for i in range(8)), return_exceptions=True)

    cold(local)
    results = asyncio.run(concurrent())
    ok = [r for r in results if not isinstance(r, BaseException)]
    ttfts = [r[0] for r in ok]
    out["concurrency_8_streams"] = {"errors": len(results) - len(ok), "p50_ttft_ms": round(pct(ttfts, 50) * 1000, 1),
                                    "p95_ttft_ms": round(pct(ttfts, 95) * 1000, 1)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
