"""Emotion tags from the shared MiniLM pass: real texts, bad input, fp32/int8, the CLI, and chat turns."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from memory_service.cli import main
from memory_service.config import REPO_ROOT
from memory_service.encoder.encoder import Encoder
from memory_service.encoder.labels import EKMAN, FINE, GROUP, fine_to
from memory_service.encoder.tagging import tags_from_scores
from memory_service.encoder.vad import NRC_VAD

SHARED = REPO_ROOT.parent / "shared" / "data" / "goemotions"
EKMAN_LABELS = {*EKMAN, "neutral"}


@pytest.fixture(scope="session")
def encoder(runtime) -> Encoder:
    """The service's own encoder (int8 by default), loaded once with the session runtime."""
    return runtime.embedder


@pytest.fixture(scope="module")
def fp32_encoder(settings) -> Encoder:
    return Encoder(settings.embedding_model_path, settings.emotion_weights_path, quantize=False)


def _valid(tags, embedding) -> None:
    assert tags.emotions and set(tags.emotions) <= set(FINE)
    assert all(0.0 <= s <= 1.0 for s in tags.emotions.values())
    assert tags.ekman_label in EKMAN_LABELS
    assert -1.0 <= tags.valence <= 1.0 and 0.0 <= tags.arousal <= 1.0 and 0.0 <= tags.intensity <= 1.0
    assert len(embedding) == 384 and math.isclose(float(np.linalg.norm(embedding)), 1.0, abs_tol=1e-4)


def test_happy_thanks_is_joy_and_gratitude(encoder) -> None:
    tags = encoder.encode_one("I'm so happy, thank you!").tags
    assert {"joy", "gratitude"} & set(tags.emotions), tags
    assert tags.ekman_label == "joy"
    assert tags.valence > 0.3 and tags.intensity > 0.3


@pytest.mark.parametrize(
    ("text", "expected", "ekman"),
    [
        ("This is the worst service ever, I am furious.", {"anger", "annoyance", "disapproval"}, "anger"),
        ("My grandmother passed away last night and I miss her so much.", {"sadness", "grief"}, "sadness"),
        ("I'm really scared about the surgery tomorrow.", {"fear", "nervousness"}, "fear"),
    ],
)
def test_negative_texts(encoder, text, expected, ekman) -> None:
    tags = encoder.encode_one(text).tags
    assert expected & set(tags.emotions), tags
    assert tags.ekman_label == ekman
    assert tags.valence < 0


def test_plain_statement_is_neutral(encoder) -> None:
    tags = encoder.encode_one("The meeting is at 3pm in room 204.").tags
    assert "neutral" in tags.emotions and tags.ekman_label == "neutral"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "😀😂🎉🔥",
        "so tired " * 3000,  # far past the 256-token limit: truncated, not an error
        "Je suis très heureux aujourd'hui, merci beaucoup !",
        "今日はとても悲しいです。",
        "a\ud800b",  # lone surrogate
        "\x00\u202e\u200b\ufeff",
        "e\u0301" * 200,
    ],
)
def test_bad_input_still_gets_tags(encoder, text) -> None:
    encoded = encoder.encode_one(text)
    _valid(encoded.tags, encoded.embedding)


@pytest.mark.parametrize("path", ["int8", "fp32"])
def test_batch_equals_single(encoder, fp32_encoder, path) -> None:
    """Padding never leaks into a text's result. int8 quantizes each token on its own, so only float
    rounding differs between batch shapes (a rounding flip moves an int8 step: hence the looser bound)."""
    enc = encoder if path == "int8" else fp32_encoder
    texts = ["short", "a much longer message about my day at the beach with friends", ""]
    batch = enc.encode(texts)
    for text, item in zip(texts, batch, strict=True):
        single = enc.encode_one(text)
        assert np.dot(item.embedding, single.embedding) > (0.995 if path == "int8" else 0.9999)
        assert item.tags.ekman_label == single.tags.ekman_label


def test_fp32_embedding_equals_sentence_transformers(fp32_encoder, settings) -> None:
    """The fp32 path reproduces sentence-transformers' vectors exactly."""
    from memory_service.encoder.embeddings import Embedder

    assert not fp32_encoder.quantized
    texts = ["My dog Biscuit turned five today.", "", "x " * 400, "Où est la gare ?"]
    reference = np.array(Embedder(settings.embedding_model_path).embed(texts))
    ours = np.array(fp32_encoder.embed(texts))
    assert np.all(np.sum(reference * ours, axis=1) > 0.99999)


# Short texts are the hardest for int8 ([CLS]/[SEP] weigh most in their mean pool): these include the
# dev texts with the lowest int8 cosine.
COSINE_TEXTS = [
    "Thank you!!!!!",
    "What do you mean?",
    "Ok cool, thanks",
    "I'm so happy, thank you!",
    "My sister Maya is moving to Lisbon next month and I will miss her.",
    "What time does the pharmacy close on Sundays?",
    "ugh this game is rigged lmao",
]


