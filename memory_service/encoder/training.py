"""Training the emotion branch on GoEmotions `original/train.tsv`; thresholds tuned on `dev.tsv`.

The backbone below the tap is frozen, so its states are computed once and cached in memory (fp16);
each step then runs only the branch. Deterministic for a seed on a given machine and thread count."""

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from memory_service.encoder.branch import EmotionBranch, TrainedBranch
from memory_service.encoder.goemotions import read_split
from memory_service.encoder.labels import FINE, TAXONOMIES, fine_to
from memory_service.encoder.metrics import decide, f1_scores, multi_hot, remap, tune_thresholds
from memory_service.encoder.minilm import MiniLM, WordPiece

log = logging.getLogger(__name__)


class TrainOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    epochs: int = Field(default=2, ge=1, le=20)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=8e-5, gt=0)  # the copied encoder layers
    head_lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=0.01, ge=0)
    warmup: float = Field(default=0.1, ge=0, lt=1)
    tap: int = Field(default=4, ge=0, le=5)  # branch = layers tap..5
    limit: int | None = Field(default=None, ge=1)  # first N train/dev rows only (smoke runs)
    # bf16 autocast for the branch's training passes: ~4x faster steps on CPUs with AVX512-BF16/AMX,
    # fp32 master weights; the frozen states, thresholds and shipped weights stay fp32-derived.
    bf16: bool = True
    max_steps: int | None = Field(default=None, ge=1)


@dataclass
class States:
    """Frozen layer-`tap` states per text, unpadded, fp16."""

    hidden: list[torch.Tensor]


@torch.no_grad()
def cache_states(backbone: MiniLM, tokenizer: WordPiece, texts: list[str], tap: int, batch: int = 128) -> States:
    ids = tokenizer.ids(texts)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: list[torch.Tensor | None] = [None] * len(ids)
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        b = tokenizer.pad([ids[i] for i in rows])
        hidden = backbone.lower(b.input_ids, b.mask, tap)
        for j, i in enumerate(rows):
            out[i] = hidden[j, : len(ids[i])].to(torch.float16).clone()
    return States([h for h in out if h is not None])


def _pad(states: States, rows: list[int], multiple: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded to a multiple of 16 tokens: few distinct shapes, so oneDNN reuses its kernels."""
    width = -(-max(states.hidden[i].shape[0] for i in rows) // multiple) * multiple
    x = torch.zeros(len(rows), width, states.hidden[rows[0]].shape[1])
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for j, i in enumerate(rows):
        n = states.hidden[i].shape[0]
        x[j, :n] = states.hidden[i].float()
        mask[j, :n] = 1
    return x, mask


def _batches(states: States, batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled, then sorted by length within windows of 50 batches to cut padding, then batch order shuffled."""
    idx = list(range(len(states.hidden)))
    rng.shuffle(idx)
    window = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(idx), window):
        chunk = sorted(idx[start : start + window], key=lambda i: states.hidden[i].shape[0])
        batches += [chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


@torch.no_grad()
def predict(branch: EmotionBranch, states: States, batch: int = 256) -> np.ndarray:
    branch.eval()
    order = sorted(range(len(states.hidden)), key=lambda i: states.hidden[i].shape[0])
    probs = np.zeros((len(order), branch.head.out_features), dtype=np.float32)
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        x, mask = _pad(states, rows)
        probs[rows] = torch.sigmoid(branch(x, mask)).numpy()
    return probs


def dev_scores(probs: np.ndarray, gold: np.ndarray, thresholds: np.ndarray) -> dict[str, float]:
    chosen = decide(probs, thresholds)
    out = {}
    for taxonomy in TAXONOMIES:
        mapping = fine_to(taxonomy)
        target = tuple(dict.fromkeys(mapping[label] for label in FINE))
        pred, truth = remap(chosen, FINE, target, mapping), remap(gold, FINE, target, mapping)
        out[taxonomy] = round(f1_scores(pred, truth, target).macro_f1, 4)
    return out


def train(
    data_dir: Path, model_dir: Path, options: TrainOptions, progress: Callable[[str], None] = log.info
) -> TrainedBranch:
    started = time.perf_counter()
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    train_split = read_split(data_dir, "original", "train")
    dev_split = read_split(data_dir, "original", "dev")
    if train_split.labels != FINE:
        raise ValueError(f"{data_dir}/original/labels.txt does not list the 28 GoEmotions labels in order")
    n_train = options.limit or len(train_split.texts)
    n_dev = options.limit or len(dev_split.texts)

    backbone = MiniLM.load(model_dir)
    tokenizer = WordPiece(model_dir)
    train_states = cache_states(backbone, tokenizer, train_split.texts[:n_train], options.tap)
    dev_states = cache_states(backbone, tokenizer, dev_split.texts[:n_dev], options.tap)
    y_train = torch.from_numpy(multi_hot(train_split.targets[:n_train], len(FINE))).float()
    y_dev = multi_hot(dev_split.targets[:n_dev], len(FINE))
    elapsed = time.perf_counter() - started
    progress(f"cached layer-{options.tap} states for {n_train} train and {n_dev} dev texts in {elapsed:.0f}s")

    branch = EmotionBranch.from_backbone(backbone, len(FINE), options.tap)
    del backbone
    head = set(branch.head.parameters())
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in branch.parameters() if p not in head], "lr": options.lr},
            {"params": list(head), "lr": options.head_lr},
        ],
        weight_decay=options.weight_decay,
    )
    steps_per_epoch = math.ceil(n_train / options.batch_size)
    total = min(options.max_steps or steps_per_epoch * options.epochs, steps_per_epoch * options.epochs)
    warmup = max(1, int(total * options.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    step = 0
    for epoch in range(options.epochs):
        branch.train()
        running = 0.0
        for rows in _batches(train_states, options.batch_size, rng):
            if step >= total:
                break
            x, mask = _pad(train_states, rows)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=options.bf16):
                logits = branch(x, mask)
            loss = loss_fn(logits.float(), y_train[rows])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(branch.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            running += loss.item()
            if step % 200 == 0:
                progress(f"epoch {epoch + 1} step {step}/{total} loss {running / 200:.4f} {time.perf_counter() - started:.0f}s")
                running = 0.0

    probs = predict(branch, dev_states)
    thresholds = tune_thresholds(probs, y_dev)
    scores = dev_scores(probs, y_dev, thresholds)
    seconds = round(time.perf_counter() - started)
    progress(f"dev macro-F1 {scores} after {seconds}s")
    info = {**options.model_dump(), "steps": step, "train_seconds": seconds, "dev_macro_f1": scores}
    return TrainedBranch(branch.eval(), FINE, tuple(float(t) for t in thresholds), info)
