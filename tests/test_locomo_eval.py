"""`memory-service eval locomo` on a small LoCoMo-format file with known answers."""

import json

import pytest
from click.testing import CliRunner

from memory_service.cli import main
from memory_service.evaluation.locomo import load

CONVERSATION = {
    "speaker_a": "Ana",
    "speaker_b": "Ben",
    "session_1_date_time": "1:56 pm on 8 May, 2023",
    "session_1": [
        {"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a three-legged cat called Pirate last week."},
        {"speaker": "Ben", "dia_id": "D1:2", "text": "That's lovely! I've been learning to play the cello."},
        {"speaker": "Ana", "dia_id": "D1:3", "text": "Look at this!", "blip_caption": "a photo of a sailboat on a lake"},
    ],
    "session_2_date_time": "10:00 am on 20 June, 2023",
    "session_2": [
        {"speaker": "Ben", "dia_id": "D2:1", "text": "My cello teacher moved to Vienna, so I need a new one."},
        {"speaker": "Ana", "dia_id": "D2:2", "text": "Pirate knocked over my coffee this morning."},
    ],
    "session_3_date_time": "9:00 am on 1 July, 2023",
    "qa": [
        {"question": "What is the name of Ana's cat?", "answer": "Pirate", "evidence": ["D1:1"], "category": 4},
        {"question": "Where did Ben's cello teacher move?", "answer": "Vienna", "evidence": ["D2:1"], "category": 4},
        {"question": "What instrument does Ben play?", "answer": "cello", "evidence": ["D1:2", "D2:1"], "category": 1},
        {"question": "What did Ana share a photo of?", "answer": "a sailboat", "evidence": ["D1:3"], "category": 3},
        {"question": "Is Ana a pilot?", "answer": "unknown", "evidence": [], "category": 5},
    ],
}


@pytest.fixture
def conversation(tmp_path):
    path = tmp_path / "conv-test.json"
    path.write_text(json.dumps(CONVERSATION))
    return path


def test_loader_keeps_captions_dates_and_answerable_questions(conversation) -> None:
    turns, questions = load(conversation)
    assert [t.dia_id for t in turns] == ["D1:1", "D1:2", "D1:3", "D2:1", "D2:2"]
    assert "sailboat" in turns[2].text and turns[3].at.month == 6
    assert [q.category for q in questions] == ["4", "4", "1", "3"]  # category 5 has no evidence


def test_eval_prints_the_documented_json(runtime, conversation, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", runtime.db.url)
    result = CliRunner().invoke(
        main, ["eval", "locomo", "--data", str(conversation), "--k", "1,3", "--policy", "hybrid", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["questions"] == 4
    assert report["recall@3"] == 1.0 and report["recall@1"] >= 0.5
    assert set(report["by_category"]) == {"1", "3", "4"}
    assert report["by_category"]["4"]["recall@1"] == 1.0
    assert report["p50_ms"] > 0 and report["p95_ms"] >= report["p50_ms"]


def test_eval_errors_are_clear(tmp_path, runtime, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", runtime.db.url)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    runner = CliRunner()
    missing = runner.invoke(main, ["eval", "locomo", "--data", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    assert "not a LoCoMo" in runner.invoke(main, ["eval", "locomo", "--data", str(bad)]).output
    assert "unknown memory policy" in runner.invoke(main, ["eval", "locomo", "--data", str(bad), "--policy", "x"]).output
    assert "--k" in runner.invoke(main, ["eval", "locomo", "--data", str(bad), "--k", "a,b"]).output
