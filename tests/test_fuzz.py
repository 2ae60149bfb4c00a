"""schemathesis against our OpenAPI schema: no 5xx and no response outside its schema.

The real app on the real database, encoder and GGUF model (max_tokens 24, as the whole suite).
Generated UUIDs for the acting user are swapped for a fresh real user half the time, so the
fuzzer reaches the handlers rather than stopping at 404. Rate limits are off here."""

import dataclasses
import uuid

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from memory_service.api.app import create_app

MAX_EXAMPLES = 12


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


def test_api_never_fails_and_keeps_its_schema(runtime, client, auth_headers, admin_headers) -> None:
    unlimited = runtime.settings.model_copy(update={"rate_limit_key_per_minute": 0, "rate_limit_user_per_minute": 0})
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(dataclasses.replace(runtime, settings=unlimited)))
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    seen = []

    def call(case) -> None:
        real_user = None
        if _is_uuid((case.path_parameters or {}).get("user_id")):
            real_user = client.post("/v1/users").json()["id"]
            case.path_parameters["user_id"] = real_user
        if isinstance(case.body, dict):
            for field in ("user_id", "user"):
                if _is_uuid(case.body.get(field)):
                    case.body[field] = real_user or client.post("/v1/users").json()["id"]
        headers = admin_headers if case.path.startswith("/v1/admin") else auth_headers
        response = case.call_and_validate(headers=headers, checks=checks)
        seen.append((case.method, case.path, response.status_code))

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        fuzz = settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                        derandomize=True, database=None)(given(case=operation.as_strategy())(call))
        fuzz()
    # Every operation ran, and the fuzzer got past validation and scope into the handlers.
    assert {(m, p) for m, p, _ in seen} == {(o.method.upper(), o.path) for o in operations}
    assert sum(200 <= status < 300 for _, _, status in seen) >= len(operations)
