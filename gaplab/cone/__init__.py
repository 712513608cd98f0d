"""Cone sweeps: their config, statistics, the jitted engine and the results store."""