def test_int8_embeddings_stay_within_0_99_cosine_of_fp32(encoder, fp32_encoder) -> None:
    assert encoder.quantized
    cosines = np.sum(np.array(encoder.embed(COSINE_TEXTS)) * np.array(fp32_encoder.embed(COSINE_TEXTS)), axis=1)
    assert np.all(cosines >= 0.99), cosines
    encoded = encoder.encode_one("I'm so happy, thank you!")
    _valid(encoded.tags, encoded.embedding)
    assert encoded.tags.ekman_label == "joy"


def test_plain_dynamic_quantization_misses_the_bar(settings, fp32_encoder) -> None:
    """Why encoder/int8.py exists: torch's quantize_dynamic (per-tensor, 7-bit activations) drifts
    below 0.99 on these same texts, so the check above tells the two apart."""
    import warnings

    import torch

    from memory_service.encoder.minilm import MiniLM, mean_pool

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = torch.ao.quantization.quantize_dynamic(
            MiniLM.load(settings.embedding_model_path), {torch.nn.Linear}, dtype=torch.qint8
        )
    b = fp32_encoder.tokenizer(COSINE_TEXTS)
    with torch.inference_mode():
        last, _ = plain(b.input_ids, b.mask, 6)
        vectors = torch.nn.functional.normalize(mean_pool(last, b.mask), dim=-1).numpy()
    cosines = np.sum(vectors * np.array(fp32_encoder.embed(COSINE_TEXTS)), axis=1)
    assert cosines.min() < 0.99, cosines


def test_int8_calibration_is_checked(tmp_path, settings) -> None:
    """A weights file without its calibration, or with another file's, fails with the fix in the message."""
    import shutil

    from memory_service.encoder.int8 import calibration_path

    weights = tmp_path / "head.safetensors"
    shutil.copy(settings.emotion_weights_path, weights)
    with pytest.raises(FileNotFoundError, match="train int8"):
        Encoder(settings.embedding_model_path, weights)
    assert Encoder(settings.embedding_model_path, weights, quantize=False).name == "all-MiniLM-L6-v2"
    shutil.copy(calibration_path(settings.emotion_weights_path), calibration_path(weights))
    assert Encoder(settings.embedding_model_path, weights).quantized
    data = weights.read_bytes()
    weights.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # the same file with one byte changed
    with pytest.raises(ValueError, match="other emotion weights"):
        Encoder(settings.embedding_model_path, weights)


def test_tags_from_scores_formula() -> None:
    scores = np.full(len(FINE), 0.01, dtype=np.float32)
    scores[FINE.index("joy")] = 0.8
    scores[FINE.index("gratitude")] = 0.6
    tags = tags_from_scores(scores, FINE, np.full(len(FINE), 0.5, dtype=np.float32))
    assert tags.emotions == {"joy": 0.8, "gratitude": 0.6}
    assert tags.ekman_label == "joy" and tags.intensity == pytest.approx(0.8)
    v = (0.8 * NRC_VAD["joy"][0] + 0.6 * NRC_VAD["gratitude"][0]) / 1.4
    a = (0.8 * NRC_VAD["joy"][1] + 0.6 * NRC_VAD["gratitude"][1]) / 1.4
    assert tags.valence == pytest.approx(2 * v - 1, abs=1e-4) and tags.arousal == pytest.approx(a, abs=1e-4)

    only_neutral = np.full(len(FINE), 0.01, dtype=np.float32)
    only_neutral[FINE.index("neutral")] = 0.3  # under its threshold: kept as the best label anyway
    tags = tags_from_scores(only_neutral, FINE, np.full(len(FINE), 0.5, dtype=np.float32))
    assert tags.emotions == {"neutral": 0.3} and tags.ekman_label == "neutral" and tags.intensity == 0.0


def test_mappings_cover_every_fine_label() -> None:
    for taxonomy, groups in (("ekman", EKMAN), ("group", GROUP)):
        mapping = fine_to(taxonomy)
        assert set(mapping) == set(FINE)
        assert sorted(m for members in groups.values() for m in members) == sorted(set(FINE) - {"neutral"})
    assert set(NRC_VAD) == set(FINE)


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data/goemotions")
def test_mappings_match_the_data_files() -> None:
    from memory_service.encoder.goemotions import read_labels, read_split

    assert read_labels(SHARED / "original" / "labels.txt") == FINE
    published = json.loads((SHARED / "ekman_mapping.json").read_text())
    assert {k: sorted(v) for k, v in published.items()} == {k: sorted(v) for k, v in EKMAN.items()}
    original = read_split(SHARED, "original", "dev")
    for taxonomy in ("ekman", "group"):
        coarse, mapping = read_split(SHARED, taxonomy, "dev"), fine_to(taxonomy)
        for fine_idx, coarse_idx in zip(original.targets, coarse.targets, strict=True):
            assert {mapping[FINE[i]] for i in fine_idx} == {coarse.labels[i] for i in coarse_idx}


