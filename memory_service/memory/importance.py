"""How much a memory matters, without an LLM call.

A cheap, documented heuristic in [0, 1], the weighted sum of four signals:
- 0.35 emotional intensity from the tagger (strong feelings are remembered);
- 0.25 first-person disclosure ("I", "my", "we" ...: the user talking about their own life);
- 0.25 specifics: named people and places (capitalised words past the sentence start) and dates
  (month and weekday names, years, "yesterday" ...), saturating at three;
- 0.15 length, saturating at 40 words (a one-word "ok" carries little).
"""

import re

FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|me|my|mine|myself|we|our|us)\b", re.IGNORECASE)
DATE_WORDS = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|december|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|tomorrow|tonight|"
    r"birthday|anniversary|(19|20)\d\d)\b",
    re.IGNORECASE,
)
# A capitalised word that does not open a sentence: a crude but fast named-entity signal.
NAMED = re.compile(r"(?<![.!?]\s)(?<!^)(?<![.!?])\b[A-Z][a-z]+")


def importance(text: str, intensity: float | None = None) -> float:
    words = len(text.split())
    disclosure = 1.0 if FIRST_PERSON.search(text) else 0.0
    specifics = min(1.0, (len(NAMED.findall(text)) + len(DATE_WORDS.findall(text))) / 3)
    length = min(1.0, words / 40)
    score = 0.35 * (intensity or 0.0) + 0.25 * disclosure + 0.25 * specifics + 0.15 * length
    return round(min(1.0, max(0.0, score)), 4)
