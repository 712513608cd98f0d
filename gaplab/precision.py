"""Numerical precision switches shared by the layers that need float64."""
from __future__ import annotations


def enable_x64() -> None:
  """float64 arrays and highest matmul precision (theory checks, float64 runs)."""
  import jax
  jax.config.update("jax_enable_x64", True)
  jax.config.update("jax_default_matmul_precision", "highest")
