"""Contrastive loss as the modality gap is shifted (the paper's Fig 3b-d probe).

For paired embeddings x, y (N, D), row i of each a pair, with unit rows x_hat,
y_hat and gap direction d = normalise(mean(x_hat) - mean(y_hat)):

    x'(delta) = normalise(x_hat - delta/2 d),   y'(delta) = normalise(y_hat + delta/2 d)

so delta > 0 moves the two centroids toward each other. For every delta the
probe reports the signed centroid distance along d, (mean x' - mean y').d, the
gap norm |mean x' - mean y'|, and the symmetric CLIP loss (both directions
really computed, see ``gaplab.contrastive.losses``) averaged over consecutive batches of
``batch_size`` pairs, for every logit scale. The trailing N mod batch_size pairs
are dropped, so every batch has the same size (the CLIP loss depends on it).

The whole delta grid x scale grid is one jitted call; deltas and scales are
array arguments, so a new grid of the same lengths reuses the compiled program.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from gaplab.contrastive import losses
from gaplab._errors import ConfigError

DEFAULT_DELTAS = np.arange(-20, 21) * 0.25  # -5 .. 5 by 0.25, 41 values
DEFAULT_LOGIT_SCALES = (100.0, 50.0, 30.0, 20.0, 10.0, 1.0)
DEFAULT_BATCH_SIZE = 50


@dataclasses.dataclass(frozen=True)
class Landscape:
  """Result of ``landscape``; arrays are NumPy, S = number of scales."""
  deltas: np.ndarray         # (n_delta,)
  logit_scales: np.ndarray   # (S,)
  signed_gap: np.ndarray     # (n_delta,) (mean x' - mean y').d
  gap_norm: np.ndarray       # (n_delta,) |mean x' - mean y'|
  loss: np.ndarray           # (n_delta, S) symmetric CLIP loss, batch mean
  loss_i2t: np.ndarray       # (n_delta, S) rows (x -> y) direction
  loss_t2i: np.ndarray       # (n_delta, S) columns (y -> x) direction
  argmin_delta: np.ndarray   # (S,) grid delta of the smallest loss
  argmin_signed_gap: np.ndarray  # (S,) signed gap there
  original_gap: float        # |mean x_hat - mean y_hat| (delta = 0)
  n_batches: int             # batches averaged; N mod batch_size pairs dropped


def shift(x_hat, y_hat, delta, direction):
  """(x', y') = (normalise(x_hat - delta/2 d), normalise(y_hat + delta/2 d))."""
  half = 0.5 * delta * direction
  return losses.normalize_rows(x_hat - half), losses.normalize_rows(y_hat + half)


def _check_grid(name, values, positive):
  v = np.asarray(values, np.float64)
  if v.ndim != 1 or v.size == 0:
    raise ConfigError(name, f"expected a non-empty 1-D grid, got shape {v.shape}")
  if not np.all(np.isfinite(v)):
    raise ConfigError(name, "expected finite values, got NaN or inf")
  if positive and np.any(v <= 0):
    raise ConfigError(name, f"expected values > 0, got {v.tolist()}")
  if not positive and np.any(np.diff(v) <= 0):
    raise ConfigError(name, "expected a strictly increasing grid")
  return v


def _grid(x_hat, y_hat, direction, deltas, scales, batch_size):
  """(signed gap, gap norm, i2t, t2i) for every delta x scale of the grid."""
  n_batches = x_hat.shape[0] // batch_size
  keep = n_batches * batch_size

  def one_delta(delta):
    xs, ys = shift(x_hat, y_hat, delta, direction)
    diff = jnp.mean(xs, axis=0) - jnp.mean(ys, axis=0)
    xb = xs[:keep].reshape(n_batches, batch_size, -1)
    yb = ys[:keep].reshape(n_batches, batch_size, -1)
    cos = jnp.einsum("bid,bjd->bij", xb, yb, precision=jax.lax.Precision.HIGHEST)

    def one_scale(scale):
      i2t, t2i = jax.vmap(losses.clip_directions_from_logits)(scale * cos)
      return jnp.mean(i2t), jnp.mean(t2i)

    i2t, t2i = jax.vmap(one_scale)(scales)
    return diff @ direction, jnp.linalg.norm(diff), i2t, t2i

  return jax.vmap(one_delta)(deltas)


def _compile(grid):
  """``grid`` (``_grid`` or a wrapper of it) jitted as the landscape runs it."""
  return jax.jit(grid, static_argnames=("batch_size",))


_program = _compile(_grid)


def landscape(x, y, *, deltas=None, logit_scales=None, temperatures=None,
              batch_size: int = DEFAULT_BATCH_SIZE, direction=None,
              dtype=None) -> Landscape:
  """Loss landscape of paired rows x, y (N, D) along the gap direction.

  Defaults follow the paper: deltas -5..5 by 0.25, logit scales 100, 50, 30,
  20, 10, 1 (give ``temperatures`` instead for scales 1/tau), batches of 50.
  ``direction`` overrides the gap direction (needed when the gap is zero).
  ``dtype`` defaults to the inputs' floating dtype (at least float32).
  """
  losses.check_pair(x, y)
  if temperatures is not None and logit_scales is not None:
    raise ConfigError("temperatures", "expected only one of temperatures and logit_scales, got both")
  if temperatures is not None:
    scales = 1.0 / _check_grid("temperatures", temperatures, positive=True)
  else:
    scales = _check_grid("logit_scales", DEFAULT_LOGIT_SCALES if logit_scales is None
                         else logit_scales, positive=True)
  deltas = _check_grid("deltas", DEFAULT_DELTAS if deltas is None else deltas, positive=False)
  n = np.shape(x)[0]
  if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
      or not 2 <= batch_size <= n:
    raise ConfigError("batch_size", f"expected an integer in [2, N = {n}], got {batch_size!r}")
  if dtype is None:
    dtype = jnp.result_type(jnp.asarray(x), jnp.asarray(y), jnp.float32)
  x_hat = losses.normalize_rows(jnp.asarray(x, dtype))
  y_hat = losses.normalize_rows(jnp.asarray(y, dtype))
  diff = jnp.mean(x_hat, axis=0) - jnp.mean(y_hat, axis=0)
  original_gap = float(jnp.linalg.norm(diff))
  if direction is None:
    if original_gap == 0.0:
      raise ConfigError("direction", "expected a direction: the gap is zero, so it has none")
    direction = diff / original_gap
  else:
    d = np.asarray(direction, np.float64)
    if d.shape != (np.shape(x)[1],) or not np.all(np.isfinite(d)) or not np.any(d != 0):
      raise ConfigError("direction", f"expected a finite nonzero vector of length "
                                     f"{np.shape(x)[1]}, got shape {d.shape}")
    direction = jnp.asarray(d / np.linalg.norm(d), dtype)
  signed, norm, i2t, t2i = _program(x_hat, y_hat, direction, jnp.asarray(deltas, dtype),
                                    jnp.asarray(scales, dtype), batch_size=int(batch_size))
  signed, norm, i2t, t2i = (np.asarray(a) for a in (signed, norm, i2t, t2i))
  loss = 0.5 * (i2t + t2i)
  best = np.argmin(loss, axis=0)
  return Landscape(deltas=deltas, logit_scales=scales, signed_gap=signed, gap_norm=norm,
                   loss=loss, loss_i2t=i2t, loss_t2i=t2i, argmin_delta=deltas[best],
                   argmin_signed_gap=signed[best], original_gap=original_gap,
                   n_batches=n // batch_size)
