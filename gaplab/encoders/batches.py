"""Inputs to the encoders: Gaussian-noise images, random token ids, or user arrays.

Images are NHWC (B, H, W, C) floats; N(0, 1) noise per pixel and channel. Token
ids are int32 (B, L), uniform on [0, vocab). User arrays are checked against
the config (one-line ConfigError naming the field) and images are cast to the
config's ``dtype``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gaplab._errors import ConfigError


def noise_images(key, batch: int, cfg):
  """(batch, H, W, C) N(0, 1) images in ``cfg.dtype``."""
  return jax.random.normal(
      key, (batch, cfg.image_size, cfg.image_size, cfg.channels), cfg.dtype)


def random_tokens(key, batch: int, cfg):
  """(batch, length) int32 token ids, uniform on [0, vocab)."""
  return jax.random.randint(key, (batch, cfg.length), 0, cfg.vocab, jnp.int32)


def check_images(x, cfg, *, min_batch: int = 1):
  """Checks an image batch against ``cfg``; returns it cast to ``cfg.dtype``."""
  want = (cfg.image_size, cfg.image_size, cfg.channels)
  shape = tuple(np.shape(x))
  if len(shape) != 4 or shape[1:] != want or shape[0] < min_batch:
    raise ConfigError("inputs", f"expected images of shape (B >= {min_batch}, "
                      f"{want[0]}, {want[1]}, {want[2]}) (NHWC), got {shape}")
  dt = np.dtype(x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype)
  if not (np.issubdtype(dt, np.floating) or np.issubdtype(dt, np.integer)):
    raise ConfigError("inputs", f"expected a real numeric image array, got dtype {dt}")
  return jnp.asarray(x).astype(cfg.dtype)


def check_tokens(x, cfg):
  """Checks a token batch (B, length) of integer ids in [0, vocab); returns int32."""
  shape = tuple(np.shape(x))
  if len(shape) != 2 or shape[1] != cfg.length or shape[0] < 1:
    raise ConfigError("inputs", f"expected token ids of shape (B >= 1, {cfg.length}), "
                      f"got {shape}")
  dt = np.dtype(x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype)
  if not np.issubdtype(dt, np.integer):
    raise ConfigError("inputs", f"expected integer token ids, got dtype {dt}")
  if not isinstance(x, jax.core.Tracer):  # values are only checkable when concrete
    lo, hi = int(np.min(x)), int(np.max(x))
    if lo < 0 or hi >= cfg.vocab:
      raise ConfigError("inputs", f"expected token ids in [0, {cfg.vocab}), "
                        f"got values in [{lo}, {hi}]")
  return jnp.asarray(x).astype(jnp.int32)
