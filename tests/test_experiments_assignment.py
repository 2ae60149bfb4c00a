"""Sticky assignment, coverage, exposure events, the chat turn, API and CLI, on the real database."""

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from memory_service.api.app import create_app
from memory_service.chat import chat_turn
from memory_service.cli import main
from memory_service.config import REPO_ROOT
from memory_service.db.models import Event, ExperimentAssignment
from memory_service.experiments import load_experiments, memory_policy_for
from memory_service.experiments.assignment import (
    EXPOSURE_EVENT, PolicyChoice, assign, assign_many, hash_arm, record_exposure,
)
from memory_service.memory.policies import load_policies
from memory_service.users import create_user

POLICIES = load_policies(REPO_ROOT / "config" / "memory_policies.yaml")
ARMS = ("none", "recent", "semantic", "emotional")


def _yaml(key: str, *, weights=(0.25, 0.25, 0.25, 0.25), coverage=1.0, phase="0", seed=None, extra="") -> str:
    arms = "\n".join(
        f"      - {{key: {name}, weight: {w}, memory_policy: {name}}}" for name, w in zip(ARMS, weights, strict=True)
    )
    seed_line = f"    seed: {seed}\n" if seed else ""
    return (
        f"experiments:\n  - key: {key}\n    phase: '{phase}'\n    coverage: {coverage}\n{seed_line}{extra}"
        f"    arms:\n{arms}\n"
    )


def _config(tmp_path: Path, text: str):
    """Write and load through the real loader: each call is a config reload."""
    path = tmp_path / f"experiments-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(text)
    return load_experiments(path, POLICIES)


