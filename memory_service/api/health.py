"""Readiness of the parts a chat turn needs."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from memory_service.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(runtime: RuntimeDep) -> JSONResponse:
    checks = {"database": runtime.db.is_ready(), "model": runtime.llm.is_ready()}
    ok = all(checks.values())
    body = {"status": "ok" if ok else "unavailable", **{k: "ok" if v else "down" for k, v in checks.items()}}
    return JSONResponse(status_code=200 if ok else 503, content=body)
