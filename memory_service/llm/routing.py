"""Request features and the first-match routing policy. Pure and cheap: it runs on every turn."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from memory_service.llm.router_config import Condition, Policy

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Features:
    chars: int
    complexity: float  # 0..1, see estimate_complexity
    intensity: float | None  # emotional intensity from the tagger; None until it has run
    memories: int
    memory_chars: int
    tier: str | None = None
    arm: str | None = None


def estimate_complexity(text: str) -> float:
    """A cheap proxy: long, multi-question, long-worded or code-bearing messages score high."""
    words = _WORD.findall(text)
    if not words:
        return 0.0
    long_words = sum(len(w) > 8 for w in words) / len(words)
    score = min(len(words) / 120, 1.0) * 0.5 + min(text.count("?"), 3) * 0.1 + long_words * 0.5
    if "```" in text or "def " in text:
        score += 0.3
    return min(score, 1.0)


def features(
    message: str,
    memories: Sequence,
    *,
    intensity: float | None = None,
    tier: str | None = None,
    arm: str | None = None,
) -> Features:
    """intensity: the message's own tag if known, else the strongest of the recalled memories'."""
    if intensity is None:
        known = [m.intensity for m in memories if getattr(m, "intensity", None) is not None]
        intensity = max(known) if known else None
    return Features(
        chars=len(message),
        complexity=estimate_complexity(message),
        intensity=intensity,
        memories=len(memories),
        memory_chars=sum(len(m.text) for m in memories),
        tier=tier,
        arm=arm,
    )


def _holds(c: Condition, f: Features) -> bool:
    if c.min_chars is not None and f.chars < c.min_chars:
        return False
    if c.max_chars is not None and f.chars > c.max_chars:
        return False
    if c.min_complexity is not None and f.complexity < c.min_complexity:
        return False
    if c.min_intensity is not None and (f.intensity is None or f.intensity < c.min_intensity):
        return False
    if c.min_memories is not None and f.memories < c.min_memories:
        return False
    if c.min_memory_chars is not None and f.memory_chars < c.min_memory_chars:
        return False
    if c.tiers is not None and f.tier not in c.tiers:
        return False
    if c.arms is not None and f.arm not in c.arms:
        return False
    return True


def decide(policy: Policy, f: Features) -> tuple[str, str]:
    """(route, reason): the first rule that holds, else the default."""
    for rule in policy.rules:
        if _holds(rule.when, f):
            return rule.route, rule.name
    return policy.default, "default"
