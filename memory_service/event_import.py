"""Import historical events from CSV (user_id,event,timestamp[,properties]), all or nothing, idempotent.

Every row is validated before anything is kept; each becomes an event whose source_key is a hash
of its normalized content, so importing the same history again adds nothing."""

import csv
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

REQUIRED = ["user_id", "event", "timestamp"]
OPTIONAL = ["properties"]
EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,99}$")
MAX_ERRORS = 20  # reported at once; enough to fix a file without flooding the terminal


class ImportFileError(ValueError):
    """The file is unusable; `problems` lists (line number, message)."""

    def __init__(self, path: Path, problems: list[tuple[int, str]], total: int | None = None) -> None:
        self.problems = problems
        shown = "\n".join(f"  line {line}: {msg}" for line, msg in problems)
        more = f"\n  ... and {total - len(problems)} more" if total and total > len(problems) else ""
        super().__init__(f"{path}: nothing imported, {total or len(problems)} bad row(s):\n{shown}{more}")


@dataclass(frozen=True)
class ImportResult:
    rows: int
    added: int

    @property
    def skipped(self) -> int:
        return self.rows - self.added


@dataclass(frozen=True)
class ParsedEvent:
    user_id: uuid.UUID
    name: str
    occurred_at: datetime
    properties: dict[str, Any]

    def source_key(self) -> str:
        canonical = json.dumps(
            [str(self.user_id), self.name, self.occurred_at.astimezone(UTC).isoformat(), self.properties],
            sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        )
        return "csv:" + hashlib.sha256(canonical.encode()).hexdigest()


def parse_row(row: dict[str, str | None]) -> ParsedEvent:
    """One CSV record; raises ValueError naming the bad field."""
    if None in row or any(v is None for v in row.values()):
        raise ValueError("wrong number of columns")
    try:
        user_id = uuid.UUID(row["user_id"].strip())
    except ValueError:
        raise ValueError(f"user_id {row['user_id']!r} is not a UUID") from None
    name = row["event"].strip()
    if not EVENT_NAME.match(name):
        raise ValueError(f"event {name!r} is not a valid name (a letter, then letters, digits, _ . : -; at most 100)")
    raw_ts = row["timestamp"].strip()
    try:
        occurred_at = datetime.fromisoformat(raw_ts)
    except ValueError:
        raise ValueError(f"timestamp {raw_ts!r} is not ISO 8601") from None
    if occurred_at.tzinfo is None:
        raise ValueError(f"timestamp {raw_ts!r} has no UTC offset (e.g. 2027-01-05T09:30:00+01:00)")
    raw_props = (row.get("properties") or "").strip()
    properties: Any = {}
    if raw_props:
        try:
            properties = json.loads(raw_props)
        except json.JSONDecodeError as exc:
            raise ValueError(f"properties is not valid JSON: {exc.msg}") from None
        if not isinstance(properties, dict):
            raise ValueError("properties must be a JSON object")
    return ParsedEvent(user_id, name, occurred_at, properties)


def read_events(path: Path) -> list[tuple[ParsedEvent, str]]:
    """Every row parsed with its source key, or ImportFileError listing the bad lines."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ImportFileError(path, [(0, f"cannot open: {exc.strerror}")]) from exc
    problems: list[tuple[int, str]] = []
    events: list[tuple[ParsedEvent, str]] = []
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportFileError(path, [(1, f"unreadable header: {exc}")]) from exc
        header = [h.strip() for h in header]
        if header[:3] != REQUIRED or header[3:] not in ([], OPTIONAL):
            raise ImportFileError(path, [(1, f"header must be {','.join(REQUIRED)}[,properties], got {','.join(header) or '(empty file)'}")])
        reader.fieldnames = header
        bad = 0
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                problems.append((line, f"unreadable: {exc}"))
                break
            try:
                event = parse_row(row)
            except ValueError as exc:
                bad += 1
                if len(problems) < MAX_ERRORS:
                    problems.append((line, str(exc)))
                continue
            events.append((event, event.source_key()))
    if problems:
        raise ImportFileError(path, problems, max(bad, len(problems)))
    return events


def import_events(session: Session, path: Path) -> ImportResult:
    """Validate the whole file, then COPY it into a staging table and insert what is new in one
    statement (the activity rollup's trigger then runs once for the batch)."""
    events = read_events(path)
    session.execute(text(
        "CREATE TEMP TABLE import_events (user_id uuid, name text, properties jsonb, occurred_at timestamptz,"
        " source_key text) ON COMMIT DROP"
    ))
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy("COPY import_events (user_id, name, properties, occurred_at, source_key) FROM STDIN") as copy:
        for event, key in events:
            copy.write_row((event.user_id, event.name, json.dumps(event.properties), event.occurred_at, key))
    added = session.execute(text(
        "INSERT INTO events (user_id, name, properties, occurred_at, source_key)"
        " SELECT DISTINCT ON (source_key) user_id, name, properties, occurred_at, source_key FROM import_events"
        " ORDER BY source_key"
        " ON CONFLICT (user_id, source_key) DO NOTHING"
    )).rowcount
    return ImportResult(rows=len(events), added=added)
