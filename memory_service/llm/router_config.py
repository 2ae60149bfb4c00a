"""The router's YAML: backends, routes, a first-match routing policy and fallback chains.
Validated once at start-up; every error names the file and the field."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from memory_service.config_files import load_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LlamaCppConfig(_Strict):
    kind: Literal["llama_cpp"]
    model_path: Path | None = None  # None: the service's own model (MEMORY_SERVICE_LLM_MODEL_PATH)
    max_queue: int = Field(default=32, ge=1)
    cache_mb: int = Field(default=256, ge=0)  # prefix KV-state cache; 0 disables it


class OpenAIConfig(_Strict):
    kind: Literal["openai"]
    base_url: str  # e.g. http://127.0.0.1:8080/v1
    api_key: str | None = None
    cache_prompt: bool = True  # llama.cpp server keeps the prompt's KV state between calls
    max_connections: int = Field(default=16, ge=1)
    # Count prompt tokens with the service's own GGUF tokenizer (exact when the remote serves the
    # same model); otherwise a conservative ~3 characters a token.
    local_tokenizer: bool = False


BackendConfig = Annotated[LlamaCppConfig | OpenAIConfig, Field(discriminator="kind")]


class RetryConfig(_Strict):
    attempts: int = Field(default=2, ge=1, le=10)  # tries per route, the first included
    backoff_s: float = Field(default=0.2, ge=0.0)  # doubled after each retry


class BreakerConfig(_Strict):
    failures: int = Field(default=3, ge=1)  # consecutive failures that open the circuit
    open_s: float = Field(default=30.0, gt=0.0)  # then one half-open probe is let through


class RouteConfig(_Strict):
    backend: str
    model: str
    cost_per_1k_input: float = Field(default=0.0, ge=0.0)
    cost_per_1k_output: float = Field(default=0.0, ge=0.0)
    context_tokens: int = Field(default=2048, ge=128)
    max_tokens: int | None = Field(default=None, ge=1)  # None: MEMORY_SERVICE_LLM_MAX_TOKENS
    timeout_s: float = Field(default=60.0, gt=0.0)
    fallbacks: tuple[str, ...] = ()
    retry: RetryConfig = RetryConfig()


class Condition(_Strict):
    """All given bounds must hold; an unknown feature (e.g. no emotion tags yet) never matches."""

    min_chars: int | None = None
    max_chars: int | None = None
    min_complexity: float | None = None
    min_intensity: float | None = None
    min_memories: int | None = None
    min_memory_chars: int | None = None
    tiers: frozenset[str] | None = None
    arms: frozenset[str] | None = None


class Rule(_Strict):
    name: str  # logged as the routing reason
    when: Condition
    route: str


class Policy(_Strict):
    default: str
    rules: tuple[Rule, ...] = ()


class RouterConfig(_Strict):
    backends: dict[str, BackendConfig]
    routes: dict[str, RouteConfig]
    policy: Policy
    breaker: BreakerConfig = BreakerConfig()

    @model_validator(mode="after")
    def _references_exist(self) -> "RouterConfig":
        for name, route in self.routes.items():
            if route.backend not in self.backends:
                raise ValueError(f"route {name!r} names unknown backend {route.backend!r}; known: {sorted(self.backends)}")
            for fb in route.fallbacks:
                if fb not in self.routes:
                    raise ValueError(f"route {name!r} falls back to unknown route {fb!r}; known: {sorted(self.routes)}")
        targets = [("policy.default", self.policy.default)] + [(f"rule {r.name!r}", r.route) for r in self.policy.rules]
        for where, route in targets:
            if route not in self.routes:
                raise ValueError(f"{where} names unknown route {route!r}; known: {sorted(self.routes)}")
        return self

    def chain(self, route: str) -> list[str]:
        """The route, then its fallbacks (each at most once)."""
        out = [route]
        for fb in self.routes[route].fallbacks:
            if fb not in out:
                out.append(fb)
        return out


class RouterConfigError(ValueError):
    pass


def load_router_config(path: Path) -> RouterConfig:
    return load_yaml(path, RouterConfig, "router config", RouterConfigError)