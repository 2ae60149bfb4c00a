"""Domain and infrastructure errors mapped to clear HTTP answers."""

import json
import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from memory_service.errors import NotFound
from memory_service.llm.base import ModelError, Overloaded

log = logging.getLogger(__name__)


def field_error(field: str, msg: str, type_: str = "value_error") -> list[dict]:
    """The same shape FastAPI uses for its own 422 answers, so clients parse one format."""
    return [{"loc": ["body", field], "msg": msg, "type": type_}]


class _AsciiJSONResponse(JSONResponse):
    """Escapes non-ASCII, so echoing back an unpaired surrogate from bad input cannot fail."""

    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


MODEL_BUSY_RETRY_AFTER_S = "2"


def model_busy(exc: ModelError) -> bool:
    """Backpressure, not an outage: every backend's queue was full."""
    return isinstance(exc, Overloaded) or getattr(exc, "overloaded", False)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _AsciiJSONResponse(status_code=422, content={"detail": jsonable_encoder(exc.errors())})

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    async def database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return JSONResponse(
            status_code=503,
            content={"detail": "database unavailable; nothing was stored, retry shortly"},
            headers={"Retry-After": "5"},
        )

    for exc_type in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(exc_type, database_unavailable)

    @app.exception_handler(ModelError)
    async def model_failed(_: Request, exc: ModelError) -> JSONResponse:
        if model_busy(exc):
            return JSONResponse(
                status_code=429,
                content={"detail": f"the model is busy; nothing was stored, retry shortly: {exc}"},
                headers={"Retry-After": MODEL_BUSY_RETRY_AFTER_S},
            )
        log.warning("model backend failed: %s", exc)
        return JSONResponse(
            status_code=503, content={"detail": f"model backend failed; nothing was stored: {exc}"}
        )
