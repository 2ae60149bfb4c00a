"""Retention and experiment analysis. Reads only the tables (events, experiment assignments,
router calls), never the running service."""
