"""The emotion branch: fine-tuned copies of MiniLM's top layers fed by the shared pass's layer-`tap`
states, mean pooling, and a linear head over the 28 GoEmotions labels (sigmoid scores).

Stored as one fp16 safetensors file; labels, thresholds and training facts ride in its metadata."""

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from memory_service.encoder.minilm import HIDDEN, LAYERS, BertLayer, MiniLM, attention_mask, mean_pool

PACKAGED_WEIGHTS = Path(__file__).parent / "weights" / "emotion_head.safetensors"


class EmotionBranch(nn.Module):
    def __init__(self, n_labels: int, tap: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.tap = tap
        self.layers = nn.ModuleList(BertLayer(dropout) for _ in range(LAYERS - tap))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(HIDDEN, n_labels)

    @classmethod
    def from_backbone(cls, backbone: MiniLM, n_labels: int, tap: int) -> "EmotionBranch":
        """Start from copies of the backbone's layers above `tap`; the head starts small and random."""
        branch = cls(n_labels, tap)
        for mine, theirs in zip(branch.layers, backbone.layers[tap:], strict=True):
            mine.load_state_dict(theirs.state_dict())
        nn.init.normal_(branch.head.weight, std=0.02)
        nn.init.zeros_(branch.head.bias)
        return branch

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_labels) from layer-`tap` states (B, T, H) and the padding mask (B, T)."""
        attn = attention_mask(mask)
        for layer in self.layers:
            hidden = layer(hidden, attn)
        return self.head(self.dropout(mean_pool(hidden, mask)))


@dataclass
class TrainedBranch:
    branch: EmotionBranch
    labels: tuple[str, ...]
    thresholds: tuple[float, ...]
    info: dict  # how it was trained and what it scored on dev


def save(trained: TrainedBranch, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in trained.branch.state_dict().items()}
    metadata = {
        "tap": str(trained.branch.tap),
        "labels": json.dumps(list(trained.labels)),
        "thresholds": json.dumps([round(t, 4) for t in trained.thresholds]),
        "info": json.dumps(trained.info),
    }
    save_file(tensors, str(path), metadata=metadata)


def load(path: Path = PACKAGED_WEIGHTS) -> TrainedBranch:
    """fp16 on disk, fp32 in memory (CPU fp16 matmuls are slow)."""
    if not path.exists():
        raise FileNotFoundError(f"no emotion weights at {path}; run `memory-service train emotions`")
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
        state = {k: f.get_tensor(k).float() for k in f.keys()}
    missing = {"tap", "labels", "thresholds"} - meta.keys()
    if missing:
        raise ValueError(f"{path} lacks metadata {sorted(missing)}; retrain it")
    labels = tuple(json.loads(meta["labels"]))
    thresholds = tuple(float(t) for t in json.loads(meta["thresholds"]))
    if len(thresholds) != len(labels):
        raise ValueError(f"{path}: {len(labels)} labels but {len(thresholds)} thresholds")
    branch = EmotionBranch(len(labels), int(meta["tap"]))
    branch.load_state_dict(state)
    return TrainedBranch(branch.eval(), labels, thresholds, json.loads(meta.get("info", "{}")))
