"""Different seeds, different cones: analyses of K random initialisations'
embeddings of the same (or comparable) inputs, ``emb`` of shape (K, N, D).

All in NumPy float64 on L2-normalised rows; cosines are uncentred.
"""
from __future__ import annotations

import numpy as np

from gaplab._errors import ConfigError


def _unit(emb, field="emb"):
  e = np.asarray(emb, np.float64)
  if e.ndim != 3 or e.shape[0] < 2 or e.shape[1] < 2:
    raise ConfigError(field, f"expected (K >= 2 seeds, N >= 2 rows, D) embeddings, "
                      f"got shape {e.shape}")
  norms = np.linalg.norm(e, axis=-1, keepdims=True)
  if not np.all(np.isfinite(e)) or np.any(norms == 0):
    raise ConfigError(field, "expected finite, nonzero rows")
  return e / norms


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


def _share(h):
  """ANOVA between-seed share of (K, N, n) raw outputs, pooled over coordinates."""
  k, n, _ = h.shape
  means = h.mean(axis=1)  # (K, n)
  within = h.var(axis=1, ddof=1).mean()
  s_between = means.var(axis=0, ddof=1).mean()
  between = s_between - within / n  # E[S_between] = between + within / N
  return between / (between + within)


def variance_share(h) -> tuple[float, float]:
  """(R, standard error): R = Var_Θ(E_U[h | Θ]) / Var(h), the share of an
  output coordinate's variance due to the random initialisation Θ (Theorem 2
  of Liang et al.), from K seeds x N inputs x n coordinates (exchangeable, so
  pooled). The between-seed variance of the per-seed means is corrected for
  its within-seed part (one-way ANOVA: E[S_between] = between + within / N);
  the error is the delete-one-seed jackknife."""
  h = np.asarray(h, np.float64)
  if h.ndim != 3 or h.shape[0] < 3 or h.shape[1] < 2:
    raise ConfigError("h", f"expected (K >= 3 seeds, N >= 2 inputs, n) outputs, got "
                      f"shape {h.shape}")
  k = h.shape[0]
  full = _share(h)
  loo = np.array([_share(np.delete(h, i, axis=0)) for i in range(k)])
  se = np.sqrt((k - 1) / k * np.sum((loo - loo.mean()) ** 2))
  return float(full), float(se)


def projection_beta(x) -> float:
  """beta = E[x.x'] / E[x.x] over independent inputs x, x' of one seed, from
  (K, N, F) features (distinct pairs: unbiased). For z = W x with W zero-mean,
  i.i.d. and independent of x (a random bias-free projection), the variance
  share of z is exactly beta in expectation (Theorem 2's bound, with equality)."""
  x = np.asarray(x, np.float64)
  k, n, _ = x.shape
  s = x.sum(axis=1)
  sq = np.sum(x * x, axis=(1, 2))
  off = (np.sum(s * s, axis=1) - sq) / (n * (n - 1))
  return float(off.mean() / (sq / n).mean())
