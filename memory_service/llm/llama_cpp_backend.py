"""A GGUF model run in process by llama.cpp, with the chat template stored in the GGUF itself."""

import os
import threading
from pathlib import Path

from memory_service.llm.base import ChatMessage, Completion, ModelError


class LlamaCppBackend:
    def __init__(self, model_path: Path, *, n_ctx: int = 2048, n_threads: int | None = None, seed: int = 0) -> None:
        if not model_path.is_file():
            raise FileNotFoundError(f"GGUF model not found at {model_path}")
        from llama_cpp import Llama

        # chat_format=None lets llama-cpp-python use tokenizer.chat_template from the GGUF metadata.
        self.llama = Llama(
            model_path=str(model_path),
            n_ctx=n_ctx,
            n_threads=n_threads or os.cpu_count() or 1,
            seed=seed,
            verbose=False,
        )
        self.name = model_path.stem
        # One llama.cpp context is not thread-safe: serialise calls on it.
        self._lock = threading.Lock()

    def complete(self, messages: list[ChatMessage], *, max_tokens: int, temperature: float) -> Completion:
        try:
            with self._lock:
                out = self.llama.create_chat_completion(
                    messages=list(messages), max_tokens=max_tokens, temperature=temperature
                )
        except ValueError as exc:  # llama-cpp-python raises ValueError for prompts beyond n_ctx
            raise ModelError(str(exc)) from exc
        usage = out["usage"]
        return Completion(
            text=(out["choices"][0]["message"]["content"] or "").strip(),
            model=self.name,
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
        )

    def is_ready(self) -> bool:
        return self.llama is not None

    def close(self) -> None:
        with self._lock:
            self.llama.close()
