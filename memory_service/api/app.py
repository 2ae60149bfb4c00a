"""The FastAPI application factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from memory_service import __version__
from memory_service.api import chat, errors, experiments, health, memories, openai_compat, users
from memory_service.api import metrics
from memory_service.api.observability import ObservabilityMiddleware
from memory_service.api import admin, auth
from memory_service.api.idempotency import IdempotencyMiddleware
from memory_service.api.limits import BodyGuard
from memory_service.config import Settings, get_settings
from memory_service.runtime import Runtime, build_runtime


def create_app(runtime: Runtime | None = None, settings: Settings | None = None) -> FastAPI:
    """With a runtime (tests), the app borrows it; without, it builds its own at start-up and
    closes it, embedded database included, at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            yield
            return
        app.state.runtime = await run_in_threadpool(build_runtime, settings or get_settings())
        try:
            yield
        finally:
            app.state.runtime.close()

    app = FastAPI(title="memory-service", version=__version__, lifespan=lifespan)
    if runtime is not None:
        app.state.runtime = runtime
    errors.install(app)
    auth.install(app)
    app.add_middleware(IdempotencyMiddleware)  # inside the size limit: it reads the whole body
    app.add_middleware(BodyGuard)
    app.add_middleware(ObservabilityMiddleware)  # outermost: request id and timing cover everything
    for module in (users, memories, chat, health, experiments, openai_compat, metrics, admin):
        app.include_router(module.router)
    return app
