"""Cone statistics of one set of vectors, in O(N d) memory.

All statistics are of the L2-normalised rows ``u_i = x_i / |x_i|`` (the
overflow-safe ``row_scales`` of ``gaplab.nets.rows``). Cosines use uncentred
second moments (no mean is subtracted from ``x``).

Identities used (exact for unit vectors):

* mean over all N^2 pairs of u_i.u_j = |m|^2, m = mean_i u_i (diagonal included:
  the paper's Fig 2b convention);
* mean over distinct pairs = (N |m|^2 - 1) / (N - 1);
* 1 - cos_ij = |u_i - u_j|^2 / 2 and mean_{all pairs} (1 - cos) = mean_i |u_i - m|^2.

The last one gives 1 - mean cos without cancellation near the cone (cos -> 1):
it averages squared distances to the centroid instead of subtracting |m|^2 from
1. Pairwise extremes and the histogram use the centred Gram y_i.y_j with
y = u - m, so D_ij = 1 - cos_ij = (|y_i|^2 + |y_j|^2)/2 - y_i.y_j is small minus
small, not 1 minus nearly 1. They are computed over blocks of rows, visiting each
unordered block pair once, so memory stays O(N * block) and the Gram costs about
N^2 d / 2 multiply-adds.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from gaplab.nets.rows import row_scales, unit_rows  # noqa: F401 (unit_rows: public here too)

# Statistic name -> meaning; arrays of these shapes come out of `cone_stats`.
SCALARS = {
    "mean_cos": "mean cosine over distinct pairs i != j",
    "one_minus_mean_cos": "1 - mean_cos, computed stably",
    "mean_cos_diag": "mean cosine over all N^2 pairs, diagonal included "
                     "(the paper's Fig 2b convention) = |centroid|^2",
    "centroid_norm": "|mean of unit vectors|",
    "cone_radius": "max angle (radians) between a unit vector and the "
                   "centroid direction",
    "min_cos": "minimum cosine over distinct pairs",
    "max_cos": "maximum cosine over distinct pairs",
    "one_minus_max_cos": "1 - max_cos, computed stably",
    "q": "mean squared length per coordinate |x|^2/d (before normalising)",
    "frac_degenerate": "fraction of rows that are zero or non-finite "
                       "(their cosines are undefined; statistics become NaN)",
}
PAIRWISE = ("min_cos", "max_cos", "one_minus_max_cos")
MAX_PAIRWISE_SAMPLES = 46340  # N^2/2 pair counts must fit int32 histograms
# Statistics always use full-precision matmuls, whatever the network uses: a
# reduced-precision Gram (TF32 on GPUs) would swamp 1 - cos near the cone.
_HIGHEST = jax.lax.Precision.HIGHEST


def hist_edges(n_bins: int):
  """Edges of the fixed cosine histogram: n_bins equal bins on [-1, 1]."""
  import numpy as np
  return np.linspace(-1.0, 1.0, n_bins + 1)


def block_size(n: int, block: int) -> int:
  """Rows per block: a divisor of n near ``block`` when one exists (no padding,
  so off-diagonal blocks need no mask), else ``block``."""
  if n <= block:
    return n
  for b in range(block, block // 2, -1):
    if n % b == 0:
      return b
  return block


def _block_pairs(nb: int):
  """(rows, cols) block indices visiting each unordered pair of distinct blocks
  once: row block I meets I+1, ..., I+k (mod nb); with nb even the offset nb/2
  would meet each pair twice, so it is kept for I < nb/2 only."""
  import numpy as np
  k = (nb - 1) // 2
  sets = []
  if k:
    rows = np.arange(nb)
    sets.append((rows, (rows[:, None] + np.arange(1, k + 1)[None]) % nb))
  if nb % 2 == 0 and nb > 1:
    rows = np.arange(nb // 2)
    sets.append((rows, (rows + nb // 2)[:, None]))
  return sets


def _pairwise(y, sy, *, n_bins: int, block: int):
  """(min D, max D, histogram of cos) over pairs i < j; D = 1 - cos."""
  n, d = y.shape
  b = block_size(n, block)
  nb = -(-n // b)
  pad = nb * b - n
  yb = jnp.pad(y, ((0, pad), (0, 0))).reshape(nb, b, d)
  sb = jnp.pad(sy, (0, pad)).reshape(nb, b)
  valid = (jnp.arange(nb * b) < n).reshape(nb, b)
  upper = jnp.arange(b)[:, None] < jnp.arange(b)[None, :]

  def reduce(i, cols, diagonal):
    g = jnp.einsum("id,kjd->kij", yb[i], yb[cols], precision=_HIGHEST)
    dist = 0.5 * (sb[i][None, :, None] + sb[cols][:, None, :]) - g
    mask = upper[None] if diagonal else None
    if pad:
      m = valid[i][None, :, None] & valid[cols][:, None, :]
      mask = m if mask is None else mask & m
    masked = lambda a, fill: a if mask is None else jnp.where(mask, a, fill)
    # bin of cos = 1 - D on [-1, 1]; masked entries go to an overflow bin
    idx = jnp.clip(jnp.floor((2.0 - dist) * (0.5 * n_bins)).astype(jnp.int32),
                   0, n_bins - 1)
    hist = jnp.zeros(n_bins + 1, jnp.int32).at[masked(idx, n_bins).ravel()].add(1)
    return (jnp.min(masked(dist, jnp.inf)), jnp.max(masked(dist, -jnp.inf)),
            hist[:n_bins])

  rows = jnp.arange(nb)
  parts = [jax.lax.map(lambda i: reduce(i, i[None], True), rows)]
  for r, c in _block_pairs(nb):
    parts.append(jax.lax.map(lambda a: reduce(a[0], a[1], False),
                             (jnp.asarray(r), jnp.asarray(c))))
  dmin = jnp.min(jnp.concatenate([p[0] for p in parts]))
  dmax = jnp.max(jnp.concatenate([p[1] for p in parts]))
  hist = sum(jnp.sum(p[2], axis=0) for p in parts)
  return dmin, dmax, hist


def cone_stats(x, *, n_bins: int = 50, block: int = 256, pairwise: bool = True):
  """Cone statistics of the rows of ``x`` (N, d): a dict of scalars + ``hist``.

  ``hist`` counts distinct unordered pairs per cosine bin (``hist_edges``).
  Without ``pairwise``, or when a row is zero or non-finite, the pairwise
  entries are NaN and ``hist`` is all -1.
  """
  n, d = x.shape
  r, sq, ok_rows = row_scales(x)
  m = jnp.matmul(r, x, precision=_HIGHEST) / n  # centroid of the unit rows
  msq = jnp.sum(m * m)
  y = x * r[:, None] - m
  sy = jnp.sum(y * y, axis=-1)
  spread = jnp.mean(sy)  # = 1 - |m|^2, without cancellation
  one_minus = spread * (n / (n - 1))
  mean_cos = jnp.where(msq < 0.5, (n * msq - 1) / (n - 1), 1 - one_minus)
  # Angle to the centroid direction mhat = m/mu from |u_i - mhat|^2, which for
  # unit u_i equals sy_i - ((1 - mu)/mu) (spread - sy_i) + (1 - mu)^2, because
  # m.y_i = (1 - mu^2 - sy_i)/2; 1 - mu = spread/(1 + mu). No pass over u.
  mu = jnp.sqrt(msq)
  gap = spread / (1 + mu)
  chord2 = sy - (gap / mu) * (spread - sy) + gap * gap
  chord = jnp.sqrt(jnp.maximum(chord2, 0))
  radius = jnp.max(2 * jnp.arcsin(jnp.minimum(chord / 2, 1)))
  out = {
      "mean_cos": mean_cos,
      "one_minus_mean_cos": one_minus,
      "mean_cos_diag": msq,
      "centroid_norm": mu,
      "cone_radius": radius,
      "q": jnp.mean(sq) / d,
      "frac_degenerate": jnp.mean((~ok_rows).astype(x.dtype)),
  }
  if pairwise:
    dmin, dmax, hist = _pairwise(y, sy, n_bins=n_bins, block=block)
    # a zero or non-finite row makes cosines undefined: say so, don't skip it
    ok = jnp.all(ok_rows)
    nan = jnp.array(jnp.nan, x.dtype)
    dmin, dmax = jnp.where(ok, dmin, nan), jnp.where(ok, dmax, nan)
    out.update(min_cos=1 - dmax, max_cos=1 - dmin, one_minus_max_cos=dmin,
               hist=jnp.where(ok, hist, -1))
  else:
    nan = jnp.array(jnp.nan, x.dtype)
    out.update(min_cos=nan, max_cos=nan, one_minus_max_cos=nan,
               hist=jnp.full((n_bins,), -1, jnp.int32))
  return out
