"""A GGUF model run in process by llama.cpp, with the chat template stored in the GGUF itself.

One llama.cpp context is not thread-safe, so every call runs on the backend's single worker
thread; the event loop only awaits. At most `max_queue` calls may wait for it: beyond that
the backend answers Overloaded at once (backpressure) and the router tries the next backend."""

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from memory_service.llm.base import ChatMessage, Completion, Generation, ModelError, Overloaded
from memory_service.llm.prompt_cache import PrefixStateCache

_END = object()


class LlamaCppBackend:
    can_stream = True

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = 2048,
        n_threads: int = 1,
        n_threads_batch: int | None = None,
        seed: int = 0,
        max_queue: int = 32,
        cache_bytes: int = 256 << 20,
        name: str | None = None,
    ) -> None:
        if not model_path.is_file():
            raise FileNotFoundError(f"GGUF model not found at {model_path}")
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llama = Llama(
            # Decoding is memory-bound: one thread decodes ~150 tok/s here, while two threads on two
            # busy cores spin against each other (measured 3-12 tok/s). Prompt reading is
            # compute-bound and uses every core.
            model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads,
            n_threads_batch=n_threads_batch or os.cpu_count() or 1, seed=seed, verbose=False,
        )
        template = self.llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(f"{model_path} has no tokenizer.chat_template in its metadata")
        eos = self.llama.token_eos()
        self._format = Jinja2ChatFormatter(
            template=template,
            eos_token=self.llama._model.token_get_text(eos),
            bos_token=self.llama._model.token_get_text(self.llama.token_bos()),
            stop_token_ids=[eos],
        )
        self.name = name or model_path.stem
        self.model = model_path.stem
        self.n_ctx = n_ctx
        self.seed = seed
        self.max_queue = max_queue
        self.cache = PrefixStateCache(cache_bytes) if cache_bytes > 0 else None
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{self.name}")
        self._pending = 0  # calls admitted and not finished; touched only on the event loop

    def _prompt(self, messages: list[ChatMessage]) -> tuple[list[int], list[str]]:
        result = self._format(messages=list(messages))
        tokens = self.llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return tokens, stop

    @property
    def queue_depth(self) -> int:
        """Calls admitted and not finished (running one included); /metrics reports it."""
        return self._pending

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        return len(self._prompt(messages)[0])

    def _generate(self, messages: list[ChatMessage], gen: Generation, emit, stop_event: threading.Event) -> Completion:
        """Runs on the worker thread; emit(text) hands each delta to the event loop."""
        tokens, stop = self._prompt(messages)
        if len(tokens) + 1 > self.n_ctx:
            raise ModelError(f"prompt of {len(tokens)} tokens exceeds the context window of {self.n_ctx}")
        parts: list[str] = []
        n_out, finish = 0, "stop"
        with self._lock:
            if self.cache is not None:
                self.cache.restore(self.llama, tokens)
            try:
                for chunk in self.llama.create_completion(
                    tokens, max_tokens=gen.max_tokens, temperature=gen.temperature, stop=stop,
                    stream=True, seed=self.seed,
                ):
                    choice = chunk["choices"][0]
                    if choice["text"]:
                        n_out += 1
                        parts.append(choice["text"])
                        emit(choice["text"])
                    finish = choice.get("finish_reason") or finish
                    if stop_event.is_set():
                        finish = "cancelled"
                        break
            except ValueError as exc:  # llama-cpp-python's error for prompts beyond n_ctx
                raise ModelError(str(exc)) from exc
            if self.cache is not None and finish != "cancelled":
                self.cache.save(self.llama)
        return Completion(
            text="".join(parts).strip(), model=self.model, prompt_tokens=len(tokens),
            completion_tokens=n_out, finish_reason=finish,
        )

    async def stream(self, messages: list[ChatMessage], gen: Generation) -> AsyncIterator[str | Completion]:
        if self._pending >= self.max_queue:
            raise Overloaded(f"{self.name}: {self._pending} calls already waiting for the model")
        self._pending += 1
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop_event = threading.Event()

        def work() -> None:
            try:
                result = self._generate(messages, gen, lambda t: loop.call_soon_threadsafe(queue.put_nowait, t), stop_event)
            except BaseException as exc:  # handed to the awaiting coroutine, which re-raises it
                result = exc
            loop.call_soon_threadsafe(queue.put_nowait, result)
            loop.call_soon_threadsafe(queue.put_nowait, _END)

        try:
            self._worker.submit(work)
            while (item := await queue.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop_event.set()  # a consumer that stops early frees the worker at the next token
            self._pending -= 1

    def complete(self, messages: list[ChatMessage], *, max_tokens: int, temperature: float) -> Completion:
        """Blocking call for scripts and benchmarks; the service uses stream()."""
        gen = Generation(max_tokens=max_tokens, temperature=temperature)
        return self._worker.submit(self._generate, messages, gen, lambda _: None, threading.Event()).result()

    def is_ready(self) -> bool:
        return self.llama is not None and not self._worker._shutdown

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self.llama.close()
