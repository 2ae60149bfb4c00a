"""Render an analysis result (the JSON shape) as a table, JSON or CSV."""

import csv
import io
import json
from typing import Literal

Format = Literal["table", "json", "csv"]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def table(rows: list[dict]) -> str:
    if not rows:
        return "(no rows)"
    columns = list(rows[0])
    cells = [[_cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def render(result: dict, fmt: Format) -> str:
    if fmt == "json":
        return json.dumps(result, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        rows = result["rows"]
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    header = ", ".join(f"{k}={v}" for k, v in result.items() if k not in ("rows", "overall", "srm_p_value"))
    lines = [header, table(result["rows"])]
    if "overall" in result:
        o = result["overall"]
        lines.append(f"overall (complete cohorts): {o['retained']}/{o['eligible']} = {_cell(o['rate'])}")
    if "srm_p_value" in result:
        lines.append(f"sample-ratio mismatch p-value: {_cell(result['srm_p_value'])}")
    return "\n".join(lines)