def _users(runtime, n: int, app_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    with runtime.db.transaction() as session:
        return [create_user(session, app_id=app_id).id for _ in range(n)]


def _serve(runtime, config, users) -> dict[uuid.UUID, PolicyChoice]:
    with runtime.db.transaction() as session:
        return {u: memory_policy_for(session, config, POLICIES, u) for u in users}


def _exposures(runtime, key: str) -> list[Event]:
    with runtime.db.transaction() as session:
        return list(
            session.scalars(
                select(Event).where(Event.name == EXPOSURE_EVENT, Event.properties["experiment"].astext == key)
            ).all()
        )


def _key() -> str:
    return f"exp-{uuid.uuid4().hex[:8]}"


def test_arms_stick_across_a_config_reload(runtime, tmp_path: Path) -> None:
    key = _key()
    first = _config(tmp_path, _yaml(key))
    early = _users(runtime, 200)
    before = _serve(runtime, first, early)
    # Stored arms are GrowthBook's arms for these ids.
    assert all(before[u].arm == hash_arm(first.experiments[0], str(u)).key for u in early)
    assert len(_exposures(runtime, key)) == 200

    # Reload with very different weights, same phase and seed: nobody moves, nobody is re-exposed.
    reweighted = _config(tmp_path, _yaml(key, weights=(0.7, 0.1, 0.1, 0.1)))
    after = _serve(runtime, reweighted, early)
    assert all(after[u].arm == before[u].arm and after[u].sticky for u in early)
    assert all(after[u].policy_name == before[u].policy_name for u in early)
    assert len(_exposures(runtime, key)) == 200
    # New users follow the new weights.
    late = _serve(runtime, reweighted, _users(runtime, 200))
    assert Counter(c.arm for c in late.values())["none"] > 110  # expected 140 of 200

    # A new phase starts fresh assignments and exposures, re-randomized even with the same seed.
    same_seed = _serve(runtime, _config(tmp_path, _yaml(key, phase="1", seed=key)), early)
    assert all(not c.sticky and c.phase == "1" for c in same_seed.values())
    assert sum(same_seed[u].arm != before[u].arm for u in early) > 100  # ~150 expected (3/4 of 200)
    rephased = _serve(runtime, _config(tmp_path, _yaml(key, phase="2", seed="phase-2-seed")), early)
    assert all(not c.sticky and c.phase == "2" for c in rephased.values())
    assert sum(rephased[u].arm != before[u].arm for u in early) > 100  # ~150 expected (3/4 of 200)
    assert Counter(e.properties["phase"] for e in _exposures(runtime, key)) == {"0": 400, "1": 200, "2": 200}

    # So does a new seed within the same phase.
    reseeded = _serve(runtime, _config(tmp_path, _yaml(key, seed="fresh-seed")), early)
    assert sum(reseeded[u].arm != before[u].arm for u in early) > 100
    assert {c.seed for c in reseeded.values()} == {"fresh-seed"}


def test_users_outside_coverage_get_the_default_and_are_not_exposed(runtime, tmp_path: Path) -> None:
    key = _key()
    config = _config(tmp_path, _yaml(key, coverage=0.3))
    users = _users(runtime, 200)
    choices = _serve(runtime, config, users)
    outside = [u for u in users if not choices[u].in_experiment]
    inside = [u for u in users if choices[u].in_experiment]
    assert 110 < len(outside) < 170  # expected 140
    assert all(choices[u].policy_name == POLICIES.default and choices[u].arm is None for u in outside)
    with runtime.db.transaction() as session:
        stored = set(session.scalars(
            select(ExperimentAssignment.user_id).where(ExperimentAssignment.experiment_key == key)
        ).all())
    assert stored == set(inside)
    assert {e.user_id for e in _exposures(runtime, key)} == set(inside)

    # Lowering coverage later keeps everyone already in; raising it adds new users only.
    assert all(c.arm == choices[u].arm for u, c in _serve(runtime, _config(tmp_path, _yaml(key, coverage=0.0)),
                                                          inside).items())
    widened = _serve(runtime, _config(tmp_path, _yaml(key, coverage=1.0)), users)
    assert all(c.in_experiment for c in widened.values())
    assert all(widened[u].arm == choices[u].arm for u in inside)


def test_exposure_is_logged_once_per_phase(runtime, tmp_path: Path) -> None:
    key = _key()
    config = _config(tmp_path, _yaml(key))
    [user] = _users(runtime, 1)
    for _ in range(3):
        _serve(runtime, config, [user])
    with runtime.db.transaction() as session:
        assert assign(session, config.experiments[0], POLICIES, user).sticky
    [event] = _exposures(runtime, key)
    choice = _serve(runtime, config, [user])[user]
    assert event.user_id == user
    assert event.properties == {
        "experiment": key, "phase": "0", "seed": key, "arm": choice.arm, "policy": choice.policy_name,
    }


def test_bulk_assignment_chooses_as_one_by_one_and_dates_exposures(runtime, tmp_path: Path) -> None:
    key = _key()
    experiment = _config(tmp_path, _yaml(key, coverage=0.7)).experiments[0]
    users = _users(runtime, 40)
    early = users[:5]
    with runtime.db.transaction() as session:  # some users were exposed before, one by one
        singles = {u: assign(session, experiment, POLICIES, u) for u in early}
    at = [datetime(2027, 1, 1, tzinfo=UTC) + timedelta(hours=i) for i in range(len(users))]
    with runtime.db.transaction() as session:
        bulk = assign_many(session, experiment, POLICIES, users, at)
    for user, choice in zip(users, bulk, strict=True):
        expected = hash_arm(experiment, str(user))
        assert (choice.arm if choice else None) == (expected.key if expected else None)
        assert choice is None or choice.sticky == (user in early)
        if user in early and choice is not None:
            assert choice.arm == singles[user].arm
    exposed = {e.user_id: e for e in _exposures(runtime, key)}
    assert set(exposed) == {u for u, c in zip(users, bulk, strict=True) if c is not None}
    for user, when in zip(users[5:], at[5:], strict=True):
        if user in exposed:  # new in bulk: dated as asked, with the one-by-one properties
            assert exposed[user].occurred_at == when
            assert exposed[user].properties["arm"] == hash_arm(experiment, str(user)).key
    with runtime.db.transaction() as session:  # again: all sticky, nothing added
        again = assign_many(session, experiment, POLICIES, users, at)
    assert [c.arm if c else None for c in again] == [c.arm if c else None for c in bulk]
    assert all(c.sticky for c in again if c is not None)
    assert len(_exposures(runtime, key)) == len(exposed)


def test_experiments_outside_their_window_are_not_served(runtime, tmp_path: Path) -> None:
    [user] = _users(runtime, 1)
    for extra in ("    active: false\n", "    start: 2999-01-01T00:00:00Z\n", "    end: 2001-01-01T00:00:00Z\n"):
        key = _key()
        choice = _serve(runtime, _config(tmp_path, _yaml(key, extra=extra)), [user])[user]
        assert choice.experiment_key is None and choice.policy_name == POLICIES.default
        assert _exposures(runtime, key) == []


def test_a_changed_arm_keeps_the_stored_policy(runtime, tmp_path: Path) -> None:
    key = _key()
    [user] = _users(runtime, 1)
    arm = _serve(runtime, _config(tmp_path, _yaml(key)), [user])[user].arm
    edited = _yaml(key).replace(f"{{key: {arm}, weight: 0.25, memory_policy: {arm}}}",
                                f"{{key: {arm}, weight: 0.25, memory_policy: semantic}}")
    choice = _serve(runtime, _config(tmp_path, edited), [user])[user]
    assert choice.arm == arm and choice.policy_name == arm  # the policy the user was assigned


def test_chat_turn_records_arm_and_policy(runtime, tmp_path: Path) -> None:
    key = _key()
    config = _config(tmp_path, _yaml(key, weights=(0.0, 0.0, 1.0, 0.0)))  # everyone gets "semantic"
    experimenting = dataclasses.replace(runtime, experiments=config)
    [user] = _users(runtime, 1)
    first = chat_turn(experimenting, user, "I adopted a cat called Miso last week.")
    chat_turn(experimenting, user, "What is my cat called?", first.conversation_id)
    assert first.policy == "semantic"
    with runtime.db.transaction() as session:
        sent = session.scalars(select(Event).where(Event.user_id == user, Event.name == "message_sent")).all()
    assert len(sent) == 2
    assert all(e.properties | {"experiment": key, "arm": "semantic", "policy": "semantic"} == e.properties
               for e in sent)
    assert len(_exposures(runtime, key)) == 1

    # With no running experiment (the shipped config), the default policy serves and is recorded.
    [other] = _users(runtime, 1)
    turn = chat_turn(runtime, other, "Hello there.")
    assert turn.policy == POLICIES.default
    with runtime.db.transaction() as session:
        event = session.scalars(select(Event).where(Event.user_id == other, Event.name == "message_sent")).one()
    assert event.properties["experiment"] is None and event.properties["policy"] == POLICIES.default


def _skew(runtime, key: str, counts: dict[str, int]) -> None:
    """Build an assignment history through the store function, with chosen arm counts."""
    with runtime.db.transaction() as session:
        for arm, n in counts.items():
            for _ in range(n):
                user = create_user(session).id
                choice = PolicyChoice(policy_name=arm, policy=POLICIES.get(arm), experiment_key=key, arm=arm,
                                      phase="0", seed=key)
                record_exposure(session, user, choice)


def test_api_user_experiments_and_admin_srm(runtime, tmp_path: Path, app_id, auth_headers, admin_headers) -> None:
    fair_key, skewed_key = _key(), _key()
    config = _config(tmp_path, _yaml(fair_key) + _yaml(skewed_key).removeprefix("experiments:\n"))
    users = _users(runtime, 40, app_id)
    _serve(runtime, config, users)
    _skew(runtime, skewed_key, {"none": 90, "recent": 10, "semantic": 10, "emotional": 10})
    with TestClient(create_app(dataclasses.replace(runtime, experiments=config)), headers=auth_headers) as client:
        mine = client.get(f"/v1/users/{users[0]}/experiments")
        assert mine.status_code == 200
        [row] = mine.json()
        assert row["experiment_key"] == fair_key and row["phase"] == "0" and row["arm"] in ARMS
        assert row["memory_policy"] == row["arm"] and row["seed"] == fair_key
        assert client.get(f"/v1/users/{uuid.uuid4()}/experiments").status_code == 404
        assert client.get("/v1/users/not-a-uuid/experiments").status_code == 422

        assert client.get("/v1/admin/experiments").status_code == 401  # an app key is not the admin key
        listing = {e["key"]: e for e in client.get("/v1/admin/experiments", headers=admin_headers).json()}
    fair, skewed = listing[fair_key], listing[skewed_key]
    assert fair["users"] == 40 and sum(a["users"] for a in fair["arms"]) == 40
    assert not fair["srm"]["flagged"] and fair["srm"]["alpha"] == 0.001
    assert skewed["users"] == 120 and {a["key"]: a["users"] for a in skewed["arms"]}["none"] == 90
    assert skewed["srm"]["flagged"] and skewed["srm"]["p_value"] < 0.001
    assert skewed["running"] and skewed["coverage"] == 1.0


@pytest.fixture
def cli(runtime, tmp_path: Path):
    """Run the real command against the test database and a given experiments file."""
    runner = CliRunner()

    def invoke(config_text: str, *args: str):
        path = tmp_path / "cli-experiments.yaml"
        path.write_text(config_text)
        env = {"DATABASE_URL": runtime.db.url, "MEMORY_SERVICE_EXPERIMENTS_PATH": str(path)}
        return runner.invoke(main, ["experiments", *args], env=env)

    return invoke


def test_cli_assign_list_and_srm(cli, runtime) -> None:
    key = _key()
    text = _yaml(key)
    [user] = _users(runtime, 1)
    first = cli(text, "assign", "--experiment", key, "--user", str(user))
    assert first.exit_code == 0, first.output
    assert f"experiment '{key}' phase '0' arm '" in first.output and "stored earlier" not in first.output
    again = cli(text, "assign", "--experiment", key, "--user", str(user))
    assert again.output == first.output.rstrip("\n") + " (stored earlier)\n"
    assert len(_exposures(runtime, key)) == 1

    missing_user = cli(text, "assign", "--experiment", key, "--user", str(uuid.uuid4()))
    assert missing_user.exit_code == 1 and "not found" in missing_user.output
    unknown = cli(text, "assign", "--experiment", "nope", "--user", str(user))
    assert unknown.exit_code == 1 and f"unknown experiment 'nope'; known: ['{key}']" in unknown.output
    bad = cli(_yaml(key, coverage=-1), "list")
    assert bad.exit_code == 1 and f"experiment '{key}' field coverage" in bad.output

    listed = cli(text, "list")
    assert listed.exit_code == 0, listed.output
    assert f"{key} [running] phase=0" in listed.output and "users=1" in listed.output
    assert "SRM:" in listed.output

    fair = cli(text, "srm", "--experiment", key)
    assert fair.exit_code == 0 and "ok at p < 0.001" in fair.output

    skewed_key = _key()
    _skew(runtime, skewed_key, {"none": 60, "recent": 5, "semantic": 5, "emotional": 5})
    skewed = cli(_yaml(skewed_key), "srm", "--experiment", skewed_key)
    assert skewed.exit_code == 1 and "MISMATCH" in skewed.output
    assert "none             observed=60" in skewed.output and "expected=18.8" in skewed.output
