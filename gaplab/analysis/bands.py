"""Confidence bands over seeds (Student t quantiles from SciPy)."""
from __future__ import annotations

import numpy as np


def t_cdf(x: float, df: int) -> float:
  """CDF of Student's t with ``df`` degrees of freedom (``scipy.stats.t``)."""
  from scipy import stats  # a second to import; only the bands need it
  return float(stats.t.cdf(x, df))


def t_quantile(p: float, df: int) -> float:
  """Quantile of Student's t with ``df`` degrees of freedom (``scipy.stats.t``)."""
  if not 0 < p < 1 or df < 1:
    raise ValueError(f"Expected 0 < p < 1 and df >= 1, got p={p}, df={df}")
  from scipy import stats
  return float(stats.t.ppf(p, df))


def mean_band(values, axis: int = 0, level: float = 0.95):
  """(mean, low, high): a t confidence interval for the mean over ``axis``.

  With one sample the band collapses to the mean (there is no spread to show).
  NaNs are ignored per entry.
  """
  v = np.asarray(values, np.float64)
  n = np.sum(np.isfinite(v), axis=axis)
  mean = np.nanmean(v, axis=axis)
  if v.shape[axis] < 2:
    return mean, mean, mean
  sd = np.nanstd(v, axis=axis, ddof=1)
  df = max(int(np.max(n)) - 1, 1)
  half = t_quantile(0.5 + level / 2, df) * sd / np.sqrt(np.maximum(n, 1))
  return mean, mean - half, mean + half
