"""GoEmotions label sets and the fixed mappings from the 28 fine labels to the coarser taxonomies.

The fine order is the order of `goemotions/original/labels.txt`. EKMAN equals
`goemotions/ekman_mapping.json`; GROUP (sentiment) is the one the GoEmotions release uses for its
`group/` split. tests/test_emotion_labels.py checks both against the data files."""

FINE: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity",
    "desire", "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear",
    "gratitude", "grief", "joy", "love", "nervousness", "optimism", "pride", "realization", "relief",
    "remorse", "sadness", "surprise", "neutral",
)  # fmt: skip

NEUTRAL = "neutral"

EKMAN: dict[str, tuple[str, ...]] = {
    "anger": ("anger", "annoyance", "disapproval"),
    "disgust": ("disgust",),
    "fear": ("fear", "nervousness"),
    "joy": ("joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism", "relief", "pride",
            "admiration", "desire", "caring"),
    "sadness": ("sadness", "disappointment", "embarrassment", "grief", "remorse"),
    "surprise": ("surprise", "realization", "confusion", "curiosity"),
}  # fmt: skip

GROUP: dict[str, tuple[str, ...]] = {
    "positive": ("amusement", "excitement", "joy", "love", "desire", "optimism", "caring", "pride", "admiration",
                 "gratitude", "relief", "approval"),
    "negative": ("fear", "nervousness", "remorse", "embarrassment", "disappointment", "sadness", "grief", "disgust",
                 "anger", "annoyance", "disapproval"),
    "ambiguous": ("realization", "surprise", "curiosity", "confusion"),
}  # fmt: skip

TAXONOMIES = ("original", "ekman", "group")


def fine_to(taxonomy: str) -> dict[str, str]:
    """Fine label -> label of `taxonomy`; neutral stays neutral."""
    if taxonomy == "original":
        return {label: label for label in FINE}
    groups = {"ekman": EKMAN, "group": GROUP}.get(taxonomy)
    if groups is None:
        raise ValueError(f"unknown taxonomy {taxonomy!r}; expected one of {', '.join(TAXONOMIES)}")
    mapping = {fine: coarse for coarse, members in groups.items() for fine in members}
    mapping[NEUTRAL] = NEUTRAL
    return mapping
