"""Contrastive losses on one batch of row-paired embeddings (CLIP, SigLIP).

Row i of ``x`` (N, D) is paired with row i of ``y`` (N, D). Rows are
L2-normalised, then ``logits = scale * x_hat @ y_hat.T`` with ``scale`` = 1/tau.

CLIP (symmetric InfoNCE), both directions computed from the one logit matrix:

    i2t = mean_i [ logsumexp_j logits_ij - logits_ii ]   (rows: image -> text)
    t2i = mean_j [ logsumexp_i logits_ij - logits_jj ]   (columns: text -> image)
    loss = (i2t + t2i) / 2

(Both directions really come from the one matrix: rows for i2t, columns for
t2i.) Everything goes through logsumexp / log_sigmoid, so logits of
size 1/tau = 1000 in float32 stay finite (no exp of raw logits).

SigLIP (Zhai et al. 2023): labels z_ij = +1 if i == j else -1, and

    loss = -(1/N) sum_i sum_j log sigmoid(z_ij (scale * x_hat_i.y_hat_j + bias))

i.e. summed over j and averaged over i, the normalisation of the SigLIP paper
(its loss is divided by |B|, not |B|^2).

The functions are pure and vmap/jit-able. Input checks run only on concrete
values (never on tracers), so call them eagerly once or use ``check_pair``.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from gaplab._errors import ConfigError
from gaplab.nets.rows import normalize_rows  # noqa: F401 (public here too)

MAX_LOGIT_SCALE = 100.0  # CLIP clamps exp(log_scale) at 100
INIT_LOG_LOGIT_SCALE = math.log(1 / 0.07)  # CLIP's initial log logit scale
SIGLIP_INIT_LOG_LOGIT_SCALE = math.log(10.0)  # SigLIP's initial t' (scale = 10)
SIGLIP_INIT_LOGIT_BIAS = -10.0  # SigLIP's initial bias
_HIGHEST = jax.lax.Precision.HIGHEST


def _concrete(a) -> bool:
  return not isinstance(a, jax.core.Tracer)


def check_pair(x, y) -> None:
  """Raises ConfigError unless x, y are finite (N, D) arrays, N >= 1, with the
  same shape and no zero rows. Skipped for traced (abstract) values."""
  for name, a in (("x", x), ("y", y)):
    if not _concrete(a):
      continue
    a = np.asarray(a)
    if a.ndim != 2:
      raise ConfigError(name, f"expected a 2-D array (N, D), got shape {a.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1:
      raise ConfigError(name, f"expected at least one row and one column, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
      raise ConfigError(name, "expected finite values, got NaN or inf")
    zero = int(np.sum(~np.any(a != 0, axis=1)))
    if zero:
      raise ConfigError(name, f"expected nonzero rows, got {zero} all-zero rows")
  if np.shape(x) != np.shape(y):
    raise ConfigError("y", f"expected the shape of x {np.shape(x)} (one row per pair), "
                           f"got {np.shape(y)}")


def _check_positive(name, value) -> None:
  if value is None or not _concrete(value):
    return
  v = np.asarray(value)
  if not np.all(np.isfinite(v)) or np.any(v <= 0):
    raise ConfigError(name, f"expected finite values > 0, got {v.tolist()}")


def resolve_scale(temperature=None, logit_scale=None):
  """The logit scale from exactly one of ``temperature`` (scale = 1/tau) and
  ``logit_scale``; checks positivity when the value is concrete."""
  if (temperature is None) == (logit_scale is None):
    got = "both" if temperature is not None else "neither"
    raise ConfigError("temperature",
                      f"expected exactly one of temperature and logit_scale, got {got}")
  if temperature is not None:
    _check_positive("temperature", temperature)
    return 1.0 / jnp.asarray(temperature)
  _check_positive("logit_scale", logit_scale)
  return jnp.asarray(logit_scale)


def logit_scale_from_log(log_scale):
  """CLIP's learnable scale: exp(min(log_scale, log 100)); init
  ``INIT_LOG_LOGIT_SCALE`` = log(1/0.07) (scale 14.29)."""
  return jnp.exp(jnp.minimum(log_scale, math.log(MAX_LOGIT_SCALE)))


def cosines(x, y):
  """(N, N) cosine matrix x_hat @ y_hat.T at full matmul precision."""
  return jnp.matmul(normalize_rows(x), normalize_rows(y).T, precision=_HIGHEST)


def clip_directions_from_logits(logits):
  """(i2t, t2i) InfoNCE of an (N, N) logit matrix whose diagonal holds the
  positive pairs: cross-entropy of the rows and of the columns, each mean."""
  diag = jnp.diagonal(logits)
  i2t = jnp.mean(jax.nn.logsumexp(logits, axis=1) - diag)
  t2i = jnp.mean(jax.nn.logsumexp(logits, axis=0) - diag)
  return i2t, t2i


def clip_loss_directions(x, y, *, temperature=None, logit_scale=None):
  """(i2t, t2i): image->text (rows) and text->image (columns) InfoNCE."""
  check_pair(x, y)
  scale = resolve_scale(temperature, logit_scale)
  cos = cosines(x, y)
  return clip_directions_from_logits(jnp.asarray(scale, cos.dtype) * cos)


def clip_loss(x, y, *, temperature=None, logit_scale=None):
  """Symmetric CLIP loss (i2t + t2i) / 2 of one batch of paired rows."""
  i2t, t2i = clip_loss_directions(x, y, temperature=temperature, logit_scale=logit_scale)
  return 0.5 * (i2t + t2i)


def siglip_loss(x, y, *, logit_scale, logit_bias):
  """SigLIP pairwise sigmoid loss: -(1/N) sum_ij log sigmoid(z_ij * logit_ij),
  z = +1 on the diagonal and -1 off it, logit = scale * cos + bias."""
  check_pair(x, y)
  _check_positive("logit_scale", logit_scale)
  if _concrete(logit_bias) and not np.all(np.isfinite(np.asarray(logit_bias))):
    raise ConfigError("logit_bias", f"expected a finite value, got {logit_bias}")
  cos = cosines(x, y)
  logits = jnp.asarray(logit_scale, cos.dtype) * cos + jnp.asarray(logit_bias, cos.dtype)
  n = logits.shape[0]
  labels = 2.0 * jnp.eye(n, dtype=logits.dtype) - 1.0
  return -jnp.sum(jax.nn.log_sigmoid(labels * logits)) / n
