"""Validation shared by every route that takes user text."""

from typing import Annotated

from fastapi import HTTPException
from pydantic import AfterValidator, Field

from memory_service.api.errors import field_error


def _printable(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


UserText = Annotated[str, Field(min_length=1), AfterValidator(_printable)]


def check_length(field: str, value: str, limit: int) -> None:
    """The limit is a runtime setting, so it is checked in the route rather than in the schema."""
    if len(value) > limit:
        raise HTTPException(
            status_code=422, detail=field_error(field, f"{field} is longer than {limit} characters", "string_too_long")
        )
