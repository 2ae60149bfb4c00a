"""A bounded, LRU cache of llama.cpp KV states keyed by token prefix.

One llama.cpp context holds one conversation at a time; when users interleave, the next turn of
user A finds user B's tokens in the context and would re-evaluate its whole prompt. Saving the
state after each reply and restoring the longest matching prefix before the next prompt keeps
turn two cheap. Unlike llama-cpp-python's LlamaRAMCache this stores only the KV state (not a
copy of the n_batch x n_vocab logits buffer), so an entry costs about what its tokens occupy."""

import ctypes
from collections import OrderedDict
from dataclasses import dataclass

import llama_cpp
import numpy as np


@dataclass(frozen=True)
class _State:
    tokens: tuple[int, ...]
    data: bytes


def _common_prefix(a: tuple[int, ...] | np.ndarray, b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class PrefixStateCache:
    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._states: OrderedDict[tuple[int, ...], _State] = OrderedDict()
        self.size_bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._states)

    def save(self, llama: "llama_cpp.Llama") -> None:
        """Snapshot the context's KV state under the tokens it holds. Caller holds the model lock."""
        n = llama.n_tokens
        if n == 0:
            return
        size = llama_cpp.llama_state_get_size(llama._ctx.ctx)
        if size > self.capacity_bytes:
            return
        buf = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(llama._ctx.ctx, buf, size)
        key = tuple(int(t) for t in llama.input_ids[:n])
        old = self._states.pop(key, None)
        if old is not None:
            self.size_bytes -= len(old.data)
        self._states[key] = _State(tokens=key, data=bytes(buf)[:written])
        self.size_bytes += written
        while self.size_bytes > self.capacity_bytes and self._states:
            _, evicted = self._states.popitem(last=False)
            self.size_bytes -= len(evicted.data)

    def restore(self, llama: "llama_cpp.Llama", prompt: list[int]) -> int:
        """Load the cached state sharing the longest prefix with prompt, if it beats what the
        context already holds. Returns the number of prompt tokens that need no evaluation."""
        live = _common_prefix(llama.input_ids[: llama.n_tokens], prompt)
        best_key, best = None, live
        for key in self._states:
            n = _common_prefix(key, prompt)
            if n > best:
                best_key, best = key, n
        if best_key is None:
            self.misses += live == 0
            self.hits += live > 0
            return live
        state = self._states[best_key]
        self._states.move_to_end(best_key)
        buf = (ctypes.c_uint8 * len(state.data)).from_buffer_copy(state.data)
        if llama_cpp.llama_state_set_data(llama._ctx.ctx, buf, len(state.data)) != len(state.data):
            raise RuntimeError("llama.cpp refused a cached state")
        n = len(state.tokens)
        llama.input_ids[:n] = state.tokens
        llama.n_tokens = n
        llama._requires_eval = True
        self.hits += 1
        return best
