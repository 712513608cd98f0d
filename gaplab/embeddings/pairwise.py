"""Pairwise (O(N^2)) statistics of embeddings: uniformity, cone statistics and
cosine histograms, in bounded memory.

Inputs are unit rows (N, D), float32 or float64; for two modalities row i of
``a`` pairs with row i of ``b``. A pairwise statistic is exact (all distinct
pairs, visited over row-block pairs, never an (N, N) array) up to ``max_rows``
rows; above that it is computed on a random subset of ``max_rows`` rows
(``blocks.subset``) and reported with the subset size and, for uniformity, a
standard error.

* ``uniformity`` (Wang & Isola 2020, their ``lunif`` with t = 2):
  log mean_{i != j} exp(-t |u_i - u_j|^2), |u_i - u_j|^2 = 2 - 2 u_i.u_j
  clamped at 0, the diagonal excluded: the semantics of
  ``gaplab.contrastive.metrics.uniformity``. Accumulated in float64 as per-row
  log-sum-exps, so any t > 0 is safe from underflow.
* ``cone``: ``gaplab.cone.stats.cone_stats`` of one modality (mean cosine over
  distinct pairs, |centroid|, angular radius, min/max pairwise cosine);
  mean_cos = (N |m|^2 - 1)/(N - 1), 1 - mean_cos = N/(N-1) mean_i |u_i - m|^2
  (m the centroid), radius = max_i angle(u_i, m/|m|) = 2 arcsin(|u_i - m/|m||/2).
  The O(N) ones always use every row.
* ``cosine_histograms``: counts of cosines within each modality (distinct
  pairs), across (a_i.b_j, i != j) and matched (a_i.b_i) on a row subset.

Standard error of the subset uniformity. The estimate is log U, U the
U-statistic mean_{i != j} k_ij over the m subset rows, k_ij = exp(-t |u_i - u_j|^2).
Its variance has the closed form (Hoeffding 1948, order-2 kernel)
  Var(U) = (4 (m - 2) zeta_1 + 2 zeta_2) / (m (m - 1)),
  zeta_1 = Cov(k_ij, k_il) (pairs sharing one row), zeta_2 = Var(k_ij),
estimated from the subset's row sums r_i = sum_{j != i} k_ij and square sums
q_i = sum_{j != i} k_ij^2 (both accumulated in the same blocked pass):
  zeta_1 ~ (sum_i r_i^2 - sum_i q_i) / (m (m-1) (m-2)) - U^2,
  zeta_2 ~ sum_i q_i / (m (m-1)) - U^2,
plug-in estimates whose bias (-Var(U)) is O(1/m) relative. Both terms are
kept: near a uniform distribution zeta_1 -> 0 and the zeta_2 term dominates
(the jackknife, 4 zeta_1 / m alone plus noise, then overstates the error up to
~1.4x in standard deviation). The variance is multiplied by the first-order
finite-population correction (1 - m/N) (the subset is drawn without
replacement from the N rows, whose statistic is the target) and carried to
log U by the delta method: se(log U) = sqrt(Var(U)) / U.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp

from gaplab.cone.stats import MAX_PAIRWISE_SAMPLES, cone_stats
from gaplab.embeddings.blocks import f64, row_blocks, subset

# Rows up to which pairwise statistics are exact. All distinct pairs of 20000
# rows are 2e8; at D = 1024 their Gram is N^2 D / 2 = 2e11 multiply-adds,
# about 30 s of float64 BLAS on two CPU cores (1.3 s measured at N = 4000), and
# the row subset itself is 20000 x 1024 x 4 B = 80 MB. Beyond it the subset
# estimate's standard error, falling as 1/sqrt(m), is ~0.002 (log units) for
# the anisotropic cone of the tests (0.012 at m = 500), far below the gaps
# between models the metric is used to show. It is also
# under cone_stats' MAX_PAIRWISE_SAMPLES (46340, int32 pair counts).
MAX_EXACT = 20000
BLOCK = 1024  # rows per block: a 1024 x 1024 float64 Gram is 8 MiB
_CONE_BINS = 10  # cone_stats' histogram is not reported; keep it cheap


def _check_rows(u, name: str = "u", min_rows: int = 2):
  if u.ndim != 2 or u.shape[0] < min_rows:
    raise ValueError(f"Expected {name} of shape (N, D) with N >= {min_rows}, got {u.shape}")


def _check_max_rows(max_rows: int, least: int = 2):
  if max_rows < least:
    raise ValueError(f"Expected max_rows >= {least}, got {max_rows}")


def _row_lse(u: np.ndarray, t: float, block: int, squares: bool = True):
  """(log r_i, log q_i) for every row of ``u``, r_i = sum_{j != i} k_ij and
  q_i = sum_{j != i} k_ij^2 with log k_ij = -t max(2 - 2 u_i.u_j, 0), float64,
  visiting each unordered pair of row blocks once (q only with ``squares``)."""
  n = u.shape[0]
  out = np.full(n, -np.inf)
  out2 = np.full(n, -np.inf)
  sl = list(row_blocks(n, block))
  for bi, si in enumerate(sl):
    x = f64(u[si])
    for sj in sl[bi:]:
      diagonal = sj == si
      y = x if diagonal else f64(u[sj])
      logits = -t * np.maximum(2.0 - 2.0 * (x @ y.T), 0.0)
      if diagonal:
        np.fill_diagonal(logits, -np.inf)
      out[si] = np.logaddexp(out[si], logsumexp(logits, axis=1))
      if not diagonal:
        out[sj] = np.logaddexp(out[sj], logsumexp(logits, axis=0))
      if squares:
        out2[si] = np.logaddexp(out2[si], logsumexp(2 * logits, axis=1))
        if not diagonal:
          out2[sj] = np.logaddexp(out2[sj], logsumexp(2 * logits, axis=0))
  return out, out2


def uniformity(u, key, *, t: float = 2.0, max_rows: int = MAX_EXACT,
               block: int = BLOCK) -> dict:
  """Wang & Isola's uniformity log mean_{i != j} exp(-t |u_i - u_j|^2).

  Exact on all rows when N <= max_rows (``stderr`` 0); else on a random subset
  of ``max_rows`` rows drawn with ``key``, with the standard error of the
  module docstring. Returns {"value", "stderr", "n_used", "exact"}.
  """
  u = np.asarray(u)
  _check_rows(u)
  _check_max_rows(max_rows, 3)
  if not t > 0:
    raise ValueError(f"Expected t > 0, got {t}")
  n = u.shape[0]
  idx = subset(key, n, max_rows)
  m = len(idx)
  exact = m == n
  lse, lse2 = _row_lse(u if exact else u[idx], float(t), block, squares=not exact)
  value = float(logsumexp(lse) - math.log(m * (m - 1)))
  stderr = 0.0
  if not exact:
    top = lse.max()  # k_ij scaled by exp(-top), k_ij^2 by exp(-2 top): no overflow
    r, q = np.exp(lse - top), np.exp(lse2 - 2 * top)
    mean = r.sum() / (m * (m - 1))
    zeta1 = (np.sum(r * r) - q.sum()) / (m * (m - 1) * (m - 2)) - mean ** 2
    zeta2 = q.sum() / (m * (m - 1)) - mean ** 2
    var = max((4 * (m - 2) * zeta1 + 2 * zeta2) / (m * (m - 1)), 0.0) * (1 - m / n)
    stderr = float(math.sqrt(var) / mean)
  return {"value": value, "stderr": stderr, "n_used": int(m), "exact": bool(exact)}


@functools.partial(jax.jit, static_argnames=("block",))
def _cone_stats_jit(x, block: int):
  return cone_stats(x, n_bins=_CONE_BINS, block=block, pairwise=True)


def _unit_f64(x: np.ndarray) -> np.ndarray:
  x = f64(x)
  return x / np.linalg.norm(x, axis=1, keepdims=True)


def _cone_linear(u: np.ndarray, block: int) -> dict:
  """The O(N) cone statistics of all rows of ``u`` in float64 over row blocks
  (two passes: the centroid, then distances to it), rows renormalised in
  float64 as cone_stats renormalises them."""
  n, d = u.shape
  unit = lambda s: _unit_f64(u[s])
  m = np.zeros(d)
  for s in row_blocks(n, block):
    m += unit(s).sum(axis=0)
  m /= n
  msq = float(m @ m)
  mu = math.sqrt(msq)
  mhat = m / mu if mu > 0 else np.full(d, np.nan)
  spread, chord = 0.0, 0.0
  for s in row_blocks(n, block):
    x = unit(s)
    spread += float(np.sum((x - m) ** 2))
    chord = max(chord, float(np.max(np.linalg.norm(x - mhat, axis=1))))
  spread /= n  # mean_i |u_i - m|^2 = 1 - |m|^2 without cancellation
  one_minus = spread * n / (n - 1)
  mean_cos = (n * msq - 1) / (n - 1) if msq < 0.5 else 1 - one_minus
  return {"mean_cos": mean_cos, "one_minus_mean_cos": one_minus,
          "mean_cos_diag": msq, "centroid_norm": mu,
          "cone_radius_deg": math.degrees(2 * math.asin(min(chord / 2, 1.0)))}


def cone(u, key, *, max_rows: int = MAX_EXACT, block: int = BLOCK) -> dict:
  """Cone statistics of one modality's unit rows ``u`` (N, D).

  The pairwise extremes come from ``cone_stats`` (jitted, float64 when jax x64
  is enabled, else float32: ``dtype``) on all rows when N <= max_rows, else on
  a random subset of ``max_rows`` rows drawn with ``key``. The O(N) statistics
  (mean_cos, one_minus_mean_cos, mean_cos_diag, centroid_norm,
  cone_radius_deg) always come from every row in float64 over row blocks (the
  radius is a max over all rows: exact), whatever jax's precision. ``n_used`` is N, ``pairwise_n_used`` the rows
  min_cos / max_cos / one_minus_max_cos are over, ``exact`` whether that is N.
  """
  u = np.asarray(u)
  _check_rows(u)
  _check_max_rows(max_rows)
  if max_rows > MAX_PAIRWISE_SAMPLES:
    raise ValueError(f"Expected max_rows <= {MAX_PAIRWISE_SAMPLES} (cone_stats' "
                     f"pairwise limit), got {max_rows}")
  n = u.shape[0]
  idx = subset(key, n, max_rows)
  exact = len(idx) == n
  dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
  s = _cone_stats_jit(jnp.asarray(u if exact else u[idx], dtype), block=block)
  out = _cone_linear(u, block)  # the O(N) statistics: every row, float64, always
  out.update(min_cos=float(s["min_cos"]), max_cos=float(s["max_cos"]),
             one_minus_max_cos=float(s["one_minus_max_cos"]), n_used=int(n),
             pairwise_n_used=int(len(idx)), exact=bool(exact),
             dtype=jnp.dtype(dtype).name)
  return out


def _hist(c: np.ndarray, bins: int) -> np.ndarray:
  """Counts of the cosines ``c`` (clipped to [-1, 1]: rounding may step past
  +-1) in ``bins`` equal bins on [-1, 1], the last one closed."""
  return np.histogram(np.clip(c, -1.0, 1.0), bins=bins, range=(-1.0, 1.0))[0]


def cosine_histograms(a, b, key, *, bins: int = 100, max_rows: int = 5000,
                      block: int = BLOCK) -> dict:
  """Histograms of cosines on one random subset of ``max_rows`` pairs (the same
  rows of both modalities, so pairs stay paired), float64 over block pairs.

  ``within_a`` / ``within_b``: distinct unordered pairs (m (m-1)/2 each);
  ``across``: a_i.b_j over ordered i != j (m (m-1)); ``matched``: a_i.b_i (m).
  Returns those int64 counts, ``edges`` (bins + 1, on [-1, 1]) and ``n_used``.
  """
  a, b = np.asarray(a), np.asarray(b)
  _check_rows(a, "a")
  if b.shape != a.shape:
    raise ValueError(f"Expected b of the shape of a {a.shape}, got {b.shape}")
  _check_max_rows(max_rows)
  if bins < 1:
    raise ValueError(f"Expected bins >= 1, got {bins}")
  idx = subset(key, a.shape[0], max_rows)
  m = len(idx)
  if m < a.shape[0]:
    a, b = a[idx], b[idx]
  out = {k: np.zeros(bins, np.int64) for k in ("within_a", "within_b", "across", "matched")}
  sl = list(row_blocks(m, block))
  for bi, si in enumerate(sl):
    xa, xb = f64(a[si]), f64(b[si])
    upper = np.triu_indices(si.stop - si.start, 1)
    for bj, sj in enumerate(sl):
      ya, yb = (xa, xb) if bj == bi else (f64(a[sj]), f64(b[sj]))
      cross = xa @ yb.T
      if bj == bi:
        out["matched"] += _hist(np.diagonal(cross), bins)
        out["across"] += _hist(cross[~np.eye(len(cross), dtype=bool)], bins)
        out["within_a"] += _hist((xa @ xa.T)[upper], bins)
        out["within_b"] += _hist((xb @ xb.T)[upper], bins)
      else:
        out["across"] += _hist(cross, bins)
        if bj > bi:
          out["within_a"] += _hist(xa @ ya.T, bins)
          out["within_b"] += _hist(xb @ yb.T, bins)
  out.update(edges=np.linspace(-1.0, 1.0, bins + 1), n_used=int(m))
  return out
