"""`memory-service bench`: the runner's contract (the benchmarks themselves run outside the suite)."""

from click.testing import CliRunner

from memory_service.cli import main
from memory_service.cli.bench import load_runner


def test_unknown_benchmark_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["bench", "--quick", "--json", "--only", "retrieval,nope"])
    assert result.exit_code == 1
    assert "unknown benchmark(s) ['nope']" in result.output and "retrieval" in result.output


def test_every_benchmark_script_exists_and_the_quick_run_covers_the_issue() -> None:
    runner = load_runner()
    assert all((runner.HERE / b.script).is_file() for b in runner.SUITE)
    quick = {b.name for b in runner.SUITE if b.quick is not None}
    assert {"retrieval", "router", "analytics_1m", "service_memory"} <= quick
    assert {b.name for b in runner.SUITE} - quick == {"analytics_10m", "encoder", "emotional_recall", "load"}  # full only


def test_a_module_result_is_its_last_json_document() -> None:
    runner = load_runner()
    assert runner.last_json('{"a": 1}') == {"a": 1}
    mixed = 'loading...\n{"after_load_mb": 12}\n{\n  "figure": 2.5,\n  "baseline": 5.0\n}\n'
    assert runner.last_json(mixed) == {"figure": 2.5, "baseline": 5.0}
