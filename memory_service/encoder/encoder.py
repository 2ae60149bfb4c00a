"""One MiniLM pass per message giving both the retrieval embedding and the emotion tags.

The backbone runs once; its layer-`tap` states feed the emotion branch (a fine-tuned copy of the top
layers), its last layer feeds sentence-transformers' mean pooling + L2 normalisation. With `quantize`
(the service default), the encoder layers of backbone and branch run in int8: SmoothQuant weights with
per-token activations (encoder/int8.py), cosine >= 0.99 to the fp32 embeddings on every GoEmotions dev
text at about twice the speed of fp32 sentence-transformers (benchmarks/encoder.py). The fp32 path
reproduces sentence-transformers' vectors exactly."""

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from memory_service.config import EMBEDDING_DIM
from memory_service.encoder import branch as branch_io
from memory_service.encoder import int8
from memory_service.encoder.labels import FINE
from memory_service.encoder.minilm import MiniLM, WordPiece, mean_pool
from memory_service.encoder.tagging import tags_from_scores
from memory_service.encoder.tags import EmotionTags

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Encoded:
    embedding: list[float]
    tags: EmotionTags


class Encoder:
    dim = EMBEDDING_DIM

    def __init__(self, model_dir: Path, weights: Path = branch_io.PACKAGED_WEIGHTS, *, quantize: bool = True) -> None:
        self.tokenizer = WordPiece(model_dir)
        trained = branch_io.load(weights)
        if trained.labels != FINE:
            raise ValueError(f"{weights} was trained on other labels than the 28 GoEmotions ones")
        self.tap = trained.branch.tap
        self.thresholds = np.asarray(trained.thresholds, dtype=np.float32)
        self.info = trained.info
        backbone, emotion = MiniLM.load(model_dir), trained.branch
        if quantize:
            int8.quantize(backbone, emotion, int8.load_calibration(weights))
        self.backbone, self.branch = backbone.eval(), emotion.eval()
        self.quantized = quantize
        self.name = "all-MiniLM-L6-v2" + ("+int8" if quantize else "")

    @torch.inference_mode()
    def _run(self, texts: list[str], with_tags: bool) -> tuple[np.ndarray, np.ndarray | None]:
        b = self.tokenizer(texts)
        last, tapped = self.backbone(b.input_ids, b.mask, self.tap)
        embeddings = torch.nn.functional.normalize(mean_pool(last, b.mask), dim=-1).numpy()
        scores = torch.sigmoid(self.branch(tapped, b.mask)).numpy() if with_tags else None
        return embeddings, scores

    def _batched(self, texts: list[str], with_tags: bool, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Length-sorted batches keep padding small; results come back in input order."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        embeddings = np.zeros((len(texts), self.dim), dtype=np.float32)
        scores = np.zeros((len(texts), len(FINE)), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            e, s = self._run([texts[i] for i in rows], with_tags)
            embeddings[rows] = e
            if s is not None:
                scores[rows] = s
        return embeddings, scores

    def encode(self, texts: list[str], batch_size: int = 64) -> list[Encoded]:
        embeddings, scores = self._batched(texts, True, batch_size)
        return [
            Encoded(e.tolist(), tags_from_scores(s, FINE, self.thresholds)) for e, s in zip(embeddings, scores, strict=True)
        ]

    def encode_one(self, text: str) -> Encoded:
        return self.encode([text])[0]

    def scores(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Sigmoid scores (N, 28) in FINE order, for evaluation."""
        return self._batched(texts, True, batch_size)[1]

    def embed(self, texts: list[str], batch_size: int = 64) -> list[list[float]]:
        """Embeddings only (the emotion branch is skipped): unit vectors, cosine = dot product."""
        return self._batched(texts, False, batch_size)[0].tolist()

    def embed_one(self, text: str) -> list[float]:
        return self.embed([text])[0]
