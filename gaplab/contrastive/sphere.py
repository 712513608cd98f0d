"""Mismatched pairs on a sphere: the paper's Fig 3e-g toy and its generalisation.

Both toys share one construction. Images x_i are unit vectors on the equator
(last coordinate 0) of S^{D-1}; a text is its paired image lifted to latitude
theta along the last axis e_D, after a permutation sigma of the pairs:

    y_i(theta) = cos(theta) x_sigma(i) + sin(theta) e_D.

Paper toy (D = 3, n = 6): longitudes -20, 0, ..., 80 degrees, texts at the
same longitudes and latitude theta = delta_theta; ``swap`` makes sigma the
transposition (0 1), so text 0 sits at image 1's longitude and vice versa.

Generalisation: n images x_i = (g_i, 0) / |g_i|, g_i ~ N(0, I_{D-1}) (uniform on
the equator sphere S^{D-2}); m = round(p n) pairs, chosen by a key, have their
texts cyclically permuted among themselves (i_1 -> i_2 -> ... -> i_m -> i_1: a
derangement of those m, so m = 1 is refused). With n = 6, D = 3, the paper's
images and m = 2 this *is* the paper's swap (a 2-cycle is a transposition).

Because sigma permutes, mean y = cos(theta) xbar + sin(theta) e_D with
xbar = mean x (on the equator, so orthogonal to e_D), and the gap is exactly

    gap(theta) = |mean x - mean y| = sqrt(sin^2 theta + (1 - cos theta)^2 |xbar|^2).

Since x_i . e_D = 0, x_i . y_j = cos(theta) C_ij with C = x x[sigma]^T, so the
loss at logit scale s is L_C(s cos theta), the symmetric CLIP loss of the fixed
matrix C at the *effective* scale t = s cos theta: lifting the texts acts as
raising the temperature. L_C(t) is convex in t (log-sum-exp of affine maps
minus a linear term), so it has one minimiser t* (infinite when no pair is
mismatched: every margin C_ii - C_ij > 0 then and L_C falls for ever). Hence the
exact optimum over theta is |theta*| = arccos(min(1, t*/s)): the gap stays
closed (theta* = 0) for s <= t*, and for s > t* theta = 0 is a local maximum
and the optimal gap is gap(arccos(t*/s)). The loss and the gap are even in theta,
and the two directions of the loss are equal (C = G P with G = x x^T symmetric
and P a permutation: rows and columns hold the same log-sum-exps).

Functions are pure and jit/vmap-able; input checks run on concrete values only.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from gaplab.contrastive import losses
from gaplab.contrastive.pairs import derangement
from gaplab._errors import ConfigError

PAPER_LONGITUDES = (-20.0, 0.0, 20.0, 40.0, 60.0, 80.0)
PAPER_LOGIT_SCALES = (1.0, 5.0, 35.0, 50.0, 100.0)
_T_RANGE = (1e-3, 1e4)  # bisection bracket for t*; beyond 1e4 reported as inf
_HIGHEST = jax.lax.Precision.HIGHEST


def _concrete(a) -> bool:
  return not isinstance(a, jax.core.Tracer)


def check_grid(name, values, lo=None, hi=None, positive=False) -> np.ndarray:
  """A non-empty finite 1-D float64 grid, optionally within [lo, hi] or > 0."""
  v = np.asarray(values, np.float64)
  if v.ndim != 1 or v.size == 0 or not np.all(np.isfinite(v)):
    raise ConfigError(name, f"expected a non-empty finite 1-D grid, got {v.tolist()}")
  if positive and np.any(v <= 0):
    raise ConfigError(name, f"expected values > 0, got {v.tolist()}")
  if lo is not None and (np.any(v < lo) or np.any(v > hi)):
    raise ConfigError(name, f"expected values in [{lo:g}, {hi:g}], got {v.tolist()}")
  return v


def check_int(name, value, least) -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
    raise ConfigError(name, f"expected an integer >= {least}, got {value!r}")
  return int(value)


def mismatch_counts(ps, n) -> np.ndarray:
  """m = round(p n) per fraction p in [0, 1]; m = 1 is refused (one pair
  cannot be mismatched among itself)."""
  ps = check_grid("p", ps, 0.0, 1.0)
  m = np.round(ps * n).astype(np.int64)
  if np.any(m == 1):
    raise ConfigError("p", f"expected round(p n) != 1 (n = {n}: one pair cannot be "
                           f"deranged alone), got p = {ps[m == 1].tolist()}")
  return m


def lift(x, theta):
  """Texts at latitude theta (radians): cos(theta) x + sin(theta) e_D, for x
  (n, D) on the equator (last coordinate 0)."""
  e = jnp.zeros(x.shape[-1], x.dtype).at[-1].set(1)
  return jnp.cos(theta) * x + jnp.sin(theta) * e


def paper_images(dtype=jnp.float64):
  """The toy's 6 images on the equator of S^2 at ``PAPER_LONGITUDES``."""
  lon = jnp.deg2rad(jnp.asarray(PAPER_LONGITUDES, dtype))
  return jnp.stack([jnp.cos(lon), jnp.sin(lon), jnp.zeros_like(lon)], axis=1)


