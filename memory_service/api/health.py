"""Liveness (the process answers) and readiness (the parts a chat turn needs)."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from memory_service.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict:
    """Liveness: touches nothing, so a database outage never gets healthy replicas restarted."""
    return {"status": "ok"}


def router_ready(runtime) -> bool:
    """Some route of the default chain has a backend that is up and whose circuit is not open."""
    router = runtime.router
    if router is None:
        return runtime.llm.is_ready()
    for route_name in router.config.chain(router.config.policy.default):
        backend = router.config.routes[route_name].backend
        if router.breakers[backend].state != "open" and router.backends[backend].is_ready():
            return True
    return False


@router.get("/readyz")
def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks = {"database": runtime.db.is_ready(), "model": runtime.llm.is_ready(), "router": router_ready(runtime)}
    ok = all(checks.values())
    body = {"status": "ok" if ok else "unavailable", **{k: "ok" if v else "down" for k, v in checks.items()}}
    return JSONResponse(status_code=200 if ok else 503, content=body)
