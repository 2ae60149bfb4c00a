"""GET /metrics in the Prometheus text format."""

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from memory_service.api.deps import RuntimeDep
from memory_service.observability.metrics import exposition

router = APIRouter(tags=["observability"])


@router.get("/metrics", include_in_schema=False)
def metrics(runtime: RuntimeDep) -> Response:
    return Response(exposition(runtime), media_type=CONTENT_TYPE_LATEST)
