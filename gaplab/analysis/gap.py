"""The modality gap between two sets of embeddings, and its decomposition.

For unit vectors the squared norm of the centroid is the mean cosine over all
N^2 pairs, diagonal included (|mean x|^2 = (1/N^2) sum_ij x_i.x_j). So with
mu_A, mu_B the centroids of the L2-normalised rows,

    gap^2 = |mu_A - mu_B|^2 = c_A + c_B - 2 mu_A.mu_B,   c = |mu|^2.

Two independently initialised encoders have mu_A.mu_B ~ 0 only when their
outputs are sign-symmetric (a final linear projection, an odd activation);
non-negative outputs (ReLU) share the positive orthant and the cross term does
not vanish, so the gap at init is then smaller than sqrt(c_A + c_B).

Mean field: a unit of network A averages phi over the inputs, and A's and B's
units are independent with mean m = E[phi(sqrt(q) z)] each, so at infinite
width mu_A.mu_B -> m^2 / E[phi^2] (``predicted_cross``; ReLU: 1/pi) for inputs
whose last-layer pre-activations have variance q.
"""
from __future__ import annotations

import numpy as np

from gaplab.theory import meanfield as mf
from gaplab._errors import ConfigError
from gaplab.nets.rows import checked_unit_rows


def decomposition(x, y) -> dict:
  """Gap between embeddings ``x`` (N, D) and ``y`` (M, D), rows in any order.

  Returns ``gap`` = |mu_A - mu_B| (from the difference itself, so it stays
  accurate when the gap is small), ``c_a``, ``c_b`` (mean cosine with the
  diagonal = |mu|^2), ``cross`` = mu_A.mu_B, and ``cross_cos`` = the cosine
  between the two centroids. gap^2 = c_a + c_b - 2 cross up to rounding.
  """
  u, v = checked_unit_rows(x, "x"), checked_unit_rows(y, "y")
  if u.shape[1] != v.shape[1]:
    raise ConfigError("y", f"expected {u.shape[1]} columns like the first array, got {v.shape[1]}")
  mu_a, mu_b = u.mean(axis=0), v.mean(axis=0)
  c_a, c_b, cross = mu_a @ mu_a, mu_b @ mu_b, mu_a @ mu_b
  return {"gap": float(np.linalg.norm(mu_a - mu_b)), "c_a": float(c_a),
          "c_b": float(c_b), "cross": float(cross),
          "cross_cos": float(cross / np.sqrt(c_a * c_b)) if c_a * c_b > 0 else float("nan")}


def predicted_cross(act, q) -> np.ndarray:
  """Infinite-width mu_A.mu_B of two independently initialised networks whose
  last layer is ``act`` on pre-activations of variance q: E[phi]^2 / E[phi^2]."""
  return mf.first_moment(act, q) ** 2 / mf.second_moment(act, q)
