"""Figures drawn from saved runs, one module per figure family (matplotlib only here)."""
