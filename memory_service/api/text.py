"""Validation shared by every route that takes user text.

Text is stored as sent, except that it is refused (422) when it holds what no person types and
what breaks storage or prompts: NUL bytes, control characters other than tab, line feed and
carriage return (C0 and C1 ranges, DEL), and unpaired UTF-16 surrogates (which JSON escapes can
carry but UTF-8 cannot store). A body that is not UTF-8 at all is refused by the JSON parser."""

import re
from typing import Annotated

from fastapi import HTTPException
from pydantic import AfterValidator, Field

from memory_service.api.errors import field_error

_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NAMES = {"\x00": "NUL bytes"}


def odd_character(value: str) -> str | None:
    """A description of the first character the service refuses, or None."""
    found = _FORBIDDEN.search(value)
    if found is None:
        return None
    char = found.group()
    if char in _NAMES:
        return _NAMES[char]
    kind = "an unpaired surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
    return f"{kind} (U+{ord(char):04X})"


def _clean(value: str) -> str:
    odd = odd_character(value)
    if odd is not None:
        raise ValueError(f"must not contain {odd}")
    return value


def _printable(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return _clean(value)


UserText = Annotated[str, Field(min_length=1), AfterValidator(_printable)]
# Names and labels: may be blank, same character rules.
ShortText = Annotated[str, AfterValidator(_clean)]


def check_length(field: str, value: str, limit: int) -> None:
    """The limit is a runtime setting, so it is checked in the route rather than in the schema."""
    if len(value) > limit:
        raise HTTPException(
            status_code=422, detail=field_error(field, f"{field} is longer than {limit} characters", "string_too_long")
        )
