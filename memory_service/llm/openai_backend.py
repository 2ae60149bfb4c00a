"""Any OpenAI-compatible chat endpoint (llama.cpp server, vLLM, Ollama, a hosted API) over httpx.

Always streams: time to first token is measured the same way for every backend. Connection
errors, timeouts, 429 and 5xx are retryable; other 4xx are not (the request itself is wrong)."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx

from memory_service.llm.base import (
    BackendUnavailable,
    ChatMessage,
    Completion,
    Generation,
    ModelError,
    estimate_tokens,
)


class OpenAIBackend:
    can_stream = True

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        api_key: str | None = None,
        cache_prompt: bool = True,
        max_connections: int = 16,
        count_tokens: Callable[[list[ChatMessage]], int] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.cache_prompt = cache_prompt
        self._client_args = dict(
            base_url=self.base_url, transport=transport, limits=httpx.Limits(max_connections=max_connections),
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
        )
        # Pooled connections belong to the event loop that opened them: one client per loop.
        self._clients: dict[int, httpx.AsyncClient] = {}
        self._count = count_tokens or estimate_tokens

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        return self._count(messages)

    def is_ready(self) -> bool:
        return True  # reachability is the circuit breaker's business

    def _client(self) -> httpx.AsyncClient:
        loop = id(asyncio.get_running_loop())
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = self._clients[loop] = httpx.AsyncClient(**self._client_args)
        return client

    async def stream(self, messages: list[ChatMessage], gen: Generation) -> AsyncIterator[str | Completion]:
        body: dict = {
            "model": gen.model, "messages": list(messages), "max_tokens": gen.max_tokens,
            "temperature": gen.temperature, "stream": True, "stream_options": {"include_usage": True},
        }
        if self.cache_prompt:
            body["cache_prompt"] = True  # llama.cpp server: reuse the KV state of the shared prefix
        parts: list[str] = []
        usage: dict | None = None
        model, finish, n_chunks = gen.model or self.name, "stop", 0
        timeout = httpx.Timeout(gen.timeout_s, connect=min(gen.timeout_s, 5.0))
        try:
            async with self._client().stream("POST", "/chat/completions", json=body, timeout=timeout) as response:
                if response.status_code != 200:
                    detail = (await response.aread()).decode(errors="replace")[:300]
                    error = BackendUnavailable if response.status_code in (408, 429) or response.status_code >= 500 else ModelError
                    raise error(f"{self.name}: HTTP {response.status_code}: {detail}")
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    model = chunk.get("model") or model
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or ():
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            n_chunks += 1
                            parts.append(text)
                            yield text
                        finish = choice.get("finish_reason") or finish
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            raise BackendUnavailable(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ModelError(f"{self.name}: malformed stream chunk: {exc}") from exc
        yield Completion(
            text="".join(parts).strip(),
            model=model,
            prompt_tokens=(usage or {}).get("prompt_tokens") or self.count_tokens(messages),
            completion_tokens=(usage or {}).get("completion_tokens") or n_chunks,
            finish_reason=finish,
        )

    async def aclose(self) -> None:
        client = self._clients.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.aclose()
