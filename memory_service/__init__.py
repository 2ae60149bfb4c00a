"""memory-service: emotion-aware episodic memory for AI companion apps."""

__version__ = "0.1.0"
