"""Backend kinds, filled through a tiny register() callback, and the router built from config."""

from collections.abc import Callable
from pathlib import Path

from memory_service.config import Settings
from memory_service.llm.base import ChatBackend
from memory_service.llm.llama_cpp_backend import LlamaCppBackend
from memory_service.llm.openai_backend import OpenAIBackend
from memory_service.llm.prompt_cache import PrefixStateCache
from memory_service.llm.router import Router
from memory_service.llm.router_config import LlamaCppConfig, OpenAIConfig, RouterConfig

# kind -> factory(name, config, settings, local) where local is the service's own in-process model
Factory = Callable[[str, object, Settings, LlamaCppBackend | None], ChatBackend]
_KINDS: dict[str, Factory] = {}


def register(kind: str, factory: Factory) -> None:
    _KINDS[kind] = factory


def _llama_cpp(name: str, cfg: LlamaCppConfig, settings: Settings, local: LlamaCppBackend | None) -> ChatBackend:
    if cfg.model_path is None and local is not None:
        # The service's own model: one copy in memory, shared with scripts that use runtime.llm.
        local.max_queue = cfg.max_queue
        local.cache = PrefixStateCache(cfg.cache_mb << 20) if cfg.cache_mb else None
        return local
    path = cfg.model_path or settings.llm_model_path
    if path is None:
        raise ValueError(f"backend {name!r}: no model_path and no packaged GGUF installed")
    return LlamaCppBackend(
        Path(path), n_ctx=settings.llm_context_size, n_threads=settings.llm_threads,
        n_threads_batch=settings.llm_batch_threads, seed=settings.llm_seed,
        max_queue=cfg.max_queue, cache_bytes=cfg.cache_mb << 20, name=name,
    )


def _openai(name: str, cfg: OpenAIConfig, settings: Settings, local: LlamaCppBackend | None) -> ChatBackend:
    count = local.count_tokens if local is not None and cfg.local_tokenizer else None
    return OpenAIBackend(
        name, cfg.base_url, api_key=cfg.api_key, cache_prompt=cfg.cache_prompt,
        max_connections=cfg.max_connections, count_tokens=count,
    )


register("llama_cpp", _llama_cpp)
register("openai", _openai)


def build_router(config: RouterConfig, settings: Settings, local: LlamaCppBackend | None = None) -> Router:
    backends = {name: _KINDS[cfg.kind](name, cfg, settings, local) for name, cfg in config.backends.items()}
    return Router(
        config, backends, default_max_tokens=settings.llm_max_tokens, temperature=settings.llm_temperature
    )
