"""The retention notebook runs headless on a simulated database, and its numbers are the CLI's."""

import json

import nbformat
from click.testing import CliRunner
from nbclient import NotebookClient
from sqlalchemy.orm import Session

from memory_service.cli import main
from memory_service.config import REPO_ROOT, Settings
from memory_service.experiments.config import parse_experiments
from memory_service.memory.policies import load_policies
from memory_service.simulation import SimulationSpec, experiment_assigner, load_texts, simulate
from tests.analytics_support import migrated_database
from tests.test_simulation import EXPERIMENT

NOTEBOOK = REPO_ROOT / "notebooks" / "retention_analytics.ipynb"


def _cli_json(url: str, *args: str) -> dict:
    out = CliRunner().invoke(main, ["analytics", *args, "--format", "json"], env={"DATABASE_URL": url})
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def test_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


def test_notebook_figures_agree_with_the_cli(runtime, monkeypatch) -> None:
    policies = load_policies(Settings().memory_policies_path)
    experiment = parse_experiments(EXPERIMENT, policies).get("sim")
    with migrated_database(runtime.db.url) as (url, engine):
        with Session(engine) as session, session.begin():
            simulate(session, SimulationSpec(users=300, days=16, seed=3, effect=0.4),
                     experiment_assigner(experiment, policies), load_texts(None),
                     encoder=runtime.embedder, policies=policies)
        nb = nbformat.read(NOTEBOOK, as_version=4)
        params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        params.source += '\nEXPERIMENT = "sim"\nCONTROL = "none"\nMAX_DAY = 8\n'
        monkeypatch.setenv("DATABASE_URL", url)
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(REPO_ROOT)}}).execute()

        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"]
        assert sum("image/png" in o.get("data", {}) for o in outputs) == 4
        printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        assert "emotional:" in printed and "vs control none" in printed
        figures = json.loads(nb.cells[-1].outputs[-1]["text"])

        assert figures["cohorts"] == _cli_json(url, "retention", "--day", "7")
        assert figures["arms"] == _cli_json(url, "retention", "--day", "7", "--by", "arm", "--experiment", "sim",
                                            "--control", "none")
        assert figures["recall_effect"] == _cli_json(url, "recall-effect", "--day", "7")
