"""Emotion tags, as stored on every memory and returned wherever memories are returned."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EmotionTags:
    emotions: dict[str, float] = field(default_factory=dict)  # GoEmotions label -> score, labels over threshold
    ekman_label: str | None = None  # anger, disgust, fear, joy, sadness, surprise or neutral
    valence: float | None = None
    arousal: float | None = None
    intensity: float | None = None