def _paper_sigma(swap):
  if not isinstance(swap, bool):
    raise ConfigError("swap", f"expected a bool, got {swap!r}")
  return jnp.array([1, 0, 2, 3, 4, 5] if swap else list(range(6)))


def paper_toy(delta_theta_deg, swap: bool, dtype=jnp.float64):
  """(x, y) (6, 3): images on the equator, texts at latitude delta_theta_deg
  (in [-90, 90]); ``swap`` exchanges texts 0 and 1. Vmappable over delta."""
  sigma = _paper_sigma(swap)
  if _concrete(delta_theta_deg):
    check_grid("delta_theta_deg", np.atleast_1d(delta_theta_deg), -90.0, 90.0)
  x = paper_images(dtype)
  return x, lift(x[sigma], jnp.deg2rad(jnp.asarray(delta_theta_deg, dtype)))


def matrix_loss(logits):
  """(i2t + t2i) / 2 of an (n, n) logit matrix, positives on the diagonal."""
  i2t, t2i = losses.clip_directions_from_logits(logits)
  return 0.5 * (i2t + t2i)


def symmetric_loss(x, y, scale):
  """Symmetric CLIP loss of unit rows x, y at logit scale ``scale``."""
  return matrix_loss(scale * jnp.matmul(x, y.T, precision=_HIGHEST))


def centroid_gap(x, y):
  """|mean x - mean y|."""
  return jnp.linalg.norm(jnp.mean(x, axis=0) - jnp.mean(y, axis=0))


def gap_formula(theta, xbar_norm):
  """sqrt(sin^2 theta + (1 - cos theta)^2 |xbar|^2) (theta in radians)."""
  return jnp.sqrt(jnp.sin(theta) ** 2 + (1 - jnp.cos(theta)) ** 2 * xbar_norm ** 2)


def loss_slope(cmat, t, labels=None):
  """dL_C/dt at effective scale t, written as softmax-weighted margins
  sum_j w_ij (C_ij - C_{i,l_i}) (rows; columns alike with C_{l_j,j}) so that
  no 1 - 1 cancels: it is exactly <= 0 when every pair beats its row and
  column. ``labels`` l (n,): the target of row i and of column j, the same
  vector for both directions (default: the diagonal, l = arange(n))."""
  idx = jnp.arange(cmat.shape[0])
  labels = idx if labels is None else labels
  rows = jax.nn.softmax(t * cmat, axis=1) * (cmat - cmat[idx, labels][:, None])
  cols = jax.nn.softmax(t * cmat, axis=0) * (cmat - cmat[labels, idx][None, :])
  return 0.5 * (jnp.mean(jnp.sum(rows, axis=1)) + jnp.mean(jnp.sum(cols, axis=0)))


def optimal_scale(cmat, labels=None):
  """t* = argmin_t L_C(t) of the convex loss at effective scale t (targets
  ``labels``, default the diagonal), by 60 bisections on log t of the slope
  within ``_T_RANGE``: inf if L_C still falls at the top (always so without a
  mismatch), the bottom if it already rises there."""
  slope = functools.partial(loss_slope, cmat, labels=labels)
  lo, hi = (jnp.log(jnp.asarray(v, cmat.dtype)) for v in _T_RANGE)

  def step(_, bracket):
    a, b = bracket
    mid = 0.5 * (a + b)
    rises = slope(jnp.exp(mid)) > 0
    return jnp.where(rises, a, mid), jnp.where(rises, mid, b)

  a, b = jax.lax.fori_loop(0, 60, step, (lo, hi))
  t = jnp.where(slope(jnp.exp(hi)) > 0, jnp.exp(0.5 * (a + b)), jnp.inf)
  return jnp.where(slope(jnp.exp(lo)) > 0, jnp.exp(lo), t)


