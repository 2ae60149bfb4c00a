"""The long-lived parts of a running service, built once and shared by every request."""

import logging
from dataclasses import dataclass, field

from memory_service.config import Settings
from memory_service.db.database import Database
from memory_service.encoder.encoder import Encoder
from memory_service.experiments.config import ExperimentsConfig, load_experiments
from memory_service.llm.base import ChatBackend
from memory_service.llm.llama_cpp_backend import LlamaCppBackend
from memory_service.llm.registry import build_router
from memory_service.llm.router import Router
from memory_service.llm.router_config import load_router_config
from memory_service.memory.policies import PolicyConfig, load_policies

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    embedder: Encoder  # one MiniLM pass per message: embedding + emotion tags
    llm: ChatBackend
    policies: PolicyConfig
    experiments: ExperimentsConfig = field(default_factory=ExperimentsConfig)
    router: Router | None = None  # picks the backend of every chat turn (config/router.yaml)

    def close(self) -> None:
        for backend in self.router.backends.values() if self.router else ():
            if backend is not self.llm and hasattr(backend, "close"):
                backend.close()
        close_llm = getattr(self.llm, "close", None)
        if close_llm is not None:
            close_llm()
        self.db.close()


def _require(path, what: str):
    if path is None:
        raise RuntimeError(f"no {what} configured and the package that ships it is not installed")
    return path


def build_encoder(settings: Settings) -> Encoder:
    return Encoder(
        _require(settings.embedding_model_path, "embedding model"),
        settings.emotion_weights_path,
        quantize=settings.encoder_quantize,
    )


def build_runtime(settings: Settings) -> Runtime:
    """Start (or connect to) the database and load both models."""
    # Config first: an invalid experiments file fails start-up before anything is started.
    policies = load_policies(settings.memory_policies_path)
    experiments = load_experiments(settings.experiments_path, policies)
    router_config = load_router_config(settings.router_config_path)
    db = Database.from_settings(settings)
    try:
        embedder = build_encoder(settings)
        llm = LlamaCppBackend(
            _require(settings.llm_model_path, "GGUF model"),
            n_ctx=settings.llm_context_size,
            n_threads=settings.llm_threads,
            n_threads_batch=settings.llm_batch_threads,
            seed=settings.llm_seed,
        )
        router = build_router(router_config, settings, local=llm)
    except BaseException:
        db.close()
        raise
    log.info("runtime ready: database=%s embedder=%s llm=%s", db.engine.url.database, embedder.name, llm.name)
    return Runtime(
        settings=settings, db=db, embedder=embedder, llm=llm, policies=policies, experiments=experiments, router=router
    )
