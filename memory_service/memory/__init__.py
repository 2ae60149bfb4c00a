"""Episodic memory: writing memories and ranking them for a query."""