@jax.jit
def _toy_program(deltas_deg, scales, sigma):
  x = paper_images(deltas_deg.dtype)

  def one(delta):
    y = lift(x[sigma], jnp.deg2rad(delta))
    return jax.vmap(lambda s: symmetric_loss(x, y, s))(scales), centroid_gap(x, y)

  loss, gap = jax.vmap(one)(deltas_deg)
  return loss, gap, optimal_scale(jnp.matmul(x, x[sigma].T, precision=_HIGHEST))


def toy_curves(deltas_deg, scales, swap: bool):
  """Paper toy: loss (delta, scale), measured gap (delta,) and t*; one jitted
  program for both settings of ``swap`` (the permutation is an argument)."""
  sigma = _paper_sigma(swap)
  check_grid("deltas_deg", deltas_deg, -90.0, 90.0)
  check_grid("logit_scales", scales, positive=True)
  return _toy_program(jnp.asarray(deltas_deg), jnp.asarray(scales), sigma)


def equator_points(key, n, d, dtype=jnp.float64):
  """n unit vectors uniform on the equator S^{D-2} (last coordinate 0)."""
  g = jax.random.normal(key, (n, d - 1), dtype)
  g = g / jnp.linalg.norm(g, axis=1, keepdims=True)
  return jnp.concatenate([g, jnp.zeros((n, 1), dtype)], axis=1)


@dataclasses.dataclass(frozen=True)
class General:
  """Result of ``generalised``; NumPy arrays, axes named in the comments."""
  thetas_deg: np.ndarray    # (theta,)
  logit_scales: np.ndarray  # (scale,)
  ps: np.ndarray            # (p,)
  counts: np.ndarray        # (p,) mismatched pairs m = round(p n)
  loss: np.ndarray          # (seed, p, scale, theta)
  gap: np.ndarray           # (seed, p, theta) measured |mean x - mean y|
  gap_formula: np.ndarray   # (seed, theta)
  xbar_norm: np.ndarray     # (seed,)
  n_moved: np.ndarray       # (seed, p) pairs with sigma(i) != i
  loss_at_zero: np.ndarray  # (seed, p, scale) loss at theta = 0
  t_star: np.ndarray        # (seed, p) effective-scale minimiser (inf: none)


@functools.partial(jax.jit, static_argnames=("n", "d"))
def _general_program(keys, counts, scales, thetas, n, d):
  def one_seed(k):
    x = equator_points(jax.random.fold_in(k, 0), n, d, thetas.dtype)

    def one_p(m):
      sigma = derangement(jax.random.fold_in(k, 1), n, m)

      def one_theta(th):
        y = lift(x[sigma], th)
        return jax.vmap(lambda s: symmetric_loss(x, y, s))(scales), centroid_gap(x, y)

      loss, gap = jax.vmap(one_theta)(thetas)
      zero, _ = one_theta(jnp.zeros((), thetas.dtype))
      cmat = jnp.matmul(x, x[sigma].T, precision=_HIGHEST)
      return loss.T, gap, zero, optimal_scale(cmat), jnp.sum(sigma != jnp.arange(n))

    xbar = jnp.linalg.norm(jnp.mean(x, axis=0))
    return jax.vmap(one_p)(counts) + (xbar, gap_formula(thetas, xbar))

  return jax.lax.map(one_seed, keys)


def generalised(seed: int, *, n: int, d: int, ps, logit_scales, thetas_deg, seeds: int,
                dtype=jnp.float64) -> General:
  """Loss vs latitude theta for every (seed, p, scale): one jitted call, vmapped
  over theta, scale and p, mapped over seeds (seed i: fold_in(key(seed), i);
  points from fold_in(., 0), the mismatched subset from fold_in(., 1), shared by
  every p so the mismatched sets are nested)."""
  n, d = check_int("n", n, 2), check_int("d", d, 2)
  seeds = check_int("seeds", seeds, 1)
  counts = mismatch_counts(ps, n)
  scales = check_grid("logit_scales", logit_scales, positive=True)
  thetas = check_grid("thetas_deg", thetas_deg, -90.0, 90.0)
  keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(jnp.arange(seeds))
  out = _general_program(keys, jnp.asarray(counts), jnp.asarray(scales, dtype),
                         jnp.deg2rad(jnp.asarray(thetas, dtype)), n=n, d=d)
  loss, gap, zero, t_star, moved, xbar, formula = (np.asarray(a) for a in out)
  return General(thetas_deg=thetas, logit_scales=scales, ps=np.asarray(ps, np.float64),
                 counts=counts, loss=loss, gap=gap, gap_formula=formula, xbar_norm=xbar,
                 n_moved=moved, loss_at_zero=zero, t_star=t_star)
