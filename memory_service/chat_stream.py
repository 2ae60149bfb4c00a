"""A chat turn whose reply streams token by token.

Generation and persistence run in a task of their own, not in the response: when the client
disconnects mid-stream the task still finishes the reply and stores the whole turn."""

import asyncio
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool

from memory_service.chat import PreparedTurn, TurnResult, log_failed_calls, persist_turn
from memory_service.llm.router import RouterError
from memory_service.runtime import Runtime

_END = object()
_running: set[asyncio.Task] = set()  # strong references, so a detached turn is not collected


async def stream_turn(
    runtime: Runtime, turn: PreparedTurn, *, model: str | None = None
) -> AsyncIterator[str | TurnResult]:
    """Text deltas, then the stored TurnResult. Raises RouterError (nothing stored) on failure."""
    queue: asyncio.Queue = asyncio.Queue()

    async def produce() -> None:
        try:
            async for item in runtime.router.stream(turn.prompt, turn.features, requested=model):
                if isinstance(item, str):
                    queue.put_nowait(item)
                else:
                    queue.put_nowait(await run_in_threadpool(persist_turn, runtime, turn, item, streamed=True))
        except RouterError as exc:
            await run_in_threadpool(log_failed_calls, runtime, turn, exc, streamed=True)
            queue.put_nowait(exc)
        except Exception as exc:  # handed to the consumer, which re-raises it in the request
            queue.put_nowait(exc)
        finally:
            queue.put_nowait(_END)

    task = asyncio.create_task(produce())
    _running.add(task)
    task.add_done_callback(_running.discard)
    while (item := await queue.get()) is not _END:
        if isinstance(item, Exception):
            raise item
        yield item


async def drain() -> None:
    """Wait for detached turns (tests, shutdown)."""
    while _running:
        await asyncio.gather(*list(_running), return_exceptions=True)
