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

``mean_stats`` (O(N d)) and ``pairwise_stats`` (O(N^2 d)) are the two halves
of ``cone_stats``, so a sweep can measure the second at chosen layers only.
The histogram bins each pair by ``bin_index`` (floor((cos + 1) n_bins / 2),
clipped) and counts the bins with one flat 1-D scatter-add per call, also
under ``vmap`` (``_counter``).
"""
from __future__ import annotations

import functools

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


@functools.lru_cache(maxsize=None)
def _counter(n: int):
  """``counts(idx)``: occurrences of each value 0..n-1 in the 1-D int array
  ``idx`` (every value must lie in [0, n)), as an (n,) int32 array.

  One 1-D scatter-add. XLA's CPU scatter is a serial loop, about 2 ns per
  element when the indices are one flat array in cache, but a batched scatter
  (what ``vmap`` makes of it: the sweep measures seeds x variants at once) takes
  5-15 ns per element, and the scatter-free forms tried (compare-and-reduce
  against the n edges, one-hot sums, a two-level one-hot matmul) 50-200 ns per
  element on XLA CPU (``gaplab bench cone``'s machine, 2 cores). So under
  ``vmap`` the batch is folded into the values instead (row b counts into
  b*n .. b*n + n - 1) and the counts stay one 1-D scatter, at any vmap depth.
  """
  @jax.custom_batching.custom_vmap
  def counts(idx):
    return jnp.zeros(n, jnp.int32).at[idx].add(1, mode="promise_in_bounds")

  @counts.def_vmap
  def _batched(axis_size, in_batched, idx):  # idx: (axis_size, P)
    del in_batched
    offsets = (jnp.arange(axis_size, dtype=idx.dtype) * n)[:, None]
    flat = _counter(axis_size * n)((idx + offsets).reshape(-1))
    return flat.reshape(axis_size, n), True

  return counts


def bin_index(dist, n_bins: int):
  """Histogram bin of cos = 1 - ``dist`` on ``n_bins`` equal bins of [-1, 1]:
  floor((cos + 1) n_bins / 2), clipped to [0, n_bins - 1], computed as
  floor((2 - dist) * (n_bins / 2)) in the array's dtype. A cosine exactly on an
  interior edge goes to the bin above it, cos = 1 (and beyond, by rounding) to
  the last bin, cos = -1 (and below) to the first: np.histogram's convention
  (bins closed on the left, the last also on the right)."""
  return jnp.clip(jnp.floor((2.0 - dist) * (0.5 * n_bins)).astype(jnp.int32),
                  0, n_bins - 1)


def histogram(dist, n_bins: int, mask=None):
  """(n_bins,) int32 counts of ``bin_index(dist)`` over all entries of
  ``dist`` (any shape), or over those where ``mask`` is True."""
  idx = bin_index(dist, n_bins)
  if mask is not None:  # masked entries go to an overflow bin, then dropped
    idx = jnp.where(mask, idx, n_bins)
  return _counter(n_bins + 1)(idx.reshape(-1))[:n_bins]


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
    full = None if mask is None else jnp.broadcast_to(mask, dist.shape)
    return (jnp.min(masked(dist, jnp.inf)), jnp.max(masked(dist, -jnp.inf)),
            histogram(dist, n_bins, full))

  rows = jnp.arange(nb)
  parts = [jax.lax.map(lambda i: reduce(i, i[None], True), rows)]
  for r, c in _block_pairs(nb):
    parts.append(jax.lax.map(lambda a: reduce(a[0], a[1], False),
                             (jnp.asarray(r), jnp.asarray(c))))
  dmin = jnp.min(jnp.concatenate([p[0] for p in parts]))
  dmax = jnp.max(jnp.concatenate([p[1] for p in parts]))
  # int32 whatever jax's x64 setting: MAX_PAIRWISE_SAMPLES keeps counts in range
  hist = sum(jnp.sum(p[2], axis=0, dtype=jnp.int32) for p in parts)
  return dmin, dmax, hist


def mean_stats(x):
  """The statistics of the rows of ``x`` (N, d) that need no pass over pairs:
  (dict of the ``SCALARS`` but ``PAIRWISE``, aux), O(N d) work.

  ``aux = (r, m, sy, ok_rows)``: row scales (N,) (u_i = r_i x_i), the centroid
  m (d,) of the unit rows, sy_i = |u_i - m|^2 (N,) and the rows that are
  finite and nonzero (N,): what ``pairwise_stats`` needs besides ``x``.
  """
  n, d = x.shape
  r, sq, ok_rows = row_scales(x)
  m = jnp.matmul(r, x, precision=_HIGHEST) / n  # centroid of the unit rows
  msq = jnp.sum(m * m)
  sy = jnp.sum(jnp.square(_centred(x, r, m)), axis=-1)
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
  return out, (r, m, sy, ok_rows)


def _centred(x, r, m):
  """y = u - m, the centred unit rows (N, d). Recomputed where needed, the
  same expression each time, so that the mean-only path never writes it."""
  return x * r[:, None] - m


def pairwise_stats(x, aux, *, n_bins: int = 50, block: int = 256):
  """The ``PAIRWISE`` statistics and ``hist`` of the rows of ``x`` (N, d),
  given ``aux`` from ``mean_stats(x)``: O(N^2 d / 2) work, O(N block) memory.
  NaN (hist all -1) when a row is zero or non-finite."""
  r, m, sy, ok_rows = aux
  dmin, dmax, hist = _pairwise(_centred(x, r, m), sy, n_bins=n_bins, block=block)
  # a zero or non-finite row makes cosines undefined: say so, don't skip it
  ok = jnp.all(ok_rows)
  nan = jnp.array(jnp.nan, x.dtype)
  dmin, dmax = jnp.where(ok, dmin, nan), jnp.where(ok, dmax, nan)
  return dict(min_cos=1 - dmax, max_cos=1 - dmin, one_minus_max_cos=dmin,
              hist=jnp.where(ok, hist, -1))


def pairwise_skipped(dtype, n_bins: int, batch: tuple = ()):
  """What stands for the pairwise statistics where they are not computed:
  NaN scalars and a histogram of -1, with leading shape ``batch``."""
  nan = jnp.full(batch, jnp.nan, dtype)
  return dict(min_cos=nan, max_cos=nan, one_minus_max_cos=nan,
              hist=jnp.full(batch + (n_bins,), -1, jnp.int32))


def cone_stats(x, *, n_bins: int = 50, block: int = 256, pairwise: bool = True):
  """Cone statistics of the rows of ``x`` (N, d): a dict of scalars + ``hist``.

  ``hist`` counts distinct unordered pairs per cosine bin (``hist_edges``,
  ``bin_index``). Without ``pairwise``, or when a row is zero or non-finite,
  the pairwise entries are NaN and ``hist`` is all -1.
  """
  out, aux = mean_stats(x)
  if pairwise:
    out.update(pairwise_stats(x, aux, n_bins=n_bins, block=block))
  else:
    out.update(pairwise_skipped(x.dtype, n_bins))
  return out
