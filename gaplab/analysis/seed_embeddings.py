"""Different seeds, different cones: analyses of K random initialisations'
embeddings of the same (or comparable) inputs, ``emb`` of shape (K, N, D).

All in NumPy float64 on L2-normalised rows; cosines are uncentred.
"""
from __future__ import annotations

import numpy as np

from gaplab._errors import ConfigError
from gaplab.nets.rows import checked_unit_rows


def _unit(emb, field="emb"):
  return checked_unit_rows(emb, field, ndim=3, min_shape=(2, 2),
                           expected="(K >= 2 seeds, N >= 2 rows, D) embeddings")


def seed_cosines(emb) -> dict:
  """Mean cosine within a seed (distinct pairs, averaged over seeds) and
  between seeds (every pair of rows from two different seeds), in O(K N D)
  from the per-seed sums of unit rows."""
  u = _unit(emb)
  k, n, _ = u.shape
  s = u.sum(axis=1)  # (K, D)
  gram = s @ s.T  # s_k . s_l
  within = (np.diag(gram) - n) / (n * (n - 1))
  off = ~np.eye(k, dtype=bool)
  between = gram[off] / (n * n)
  return {"within": float(within.mean()), "within_per_seed": within,
          "between": float(between.mean()), "between_per_pair": gram / (n * n)}


def nearest_centroid_accuracy(emb, train_fraction: float = 0.5) -> float:
  """Held-out accuracy of telling an embedding's seed from the embedding:
  the first ``train_fraction`` of each seed's rows give a centroid direction
  per seed, the rest are assigned to the seed of highest cosine. Chance 1/K."""
  u = _unit(emb)
  k, n, _ = u.shape
  m = int(round(train_fraction * n))
  if not 1 <= m < n:
    raise ConfigError("train_fraction", f"expected a split leaving rows on both "
                      f"sides of {n}, got {train_fraction!r}")
  cent = u[:, :m].mean(axis=1)
  cent /= np.maximum(np.linalg.norm(cent, axis=-1, keepdims=True), 1e-300)
  scores = u[:, m:] @ cent.T  # (K, N - m, K)
  return float(np.mean(np.argmax(scores, axis=-1) == np.arange(k)[:, None]))


def pca_spectrum(emb) -> np.ndarray:
  """Explained-variance ratios of the pooled, centred unit rows (descending).
  K separate narrow cones give about K - 1 dominant components (the centroids
  span K - 1 dimensions once the pooled mean is removed)."""
  u = _unit(emb)
  x = u.reshape(-1, u.shape[-1])
  x = x - x.mean(axis=0)
  sv = np.linalg.svd(x, compute_uv=False)
  var = sv * sv
  return var / var.sum()


def pca_project(emb, dims: int = 2) -> np.ndarray:
  """(K, N, dims): the pooled unit rows on their top principal directions."""
  u = _unit(emb)
  x = u.reshape(-1, u.shape[-1])
  mean = x.mean(axis=0)
  _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
  return ((x - mean) @ vt[:dims].T).reshape(u.shape[0], u.shape[1], dims)
