"""Cone sweeps: their config, presets, statistics, the jitted engine and the results store."""
