"""Text encoders: sentence embeddings now, emotion tags on the same encoder later."""
