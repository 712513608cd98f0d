"""Benchmarks (`gaplab bench`): timings, never tests."""
