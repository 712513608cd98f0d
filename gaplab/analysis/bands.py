"""Confidence bands over seeds (Student t), without SciPy."""
from __future__ import annotations

import math

import numpy as np


def t_cdf(x: float, df: int) -> float:
  """CDF of Student's t with ``df`` degrees of freedom (Simpson, float64).

  Integrates the density on [0, |x|] in the variable s = atan(t), whose
  integrand is smooth and bounded for every df >= 1.
  """
  c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
  s = np.linspace(0.0, math.atan(abs(x)), 4001)
  t = np.tan(s)
  f = c * (1 + t * t / df) ** (-(df + 1) / 2) / np.cos(s) ** 2
  h = s[1] - s[0]
  area = h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())
  return 0.5 + math.copysign(area, x)


def t_quantile(p: float, df: int) -> float:
  """Quantile of Student's t by bisection on ``t_cdf`` (|error| < 1e-9)."""
  if not 0 < p < 1 or df < 1:
    raise ValueError(f"Expected 0 < p < 1 and df >= 1, got p={p}, df={df}")
  lo, hi = -1e6, 1e6
  for _ in range(200):
    mid = 0.5 * (lo + hi)
    if t_cdf(mid, df) < p:
      lo = mid
    else:
      hi = mid
    if hi - lo < 1e-10:
      break
  return 0.5 * (lo + hi)


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
