"""memory-service experiments: assign a user, list experiments with arm counts, check SRM."""

import uuid

import click

from memory_service.config import Settings
from memory_service.db.database import Database
from memory_service.errors import NotFound
from memory_service.experiments.assignment import assign as assign_arm
from memory_service.experiments.config import Experiment, ExperimentConfigError, ExperimentsConfig, load_experiments
from memory_service.experiments.srm import SRM_ALPHA, SrmResult, experiment_srm
from memory_service.memory.policies import PolicyConfig, PolicyConfigError, load_policies


def _configs(settings: Settings) -> tuple[ExperimentsConfig, PolicyConfig]:
    try:
        policies = load_policies(settings.memory_policies_path)
        return load_experiments(settings.experiments_path, policies), policies
    except (ExperimentConfigError, PolicyConfigError) as exc:
        raise click.ClickException(str(exc)) from exc


def _experiment(config: ExperimentsConfig, key: str) -> Experiment:
    try:
        return config.get(key)
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from exc


def _srm_line(srm: SrmResult) -> str:
    if srm.p_value is None:
        return "SRM: no users assigned yet"
    verdict = "MISMATCH" if srm.flagged else "ok"
    chi2 = "n/a" if srm.chi2 is None else f"{srm.chi2:.3f}"
    return f"SRM: chi2={chi2} p={srm.p_value:.4g} ({verdict} at p < {SRM_ALPHA:g})"


@click.group()
def experiments() -> None:
    """A/B experiments over memory policies."""


@experiments.command("assign")
@click.option("--experiment", "key", required=True, help="Experiment key.")
@click.option("--user", "user_id", required=True, type=click.UUID, help="User id.")
@click.pass_obj
def assign(settings: Settings, key: str, user_id: uuid.UUID) -> None:
    """Assign a user now (sticky, logs the exposure once) and print the arm."""
    from memory_service.users import get_user

    config, policies = _configs(settings)
    experiment = _experiment(config, key)
    if not experiment.is_running():
        raise click.ClickException(f"experiment {key!r} is not running (inactive, or outside start/end)")
    with Database.from_settings(settings) as db, db.transaction() as session:
        try:
            get_user(session, user_id)
        except NotFound as exc:
            raise click.ClickException(str(exc)) from exc
        choice = assign_arm(session, experiment, policies, user_id)
    if choice is None:
        click.echo(f"user {user_id}: outside the coverage of {key!r}; default policy {policies.default!r}")
        return
    click.echo(
        f"user {user_id}: experiment {key!r} phase {choice.phase!r} arm {choice.arm!r}"
        f" policy {choice.policy_name!r}{' (stored earlier)' if choice.sticky else ''}"
    )


@experiments.command("list")
@click.pass_obj
def list_experiments(settings: Settings) -> None:
    """Configured experiments with their arms and assigned users."""
    config, _ = _configs(settings)
    if not config.experiments:
        click.echo(f"no experiments in {settings.experiments_path}")
        return
    with Database.from_settings(settings) as db, db.transaction() as session:
        for experiment in config.experiments:
            srm = experiment_srm(session, experiment)
            state = "running" if experiment.is_running() else "not running"
            click.echo(
                f"{experiment.key} [{state}] phase={experiment.phase} seed={experiment.hash_seed}"
                f" hash_version={experiment.hash_version} coverage={experiment.coverage:g}"
                f" users={sum(srm.counts.values())}"
            )
            for arm in experiment.arms:
                click.echo(
                    f"  {arm.key:<16} weight={arm.weight:<6g} policy={arm.memory_policy:<12}"
                    f" users={srm.counts.get(arm.key, 0)}"
                )
            click.echo(f"  {_srm_line(srm)}")


@experiments.command("srm")
@click.option("--experiment", "key", required=True, help="Experiment key.")
@click.pass_context
def srm(ctx: click.Context, key: str) -> None:
    """Sample-ratio mismatch check of the current phase; exits 1 on a mismatch."""
    settings: Settings = ctx.obj
    config, _ = _configs(settings)
    experiment = _experiment(config, key)
    with Database.from_settings(settings) as db, db.transaction() as session:
        result = experiment_srm(session, experiment)
    for arm in experiment.arms:
        click.echo(
            f"{arm.key:<16} observed={result.counts.get(arm.key, 0):<8} expected={result.expected.get(arm.key, 0):.1f}"
        )
    for arm_key in sorted(set(result.counts) - {a.key for a in experiment.arms}):
        click.echo(f"{arm_key:<16} observed={result.counts[arm_key]:<8} expected=0 (arm not in the config)")
    click.echo(_srm_line(result))
    if result.flagged:
        ctx.exit(1)
