"""Chunked, padded and sharded calls of a program vmapped over a leading axis.

The cone engine (seeds) and the training sweep (runs) both evaluate a compiled
program over many independent rows: ``chunked`` feeds it ``chunk`` rows at a
time, pads the last chunk with copies of the last row so that every call has
the same shape (one compiled program), shards each chunk over the devices when
there are several, drops the padding and concatenates the results. A vmapped
program computes every row on its own, so the reassembled output equals one
call on all rows.

It lives in ``nets``, the bottom layer, so ``cone`` and ``training`` share it
without importing each other.
"""
from __future__ import annotations

import jax
import numpy as np


def per_device(chunk: int, n_devices: int | None = None) -> int:
  """``chunk`` rounded up to a multiple of the device count (when > 1), so that
  every chunk splits evenly over the devices."""
  n_devices = len(jax.devices()) if n_devices is None else n_devices
  return -(-chunk // n_devices) * n_devices if n_devices > 1 else chunk


def shard(tree, n: int, axis: str = "rows"):
  """``tree`` with its leading axis (length ``n``) split over the devices;
  unchanged on one device or when ``n`` does not divide evenly."""
  devices = jax.devices()
  if len(devices) < 2 or n % len(devices):
    return tree
  mesh = jax.sharding.Mesh(np.array(devices), (axis,))
  return jax.device_put(tree, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(axis)))


def pad_index(start: int, chunk: int, n: int) -> np.ndarray:
  """Row indices of the chunk starting at ``start``: ``chunk`` of them, those
  past the last row ``n - 1`` repeating it (the padding)."""
  return np.minimum(np.arange(start, start + chunk), n - 1)


def chunked(fn, rows, n: int, chunk: int, axis: str = "rows"):
  """``fn`` over the ``n`` rows of the pytree ``rows`` (leading axis), ``chunk``
  rows per call: returns ``fn``'s output pytree as NumPy arrays with ``n`` rows.

  Each call gets exactly ``chunk`` rows (the last chunk padded, see
  ``pad_index``), sharded over the devices along ``axis``; padded rows are
  dropped from the output.
  """
  outs = []
  for start in range(0, n, chunk):
    idx = pad_index(start, chunk, n)
    out = fn(shard(jax.tree.map(lambda a: a[idx], rows), chunk, axis))
    real = min(chunk, n - start)
    outs.append(jax.tree.map(lambda a: np.asarray(a)[:real], out))
  return jax.tree.map(lambda *a: np.concatenate(a), *outs)
