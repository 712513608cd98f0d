"""Inputs to the random networks: generated noise or a user array."""
from __future__ import annotations

import functools
import hashlib
import os

import jax
import numpy as np

from gaplab._errors import ConfigError


def generate(key, kind: str, n: int, d: int, dtype):
  """``gaussian``: N(0, I_d) rows; ``uniform``: U(-1, 1) per coordinate."""
  if kind == "gaussian":
    return jax.random.normal(key, (n, d), dtype)
  if kind == "uniform":
    return jax.random.uniform(key, (n, d), dtype, -1.0, 1.0)
  raise ConfigError("inputs", f"expected gaussian, uniform or a .npy path, got {kind!r}")


def shared_gaussian(input_seed: int, n: int, d: int, dtype="float32") -> np.ndarray:
  """One N(0, I) array (n, d) from ``key(input_seed)``, as float64 NumPy: the
  inputs an experiment feeds every seed (so seeds differ only in weights)."""
  x = jax.random.normal(jax.random.key(input_seed), (n, d), dtype)
  return np.asarray(x, np.float64)


def load_array(path: str) -> np.ndarray:
  """Loads and checks a user input array: a ``.npy`` file of shape (N >= 2, d >= 1),
  real, finite. Raises ConfigError naming ``inputs`` otherwise.

  A run validates, runs and records its inputs; the file is read and checked
  once per (path, size, mtime) and the read-only array is reused.
  """
  if not path.endswith(".npy"):
    raise ConfigError("inputs", f"expected gaussian, uniform or a path ending in "
                      f".npy, got {path!r}")
  if not os.path.isfile(path):
    raise ConfigError("inputs", f"expected an existing .npy file, got {path!r} "
                      "(no such file)")
  st = os.stat(path)
  return _load_checked(os.path.abspath(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_checked(path: str, size: int, mtime_ns: int) -> np.ndarray:
  del size, mtime_ns  # cache key only: a changed file is read again
  try:
    x = np.load(path, allow_pickle=False)
  except Exception as e:  # noqa: BLE001 - any unreadable file is the user's input
    raise ConfigError("inputs", f"expected a readable .npy array, got {path!r} "
                      f"({type(e).__name__}: {e})") from None
  if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
    raise ConfigError("inputs", f"expected an array of shape (N >= 2, d >= 1), "
                      f"got shape {x.shape} in {path!r}")
  if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
    raise ConfigError("inputs", f"expected a real numeric array, got dtype "
                      f"{x.dtype} in {path!r}")
  if not np.all(np.isfinite(x)):
    bad = int(np.sum(~np.isfinite(x)))
    raise ConfigError("inputs", f"expected finite values, got {bad} NaN/inf "
                      f"entries in {path!r}")
  x.setflags(write=False)
  return x


def fingerprint(x: np.ndarray, block: int = 16384) -> str:
  """sha256 of the array's C-order bytes, recorded with results. Read ``block``
  rows (leading-axis entries) at a time, so a memory-mapped array is never
  copied whole; the hash does not depend on ``block``."""
  x = np.asarray(x)
  if x.ndim == 0:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
  h = hashlib.sha256()
  for start in range(0, x.shape[0], block):
    h.update(np.ascontiguousarray(x[start:start + block]))
  return h.hexdigest()
