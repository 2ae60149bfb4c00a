"""Plain sentence-transformers all-MiniLM-L6-v2: the reference the service's own encoder
(encoder/encoder.py) is checked against in tests and timed against in benchmarks/encoder.py."""

import os
from pathlib import Path

from memory_service.config import EMBEDDING_DIM


class Embedder:
    dim = EMBEDDING_DIM

    def __init__(self, model_path: Path) -> None:
        if not (model_path / "config.json").exists():
            raise FileNotFoundError(f"no sentence-transformers model at {model_path}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # fail loudly rather than reach for a hub
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        self.name = model_path.name if model_path.name != "model" else "all-MiniLM-L6-v2"

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit-normalised vectors, so cosine distance in pgvector equals 1 - dot product."""
        vectors = self.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return vectors.tolist()

    def embed_one(self, text: str) -> list[float]:
        return self.embed([text])[0]
