"""`memory-service simulate`: users with a known effect of congruent recall, for checking analytics."""

import time
from pathlib import Path

import click

from memory_service.config import REPO_ROOT, Settings


@click.command()
@click.option("--users", type=int, required=True, help="How many users sign up.")
@click.option("--days", type=int, required=True, help="Length of the simulated period (signups spread over it).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--experiment", "experiment_key", default="memory-policy-v1", show_default=True,
              help="Experiment (from the experiments config) whose assignment picks each user's arm.")
@click.option("--effect", type=float, default=0.30, show_default=True,
              help="True effect: added daily return chance when every recall is emotionally congruent.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False),
              default=REPO_ROOT.parent / "shared" / "data", show_default=True,
              help="Shared data folder; GoEmotions Ekman dev texts become the messages when present.")
@click.pass_obj
def simulate(settings: Settings, users: int, days: int, seed: int, experiment_key: str, effect: float,
             data_dir: Path) -> None:
    """Simulate USERS over DAYS through experiment assignment, the memory store and the event log (no LLM)."""
    from pydantic import ValidationError

    from memory_service.db.database import Database
    from memory_service.experiments.config import ExperimentConfigError, load_experiments
    from memory_service.memory.policies import PolicyConfigError, load_policies
    from memory_service.simulation import SimulationSpec, experiment_assigner, load_texts
    from memory_service.simulation import simulate as run

    try:
        spec = SimulationSpec(users=users, days=days, seed=seed, effect=effect)
    except ValidationError as exc:
        raise click.ClickException("; ".join(f"--{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from exc
    try:
        policies = load_policies(settings.memory_policies_path)
        experiment = load_experiments(settings.experiments_path, policies).get(experiment_key)
    except (ExperimentConfigError, PolicyConfigError, KeyError) as exc:
        raise click.ClickException(str(exc).strip('"')) from exc
    from memory_service.runtime import build_encoder

    started = time.perf_counter()
    encoder = build_encoder(settings)
    with Database.from_settings(settings) as db, db.transaction() as session:
        result = run(session, spec, experiment_assigner(experiment, policies), load_texts(data_dir),
                     encoder=encoder, policies=policies)
    arms = ", ".join(f"{arm} {n}" for arm, n in sorted(result.arms.items()))
    click.echo(f"simulated {result.users} users ({arms}), {result.memories} memories, {result.recalls} recalls, "
               f"{result.events} events in {time.perf_counter() - started:.1f} s")