ROWS = [
    ("I'm so happy, thank you!", ["gratitude", "joy"]),
    ("This is the worst, I hate it.", ["anger"]),
    ("The bus leaves at noon.", ["neutral"]),
    ("My cat died yesterday.", ["sadness", "grief"]),
    ("Wow, I did not expect that!", ["surprise"]),
    ("I'm terrified of spiders.", ["fear"]),
]


def _write_goemotions(root: Path, rows: list[tuple[str, list[str]]], splits=("dev",)) -> Path:
    """A small data folder in GoEmotions' layout, all three taxonomies."""
    for taxonomy in ("original", "ekman", "group"):
        mapping = fine_to(taxonomy)
        labels = FINE if taxonomy == "original" else tuple(sorted({*mapping.values()}))
        folder = root / taxonomy
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "labels.txt").write_text("\n".join(labels))
        for split in splits:
            lines = []
            for n, (text, fine) in enumerate(rows):
                idx = sorted({labels.index(mapping[f]) for f in fine})
                lines.append(f"{text}\t{','.join(map(str, idx))}\tid{n}")
            (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.parametrize("taxonomy", ["original", "ekman", "group"])
def test_eval_cli_prints_the_json_shape(tmp_path, taxonomy) -> None:
    data = _write_goemotions(tmp_path / "ge", ROWS)
    result = CliRunner().invoke(
        main, ["eval", "emotions", "--data", str(data), "--split", "dev", "--taxonomy", taxonomy, "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert list(body) == ["taxonomy", "split", "n", "macro_f1", "micro_f1", "per_label"]
    assert body["taxonomy"] == taxonomy and body["split"] == "dev" and body["n"] == len(ROWS)
    labels = (data / taxonomy / "labels.txt").read_text().split("\n")
    assert list(body["per_label"]) == labels
    assert 0.0 <= body["macro_f1"] <= 1.0 and 0.0 <= body["micro_f1"] <= 1.0
    if taxonomy == "group":  # these six clear-cut texts should mostly land in the right sentiment group
        assert body["micro_f1"] >= 0.6


def test_eval_cli_errors_are_clear(tmp_path) -> None:
    data = _write_goemotions(tmp_path / "ge", ROWS)
    missing = CliRunner().invoke(main, ["eval", "emotions", "--data", str(data), "--split", "test", "--json"])
    assert missing.exit_code == 1 and "no test split" in missing.output
    (data / "ekman" / "labels.txt").write_text("anger\njoy\nneutral\n")
    wrong = CliRunner().invoke(main, ["eval", "emotions", "--data", str(data), "--taxonomy", "ekman"])
    assert wrong.exit_code == 1 and "lacks labels" in wrong.output


def test_train_smoke_is_deterministic(tmp_path) -> None:
    """One optimiser step on a few rows: writes loadable weights and their int8 calibration, identical for the same seed."""
    from safetensors.torch import load_file

    import torch

    from memory_service.encoder.branch import load
    from memory_service.encoder.int8 import calibration_path

    data = _write_goemotions(tmp_path / "ge", ROWS * 4, splits=("train", "dev"))
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / f"{run}.safetensors"
        result = CliRunner().invoke(
            main, ["train", "emotions", "--data", str(data), "--seed", "3", "--max-steps", "1", "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        outputs.append(out)
    trained = load(outputs[0])
    calibrations = [load_file(str(calibration_path(path))) for path in outputs]
    assert calibrations[0].keys() == calibrations[1].keys() and len(calibrations[0]) == 4 * 8
    assert all(torch.equal(calibrations[0][k], calibrations[1][k]) for k in calibrations[0])
    assert trained.labels == FINE and len(trained.thresholds) == len(FINE) and trained.info["steps"] == 1
    a, b = (load_file(str(path)) for path in outputs)
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    assert load(outputs[1]).thresholds == trained.thresholds


def test_chat_turn_stores_tags_on_the_memory(client, user_id) -> None:
    response = client.post("/v1/chat", json={"user_id": user_id, "message": "I'm so happy, thank you for the gift!"})
    assert response.status_code == 200, response.text
    memory = client.get(f"/v1/users/{user_id}/memories").json()[0]
    assert memory["text"] == "I'm so happy, thank you for the gift!"
    assert {"joy", "gratitude"} & set(memory["emotions"])
    assert memory["ekman_label"] == "joy"
    assert memory["valence"] > 0.3 and 0.0 <= memory["arousal"] <= 1.0 and memory["intensity"] > 0.3


def test_missing_or_foreign_weights_fail_loudly(tmp_path, settings) -> None:
    with pytest.raises(FileNotFoundError, match="train emotions"):
        Encoder(settings.embedding_model_path, tmp_path / "none.safetensors")
    from memory_service.encoder.goemotions import read_split

    data = _write_goemotions(tmp_path / "ge", ROWS)
    (data / "original" / "dev.tsv").write_text("just text without labels\n")
    with pytest.raises(ValueError, match="dev.tsv:1"):
        read_split(data, "original", "dev")
