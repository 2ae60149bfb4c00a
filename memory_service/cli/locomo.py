"""`memory-service eval locomo`: evidence recall of a memory policy on LoCoMo-format conversations."""

import json
from pathlib import Path

import click
from sqlalchemy.exc import ProgrammingError

from memory_service.config import Settings


def _paths(values: tuple[str, ...]) -> list[Path]:
    paths: list[Path] = []
    for value in values:
        path = Path(value)
        if path.is_dir():
            paths.extend(sorted(path.glob("*.json")))
        elif path.is_file():
            paths.append(path)
        else:
            raise click.BadParameter(f"{value}: no such file or directory", param_hint="--data")
    if not paths:
        raise click.BadParameter("no LoCoMo .json files given", param_hint="--data")
    return paths


def _ks(value: str) -> list[int]:
    try:
        ks = sorted({int(k) for k in value.split(",")})
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers", param_hint="--k") from None
    if ks[0] < 1:
        raise click.BadParameter("every k must be at least 1", param_hint="--k")
    return ks


@click.command(name="locomo")
@click.option("--data", "data", required=True, help="LoCoMo .json files or folders; more paths may follow.")
@click.argument("more", nargs=-1)
@click.option("--k", "k", default="1,5,10,20", show_default=True, help="Cut-offs for recall@k.")
@click.option("--policy", default=None, help="Memory policy name (default: the configured default).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def eval_locomo(settings: Settings, data: str, more: tuple[str, ...], k: str, policy: str | None, as_json: bool) -> None:
    """Ingest each conversation as a fresh user and answer its questions by retrieval."""
    from memory_service.db.database import Database
    from memory_service.evaluation.locomo import evaluate
    from memory_service.memory.policies import PolicyConfigError, load_policies
    from memory_service.runtime import build_encoder

    paths, ks = _paths((data, *more)), _ks(k)
    try:
        policies = load_policies(settings.memory_policies_path)
        chosen = policies.get(policy or policies.default)
    except (PolicyConfigError, KeyError) as exc:
        raise click.ClickException(str(exc.args[0])) from exc

    encoder = build_encoder(settings)

    def encode(texts: list[str]):
        return [(e.embedding, e.tags) for e in encoder.encode(texts)]

    try:
        with Database.from_settings(settings) as db:
            result = evaluate(db, encode, paths, chosen, ks)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    except ProgrammingError as exc:
        raise click.ClickException(f"database schema is missing or old; run `memory-service migrate` ({exc.orig})")

    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"policy {result['policy']}: {result['questions']} questions, p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms")
    for name, row in [("all", result), *result["by_category"].items()]:
        click.echo(f"  {name:>4}  " + "  ".join(f"recall@{k} {row[f'recall@{k}']:.3f}" for k in ks))
