"""Loading the YAML config files (policies, routes) into their pydantic schemas, with errors
that name the file and the offending field."""

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def load_yaml(path: Path, schema: type[Model], what: str, error: type[ValueError]) -> Model:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from exc
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        raise error(f"{path}: invalid {what}: {describe(exc)}") from exc
