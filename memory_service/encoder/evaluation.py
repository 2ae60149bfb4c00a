"""Scoring the emotion tagger on a GoEmotions split in any of the three taxonomies.

Predictions are always the 28 fine labels (thresholded, best label when none clears); Ekman and group
scores come from folding those fine predictions through labels.fine_to, never from a separate model."""

from pathlib import Path

import numpy as np

from memory_service.encoder.encoder import Encoder
from memory_service.encoder.goemotions import read_labels, read_split
from memory_service.encoder.labels import FINE, fine_to
from memory_service.encoder.metrics import decide, f1_scores, multi_hot, remap


def evaluate(
    encoder: Encoder, data_dir: Path, split: str, taxonomy: str, scores: np.ndarray | None = None
) -> dict:
    """The `eval emotions --json` object: taxonomy, split, n, macro_f1, micro_f1, per_label.

    `scores` may carry the encoder's scores for this split's texts (the three taxonomies share them)."""
    mapping = fine_to(taxonomy)
    labels = read_labels(data_dir / taxonomy / "labels.txt")
    unknown = sorted(set(mapping.values()) - set(labels))
    if unknown:
        raise ValueError(f"{data_dir}/{taxonomy}/labels.txt lacks labels {unknown} that the fine labels map to")
    data = read_split(data_dir, taxonomy, split)
    if scores is None or len(scores) != len(data.texts):
        scores = encoder.scores(data.texts)
    chosen = decide(scores, encoder.thresholds)
    pred = remap(chosen, FINE, data.labels, mapping)
    gold = multi_hot(data.targets, len(data.labels))
    f1 = f1_scores(pred, gold, data.labels)
    return {
        "taxonomy": taxonomy,
        "split": split,
        "n": len(data.texts),
        "macro_f1": round(f1.macro_f1, 4),
        "micro_f1": round(f1.micro_f1, 4),
        "per_label": {label: round(value, 4) for label, value in f1.per_label.items()},
    }
