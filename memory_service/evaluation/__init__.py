"""Offline evaluations that run the real store and ranking against public benchmarks."""
