"""Row normalisation of arrays: the lab's shared L2 row normalisers.

Three spellings of one idea, ``u_i = x_i / |x_i|`` along the last axis:

* ``normalize_rows`` (JAX): ``x / |x|``. The contrastive losses, the landscape
  probe and training use it; zero rows give NaN.
* ``unit_rows`` (JAX): the overflow-safe variant for cone statistics, ``x * r``
  with ``r`` from ``row_scales`` (rows divided by their max |x| before the
  norm, so huge and tiny rows stay finite). It differs from ``normalize_rows``
  in the last bits (a multiplication by an inverse scale, not a division), so
  both are kept: each is the path its callers' numbers were fixed with.
* ``unit_rows_f64`` / ``checked_unit_rows`` (NumPy float64): the analyses'
  version, ``x / |x|`` in float64; the checked one first raises ConfigError for
  a wrong shape, non-finite values or zero rows.

This module sits in ``nets``, the bottom layer, so that ``cone``,
``contrastive``, ``theory`` and ``analysis`` all import it without an upward
import.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from gaplab._errors import ConfigError


def normalize_rows(x):
  """Rows divided by their L2 norm (rows must be nonzero)."""
  return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def row_scales(x):
  """(r, |x|^2, ok) with u_i = r_i x_i of unit length, overflow-safe.

  Dividing by the row's max |x| first keeps the normalisation finite for huge
  and tiny rows (|x|^2 itself may still overflow; it is only reported, as
  ``q``). ``ok`` marks rows that are finite and nonzero; the others get r = inf
  or NaN, so their u is NaN: their cosines are undefined.
  """
  s = jnp.max(jnp.abs(x), axis=-1)
  n = jnp.sqrt(jnp.sum(jnp.square(x / s[:, None]), axis=-1))
  sq = jnp.where(s == 0, 0, (s * n) ** 2)
  return 1 / (s * n), sq, jnp.isfinite(s) & (s > 0)


def unit_rows(x):
  """Rows of ``x`` (N, d) scaled to unit length, overflow-safe (NaN for zero or
  non-finite rows): the ``row_scales`` variant of ``normalize_rows``."""
  return x * row_scales(x)[0][:, None]


def unit_rows_f64(x) -> np.ndarray:
  """Rows (last axis) of ``x`` in float64 divided by their L2 norm, unchecked
  (zero rows give NaN)."""
  x = np.asarray(x, np.float64)
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def checked_unit_rows(x, field: str, *, ndim: int = 2, min_shape: tuple = (1,),
                      expected: str = "a 2-D array (N, D) with N >= 1") -> np.ndarray:
  """``unit_rows_f64`` of ``x`` after checking it.

  Raises ConfigError(``field``, ...) unless ``x`` has ``ndim`` axes, its
  leading axes are at least ``min_shape`` (``expected`` describes that shape in
  the message), its values are finite and no row has norm zero.
  """
  x = np.asarray(x, np.float64)
  if x.ndim != ndim or any(s < m for s, m in zip(x.shape, min_shape)):
    raise ConfigError(field, f"expected {expected}, got shape {x.shape}")
  if not np.all(np.isfinite(x)):
    raise ConfigError(field, "expected finite values, got NaN or inf")
  zero = int(np.sum(np.linalg.norm(x, axis=-1) == 0))
  if zero:
    raise ConfigError(field, f"expected nonzero rows, got {zero} zero rows")
  return unit_rows_f64(x)
