"""Valence and arousal of the 28 GoEmotions label words.

Values are the entries for these exact words in the NRC Valence, Arousal, and Dominance Lexicon v1:
  Saif M. Mohammad. 2018. Obtaining Reliable Human Ratings of Valence, Arousal, and Dominance for
  20,000 English Words. Proceedings of ACL 2018, Melbourne. https://saifmohammad.com/WebPages/nrc-vad.html
The lexicon scores each word in [0, 1] (0 = most negative / calmest, 1 = most positive / most excited)."""

# label: (valence, arousal), both in [0, 1] as published
NRC_VAD: dict[str, tuple[float, float]] = {
    "admiration": (0.969, 0.583),
    "amusement": (0.929, 0.837),
    "anger": (0.167, 0.865),
    "annoyance": (0.167, 0.718),
    "approval": (0.854, 0.460),
    "caring": (0.635, 0.469),
    "confusion": (0.255, 0.667),
    "curiosity": (0.750, 0.755),
    "desire": (0.896, 0.692),
    "disappointment": (0.115, 0.490),
    "disapproval": (0.085, 0.551),
    "disgust": (0.052, 0.775),
    "embarrassment": (0.143, 0.685),
    "excitement": (0.896, 0.684),
    "fear": (0.073, 0.840),
    "gratitude": (0.885, 0.441),
    "grief": (0.070, 0.640),
    "joy": (0.980, 0.824),
    "love": (1.000, 0.519),
    "nervousness": (0.163, 0.915),
    "optimism": (0.949, 0.565),
    "pride": (0.729, 0.634),
    "realization": (0.554, 0.510),
    "relief": (0.844, 0.278),
    "remorse": (0.103, 0.673),
    "sadness": (0.052, 0.288),
    "surprise": (0.875, 0.875),
    "neutral": (0.469, 0.184),
}
