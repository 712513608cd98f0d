"""Row blocks and random subsets: how every embedding statistic stays in bounded memory.

Embeddings may be large (10^6 pairs x 1024 dims is 4 GB per modality in
float32), so a statistic never materialises an (N, N) or a float64 (N, D)
array. O(N D) statistics run over blocks of ``block`` rows, accumulating in
float64; O(N^2) statistics either run over block pairs or are estimated from a
random subset of rows, drawn here from an explicit typed PRNG key and reported
with its size.
"""
from __future__ import annotations

from typing import Iterator

import jax
import numpy as np

DEFAULT_BLOCK = 16384  # rows per block: one float64 copy of 16384 x 1024 is 128 MiB
# (a statistic holds a few such copies at once)


def row_blocks(n: int, block: int = DEFAULT_BLOCK) -> Iterator[slice]:
  """Consecutive slices covering range(n), each at most ``block`` rows."""
  if block < 1:
    raise ValueError(f"Expected block >= 1, got {block}")
  for start in range(0, n, block):
    yield slice(start, min(start + block, n))


def f64(x: np.ndarray) -> np.ndarray:
  """``x`` as float64 (a copy only when it is not already float64)."""
  return np.asarray(x, np.float64)


def mean_rows(u: np.ndarray, block: int = DEFAULT_BLOCK) -> np.ndarray:
  """Mean of the rows of ``u`` (N, D), accumulated in float64 over row blocks."""
  total = np.zeros(u.shape[1], np.float64)
  for s in row_blocks(u.shape[0], block):
    total += f64(u[s]).sum(axis=0)
  return total / u.shape[0]


def covariance(u: np.ndarray, center: np.ndarray | None = None,
               block: int = DEFAULT_BLOCK) -> np.ndarray:
  """(1/N) sum_i (u_i - c)(u_i - c)^T in float64 over row blocks (D, D); ``c`` is
  the row mean unless ``center`` is given (pass zeros for the uncentred moment).
  Divides by N (the population covariance), not N - 1."""
  c = mean_rows(u, block) if center is None else f64(center)
  cov = np.zeros((u.shape[1], u.shape[1]), np.float64)
  for s in row_blocks(u.shape[0], block):
    y = f64(u[s]) - c
    cov += y.T @ y
  return cov / u.shape[0]


def subset(key: jax.Array, n: int, m: int) -> np.ndarray:
  """Sorted indices of ``min(m, n)`` distinct rows of range(n), uniform without
  replacement, from the typed PRNG key ``key``; all of range(n) when m >= n."""
  if m >= n:
    return np.arange(n)
  idx = jax.random.choice(key, n, (m,), replace=False)
  return np.sort(np.asarray(idx))
