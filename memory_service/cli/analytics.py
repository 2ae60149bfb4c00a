"""`memory-service analytics ...`: retention cohorts, arms and dose-response, computed in Postgres."""

from datetime import datetime

import click
from pydantic import ValidationError

from memory_service.config import Settings


def _as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not ISO 8601") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} needs a UTC offset, e.g. 2027-01-31T00:00:00Z")
    return parsed


def _spec_options(f):
    for option in reversed([
        click.option("--day", type=int, required=True, help="N of Day-N retention."),
        click.option("--mode", type=click.Choice(["exact", "on-or-after"]), default="exact", show_default=True,
                     help="Active on day N, or on day N or later."),
        click.option("--window", type=click.Choice(["rolling", "calendar"]), default="rolling", show_default=True,
                     help="24-hour days from first activity, or calendar days in --tz."),
        click.option("--tz", default="UTC", show_default=True, help="IANA timezone of cohorts and calendar days."),
        click.option("--as-of", callback=_as_of, help="End of the data (ISO 8601 with offset); default: latest event."),
        click.option("--event", default="message_sent", show_default=True, help="The event that counts as activity."),
        click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True),
    ]):
        f = option(f)
    return f


def _spec(**kwargs):
    from analytics.retention import RetentionSpec

    try:
        return RetentionSpec(**kwargs)
    except ValidationError as exc:
        raise click.ClickException("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from exc


@click.group()
def analytics() -> None:
    """Retention analytics over the events table."""


@analytics.command()
@_spec_options
@click.option("--by", type=click.Choice(["cohort", "arm"]), default="cohort", show_default=True)
@click.option("--experiment", help="Experiment key (needed with --by arm).")
@click.option("--phase", help="Experiment phase (default: the configured one).")
@click.option("--control", help="Control arm (default: the experiment's first arm).")
@click.pass_obj
def retention(settings: Settings, day, mode, window, tz, as_of, event, fmt, by, experiment, phase, control) -> None:
    """Day-N retention by signup cohort or by experiment arm."""
    from analytics.arms import ArmAnalysisError, by_arm, resolve_experiment
    from analytics.output import render
    from analytics.retention import by_cohort
    from memory_service.db.database import Database

    spec = _spec(day=day, mode=mode, window=window, tz=tz, as_of=as_of, event=event)
    if by == "arm" and not experiment:
        raise click.ClickException("--by arm needs --experiment KEY")
    try:
        with Database.from_settings(settings) as db, db.engine.connect() as conn:
            if by == "cohort":
                result = by_cohort(conn, spec)
            else:
                ref = resolve_experiment(conn, experiment, _experiments_config(settings), phase=phase, control=control)
                result = by_arm(conn, spec, ref)
    except ArmAnalysisError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(render(result, fmt))


@analytics.command("recall-effect")
@_spec_options
@click.option("--first-days", type=int, default=3, show_default=True, help="Recalls counted in this many days.")
@click.option("--buckets", default="0,1,2,4,8", show_default=True, help="Lower bounds of the recall-count buckets.")
@click.pass_obj
def recall_effect_cmd(settings: Settings, day, mode, window, tz, as_of, event, fmt, first_days, buckets) -> None:
    """Day-N retention by number of memory recalls in the first days (observational)."""
    from analytics.output import render
    from analytics.recall import RecallSpec, recall_effect
    from memory_service.db.database import Database

    spec = _spec(day=day, mode=mode, window=window, tz=tz, as_of=as_of, event=event)
    try:
        bounds = tuple(int(b) for b in buckets.split(","))
        recall_spec = RecallSpec(retention=spec, first_days=first_days, buckets=bounds)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise click.ClickException(f"--buckets/--first-days: {exc}") from exc
    with Database.from_settings(settings) as db, db.engine.connect() as conn:
        result = recall_effect(conn, recall_spec)
    click.echo(render(result, fmt))


def _experiments_config(settings: Settings):
    """The configured experiments, or None when the file is absent (arms then come from the table)."""
    from memory_service.experiments.config import ExperimentConfigError, load_experiments
    from memory_service.memory.policies import load_policies

    if not settings.experiments_path.exists():
        return None
    try:
        return load_experiments(settings.experiments_path, load_policies(settings.memory_policies_path))
    except ExperimentConfigError as exc:
        raise click.ClickException(str(exc)) from exc
