"""memory-service bench: every benchmark in benchmarks/, as one JSON document."""

import importlib.util
import json
import sys

import click

from memory_service.config import REPO_ROOT, Settings

RUNNER = REPO_ROOT / "benchmarks" / "run.py"


def load_runner():
    if not RUNNER.is_file():
        raise click.ClickException(f"{RUNNER} not found: benchmarks run from a checkout of the repository")
    spec = importlib.util.spec_from_file_location("memory_service_benchmarks_run", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@click.command()
@click.option("--quick", is_flag=True, help="Small scales (under 3 minutes); the full run takes about 25.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole JSON document (else a summary).")
@click.option("--only", default="", help="Comma-separated benchmark names, e.g. retrieval,router.")
@click.pass_obj
def bench(settings: Settings, quick: bool, as_json: bool, only: str) -> None:
    """Run every benchmark and print its figures with their same-run baselines."""
    runner = load_runner()
    try:
        result = runner.run_suite(quick, [s for s in only.split(",") if s] or None,
                                  log=lambda msg: click.echo(msg, err=True))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        for name, seconds in result["seconds"].items():
            status = "FAILED " + result["results"][name]["error"] if name in result["failed"] else "ok"
            click.echo(f"{name:18} {seconds:7.1f} s  {status}")
        click.echo(f"total {result['total_seconds']} s; --json prints the figures")
    if result["failed"]:
        sys.exit(1)
