"""Chunked, padded, sharded and resumable calls of a program vmapped over rows.

The cone engine (seeds) and the training sweep (runs) both evaluate a compiled
program over many independent rows: ``chunked`` feeds it ``chunk`` rows at a
time, pads the last chunk with copies of the last row so that every call has
the same shape (one compiled program), shards each chunk over every device of
every process (``jax.distributed``), gathers the output, drops the padding and
concatenates. A vmapped program computes every row on its own, so the
reassembled output equals one call on all rows.

With a ``store`` (``gaplab.io.chunkstore``) each finished chunk is saved as it
completes and a chunk already there is loaded instead of computed, so a killed
sweep resumes where it stopped with the same arrays. Progress goes to
``gaplab.runtime.progress.current()``.

It lives in ``nets``, the bottom layer, so ``cone`` and ``training`` share it
without importing each other.
"""
from __future__ import annotations

import collections
import dataclasses

import jax
import numpy as np

from gaplab.io import chunkstore
from gaplab.runtime import distributed
from gaplab.runtime import progress


def global_chunk(chunk: int, n: int, n_devices: int | None = None) -> int:
  """Rows per call over all devices (of all processes) when each device takes
  ``chunk`` rows: ``chunk`` x devices, or fewer per device when ``n`` rows
  would leave some devices idle (ceil(n / devices) each).

  With ``n >= chunk`` x devices every device runs exactly the calls of a
  one-device sweep with this ``chunk`` (the same rows, padding included), so
  the arrays equal a one-device run's (bitwise in the tested sweeps; the
  partitioned program can still round a rare value differently in the last
  float32 bit); with fewer rows per device the batched matmuls round
  differently more often."""
  n_devices = len(jax.devices()) if n_devices is None else n_devices
  return min(chunk, -(-n // n_devices)) * n_devices


def _global(a, sharding):
  """Host data ``a`` (identical on every process) as a global array."""
  if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
    data = np.asarray(jax.random.key_data(a))
    arr = jax.make_array_from_callback(data.shape, sharding, lambda i: data[i])
    return jax.random.wrap_key_data(arr, impl=jax.random.key_impl(a))
  data = np.asarray(a)
  return jax.make_array_from_callback(data.shape, sharding, lambda i: data[i])


def plan(estimate, n: int, budget: int, preferred: int | None = None, item: str = "seed"):
  """The memory plan (``runtime.memory.ChunkPlan``) of ``n`` rows over all
  devices: each device takes ``preferred`` rows per call (default: its share
  of all), fewer if the per-device ``estimate`` does not fit ``budget`` bytes;
  ``plan.chunk`` = rows per device x devices, as ``global_chunk``."""
  from gaplab.runtime import memory
  n_dev = len(jax.devices())
  one = memory.plan_chunk(estimate, -(-n // n_dev), budget, n_devices=1,
                          preferred=preferred, item=item)
  chunk = one.chunk * n_dev
  return dataclasses.replace(one, chunk=chunk, n_chunks=-(-n // chunk))


def shard(tree, n: int, axis: str = "rows"):
  """``tree`` with its leading axis (length ``n``) split over all devices;
  unchanged on one device or when ``n`` does not divide evenly. With several
  processes, every process passes the same rows and holds its own devices'
  share."""
  devices = jax.devices()
  if len(devices) < 2 or n % len(devices):
    return tree
  mesh = jax.sharding.Mesh(np.array(devices), (axis,))
  sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(axis))
  if jax.process_count() == 1:
    return jax.device_put(tree, sharding)
  return jax.tree.map(lambda a: _global(a, sharding), tree)


def gather(tree):
  """A program's output as NumPy arrays on every process (an all-gather of
  the rows when the devices belong to several processes)."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    return jax.tree.map(lambda a: np.asarray(multihost_utils.process_allgather(a, tiled=True))
                        if isinstance(a, jax.Array) else np.asarray(a), tree)
  return jax.tree.map(np.asarray, tree)


def pad_index(start: int, chunk: int, n: int) -> np.ndarray:
  """Row indices of the chunk starting at ``start``: ``chunk`` of them, those
  past the last row ``n - 1`` repeating it (the padding)."""
  return np.minimum(np.arange(start, start + chunk), n - 1)


_EXECUTABLES: collections.OrderedDict = collections.OrderedDict()


def _signature(args):
  """What an executable is specific to: the arguments' structure, shapes,
  dtypes (weak or not) and shardings, and the trace-time switches (x64, the
  default matmul precision) that change the program jit would build."""
  leaves, tree = jax.tree.flatten(args)
  return (tree, bool(jax.config.jax_enable_x64), str(jax.config.jax_default_matmul_precision),
          tuple((np.shape(a), str(getattr(a, "dtype", type(a))),
                 bool(getattr(a, "weak_type", False)), getattr(a, "sharding", None))
                for a in leaves))


def compile(fn, *args, label: str = "program"):
  """The compiled executable of the jitted ``fn`` for ``args`` (their shapes,
  dtypes and shardings), compiled once per process and shown as its own
  progress stage ("compile LABEL"); the persistent compilation cache
  (``gaplab.runtime.cache``) makes a new process's compile a cache read."""
  key = (fn, _signature(args))
  if key in _EXECUTABLES:
    _EXECUTABLES.move_to_end(key)
    return _EXECUTABLES[key]
  with progress.current().stage(f"compile {label}"):
    exe = fn.lower(*args).compile()
  _EXECUTABLES[key] = exe
  while len(_EXECUTABLES) > 64:
    _EXECUTABLES.popitem(last=False)
  return exe


def program(fn, *args, label: str = "program"):
  """``call(rows, *more)`` = ``fn(rows, *args, *more)`` through the executable
  ``compile`` gives for that signature (compiled on first use, so a resumed
  sweep whose chunks are all saved compiles nothing)."""
  exe = {}

  def call(rows, *more):
    sig = _signature((rows, more))
    if sig not in exe:
      exe[sig] = compile(fn, rows, *args, *more, label=label)
    return exe[sig](rows, *args, *more)
  return call


def layout() -> dict:
  """The devices a sweep runs on, as its record keeps them: how rows are split
  (and so some float32 sums) depends on them."""
  return {"devices": len(jax.devices()), "processes": jax.process_count(),
          "platform": jax.devices()[0].platform}


def agreed_chunks(sizes: list, item: str = "seed") -> list:
  """Process 0's chunk sizes (rows per call over all devices) on every
  process, checked against the devices: a resumed run keeps its stored sizes,
  which must still split evenly over the devices it runs on (else
  ConfigError naming --resume)."""
  from gaplab._errors import ConfigError
  sizes = np.asarray(distributed.from_process0(np.asarray(sizes, np.int64))).tolist()
  n = len(jax.devices())
  bad = [c for c in sizes if c % n]
  if bad:
    raise ConfigError("resume", f"expected a run whose chunks split over {n} devices, got "
                      f"chunks of {bad[0]} {item}s (resume it on the devices it started on)")
  return [int(c) for c in sizes]


def chunked(fn, rows, n: int, chunk: int, axis: str = "rows", *, store=None,
            prefix: str = "chunk", label: str | None = None, keyed: bool = False):
  """``fn`` over the ``n`` rows of the pytree ``rows`` (leading axis), ``chunk``
  rows per call: returns ``fn``'s output pytree as NumPy arrays with ``n`` rows.

  Each call gets exactly ``chunk`` rows (the last chunk padded, see
  ``pad_index``), sharded over the devices along ``axis``; padded rows are
  dropped from the output. With ``store`` (``has/get/put`` by name), chunk i
  is saved as ``PREFIX-i`` when done and loaded, not computed, when already
  there. ``keyed``: ``fn(rows, name)`` gets the chunk's name too (for
  checkpoints inside a chunk). ``label`` names the progress stage.
  """
  starts = list(range(0, n, chunk))
  names = [f"{prefix}-{i}" for i in range(len(starts))]
  # which chunks process 0 holds (booleans travel as integers)
  done = distributed.from_process0(
      np.array([store is not None and store.has(k) for k in names], np.int32)).astype(bool)
  outs = [None] * len(starts)
  with progress.current().stage(label or f"{len(starts)} chunks of {chunk} {axis}s",
                                total=len(starts)) as stage:
    if done.any():
      stage.advance(int(done.sum()))
    for i, (start, name) in enumerate(zip(starts, names)):
      if done[i]:
        continue
      part = shard(jax.tree.map(lambda a: a[pad_index(start, chunk, n)], rows), chunk, axis)
      out = fn(part, name) if keyed else fn(part)
      outs[i] = jax.tree.map(lambda a: a[:min(chunk, n - start)], gather(out))
      if store is not None:
        store.put(name, outs[i])
      stage.advance()
  for i in np.flatnonzero(done):
    outs[i] = _loaded(store, names[i])
  return jax.tree.map(lambda *a: np.concatenate(a), *outs)


def _loaded(store, name: str) -> dict:
  """A saved chunk on every process: read by the writer (process 0), sent to
  the others, which hold no store."""
  return from_writer(store.get(name) if store.writer else None, store.writer)


def from_writer(tree, writer: bool):
  """The writer's nested dict of NumPy arrays (or None) on every process:
  with several processes its structure (JSON) is broadcast first, then the
  arrays; the other processes pass None."""
  if jax.process_count() == 1:
    return tree
  import json
  flat = chunkstore.flatten(tree) if writer and tree is not None else {}
  spec = json.dumps(None if writer and tree is None else
                    {k: [np.shape(a), np.asarray(a).dtype.str] for k, a in flat.items()})
  spec = spec.encode() if writer else b""
  size = int(distributed.from_process0(np.int64(len(spec))))
  spec = np.frombuffer(spec, np.uint8) if writer else np.zeros(size, np.uint8)
  spec = json.loads(np.asarray(distributed.from_process0(spec), np.uint8).tobytes())
  if spec is None:
    return None
  if not writer:
    flat = {k: np.zeros(shape, dtype) for k, (shape, dtype) in spec.items()}
  return chunkstore.unflatten(distributed.from_process0(flat))
