"""Multi-label decisions and F1 scores, for tuning thresholds and for `memory-service eval emotions`."""

from dataclasses import dataclass

import numpy as np


def decide(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Labels over their thresholds; a row with none keeps its best label, so every text gets one."""
    chosen = probs >= thresholds[None, :]
    empty = ~chosen.any(axis=1)
    chosen[empty, probs[empty].argmax(axis=1)] = True
    return chosen


def multi_hot(targets: list[tuple[int, ...]], n_labels: int) -> np.ndarray:
    out = np.zeros((len(targets), n_labels), dtype=bool)
    for row, indices in enumerate(targets):
        out[row, list(indices)] = True
    return out


def remap(chosen: np.ndarray, source: tuple[str, ...], target: tuple[str, ...], mapping: dict[str, str]) -> np.ndarray:
    """Columns of `source` labels folded into `target` labels: a coarse label holds if any of its members does."""
    out = np.zeros((chosen.shape[0], len(target)), dtype=bool)
    index = {label: i for i, label in enumerate(target)}
    for col, label in enumerate(source):
        out[:, index[mapping[label]]] |= chosen[:, col]
    return out


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


@dataclass(frozen=True)
class Scores:
    macro_f1: float
    micro_f1: float
    per_label: dict[str, float]


def f1_scores(pred: np.ndarray, gold: np.ndarray, labels: tuple[str, ...]) -> Scores:
    tp = (pred & gold).sum(0).astype(float)
    fp = (pred & ~gold).sum(0).astype(float)
    fn = (~pred & gold).sum(0).astype(float)
    per = _f1(tp, fp, fn)
    micro = float(_f1(tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True))[0])
    return Scores(float(per.mean()), micro, {label: float(f) for label, f in zip(labels, per, strict=True)})


def tune_thresholds(probs: np.ndarray, gold: np.ndarray, grid: np.ndarray | None = None) -> np.ndarray:
    """Per label, the threshold that maximises that label's F1 (ties: the lowest)."""
    grid = np.round(np.arange(0.02, 0.96, 0.01), 2) if grid is None else grid
    pred = probs[:, :, None] >= grid[None, None, :]  # (N, L, G)
    g = gold[:, :, None]
    f1 = _f1((pred & g).sum(0), (pred & ~g).sum(0), (~pred & g).sum(0))  # (L, G)
    return grid[f1.argmax(axis=1)]
