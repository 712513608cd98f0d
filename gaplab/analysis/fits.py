"""Scaling exponents: a weighted least-squares line on a log-log sweep."""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class PowerLaw:
  """y ≈ amplitude * x**slope; ``slope_se`` is the slope's standard error."""
  slope: float
  slope_se: float
  amplitude: float
  n_points: int

  def predict(self, x):
    return self.amplitude * np.asarray(x, np.float64) ** self.slope


def loglog_slope(x, y, y_se=None) -> PowerLaw:
  """Fits log y = log a + slope * log x.

  ``y_se`` (standard errors of ``y``) weights each point by 1 / var(log y) with
  var(log y) ≈ (y_se / y)^2 (the delta method), and the slope's standard error
  is then the weighted-least-squares one. Without ``y_se`` the points weigh the
  same and the standard error comes from the residual scatter. Points with
  y <= 0 or non-finite values are dropped; at least two must remain (three for
  a residual standard error).
  """
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  if x.shape != y.shape or x.ndim != 1:
    raise ValueError(f"Expected 1-D x and y of one shape, got {x.shape} and {y.shape}")
  keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
  se = None
  if y_se is not None:
    se = np.asarray(y_se, np.float64)
    keep &= np.isfinite(se) & (se > 0)
  if keep.sum() < 2:
    raise ValueError(f"Expected at least 2 positive finite points, got {int(keep.sum())}")
  lx, ly = np.log(x[keep]), np.log(y[keep])
  a = np.stack([np.ones_like(lx), lx], axis=1)
  if se is not None:
    w = (y[keep] / se[keep]) ** 2
    cov = np.linalg.inv(a.T @ (a * w[:, None]))
    coef = cov @ (a.T @ (w * ly))
    slope_se = float(np.sqrt(cov[1, 1]))
  else:
    coef, *_ = np.linalg.lstsq(a, ly, rcond=None)
    n = len(lx)
    if n > 2:
      resid = ly - a @ coef
      s2 = resid @ resid / (n - 2)
      slope_se = float(np.sqrt(s2 / np.sum((lx - lx.mean()) ** 2)))
    else:
      slope_se = float("nan")
  return PowerLaw(float(coef[1]), slope_se, float(np.exp(coef[0])), int(keep.sum()))
