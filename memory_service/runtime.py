"""The long-lived parts of a running service, built once and shared by every request."""

import logging
from dataclasses import dataclass

from memory_service.config import Settings
from memory_service.db.database import Database
from memory_service.encoder.embeddings import Embedder
from memory_service.llm.base import ChatBackend
from memory_service.llm.llama_cpp_backend import LlamaCppBackend

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    embedder: Embedder
    llm: ChatBackend

    def close(self) -> None:
        close_llm = getattr(self.llm, "close", None)
        if close_llm is not None:
            close_llm()
        self.db.close()


def _require(path, what: str):
    if path is None:
        raise RuntimeError(f"no {what} configured and the package that ships it is not installed")
    return path


def build_runtime(settings: Settings) -> Runtime:
    """Start (or connect to) the database and load both models."""
    db = Database.from_settings(settings)
    try:
        embedder = Embedder(_require(settings.embedding_model_path, "embedding model"))
        llm = LlamaCppBackend(
            _require(settings.llm_model_path, "GGUF model"),
            n_ctx=settings.llm_context_size,
            n_threads=settings.llm_threads,
            seed=settings.llm_seed,
        )
    except BaseException:
        db.close()
        raise
    log.info("runtime ready: database=%s embedder=%s llm=%s", db.engine.url.database, embedder.name, llm.name)
    return Runtime(settings=settings, db=db, embedder=embedder, llm=llm)
