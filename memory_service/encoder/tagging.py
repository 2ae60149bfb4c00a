"""From the 28 label scores of one message to its EmotionTags.

Ranges (documented in the README):
- emotions: labels whose sigmoid score clears the label's dev-tuned threshold, label -> score in [0, 1];
  when none clears, the single best label (so every message has at least one, often "neutral").
- ekman_label: the Ekman group (labels.EKMAN) of the best chosen label; "neutral" for neutral.
- valence in [-1, 1]: the score-weighted mean NRC VAD valence of the chosen labels, rescaled 2v - 1.
- arousal in [0, 1]: the score-weighted mean NRC VAD arousal of the chosen labels.
- intensity in [0, 1]: the highest score among chosen non-neutral labels; 0 when only neutral is chosen."""

import numpy as np

from memory_service.encoder.labels import EKMAN, NEUTRAL
from memory_service.encoder.metrics import decide
from memory_service.encoder.tags import EmotionTags
from memory_service.encoder.vad import NRC_VAD

_EKMAN_OF = {fine: coarse for coarse, members in EKMAN.items() for fine in members} | {NEUTRAL: NEUTRAL}


def tags_from_scores(scores: np.ndarray, labels: tuple[str, ...], thresholds: np.ndarray) -> EmotionTags:
    chosen = decide(scores[None, :], thresholds)[0]
    picked = sorted(((labels[i], float(scores[i])) for i in np.flatnonzero(chosen)), key=lambda x: -x[1])
    weights = np.array([s for _, s in picked])
    valence = float(np.dot(weights, [NRC_VAD[label][0] for label, _ in picked]) / weights.sum())
    arousal = float(np.dot(weights, [NRC_VAD[label][1] for label, _ in picked]) / weights.sum())
    intensity = max((s for label, s in picked if label != NEUTRAL), default=0.0)
    return EmotionTags(
        emotions={label: round(s, 4) for label, s in picked},
        ekman_label=_EKMAN_OF[picked[0][0]],
        valence=round(2 * valence - 1, 4),
        arousal=round(arousal, 4),
        intensity=round(intensity, 4),
    )
