"""Resumable runs: the finished chunks of a run in progress, saved as they finish.

A run bound for ``OUT`` works in the sibling directory ``OUT.partial/``:
``progress.json`` holds what the run is (its kind, resolved config and plan)
and ``chunks/NAME.npz`` each finished chunk, written atomically (a temporary
file, fsync, rename, fsync of the directory), so a run killed at any moment,
SIGKILL included, leaves only whole chunks. Checkpoints inside a chunk (orbax,
training) live in ``ckpt/NAME/``. When every chunk is done the run directory
``OUT`` is written as usual (``results.save_run``) and ``OUT.partial`` removed.

``open_store`` decides, before any work, what a run at ``OUT`` does: start
afresh, continue an interrupted run (``resume``: only if the stored config is
the same, else a ``ConfigError`` naming the first field that differs), or
nothing (``resume`` of a finished run).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

import numpy as np

from gaplab._errors import ConfigError
from gaplab.io import results

PROGRESS = "progress.json"
SEP = "/"
RECORD_KEY = "resume_record"  # in a finished run's config.json: the config it resumes with


def partial_path(out: str) -> str:
  return os.path.abspath(out).rstrip(os.sep) + ".partial"


def flatten(tree: dict, prefix: str = "") -> dict:
  """A nested dict of arrays as {"a/b": array}."""
  flat = {}
  for k, v in tree.items():
    if SEP in k:
      raise ValueError(f"Expected keys without {SEP!r}, got {k!r}")
    if isinstance(v, dict):
      flat.update(flatten(v, prefix + k + SEP))
    else:
      flat[prefix + k] = v
  return flat


def unflatten(flat: dict) -> dict:
  tree: dict = {}
  for key, v in flat.items():
    *parents, leaf = key.split(SEP)
    node = tree
    for p in parents:
      node = node.setdefault(p, {})
    node[leaf] = v
  return tree


def _fsync_dir(path: str) -> None:
  fd = os.open(path, os.O_RDONLY)
  try:
    os.fsync(fd)
  finally:
    os.close(fd)


def atomic_write(path: str, write) -> None:
  """``write(file)`` into a temporary sibling of ``path``, fsync, rename into
  place, fsync the directory: ``path`` is either absent or whole."""
  folder = os.path.dirname(path)
  fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
  try:
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; these are ordinary files
    with os.fdopen(fd, "wb") as f:
      write(f)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
  _fsync_dir(folder)


def first_difference(stored, given, where: str = ""):
  """The first key path at which two JSON-like records differ, as
  (path, stored value, given value); None when equal."""
  if isinstance(stored, dict) and isinstance(given, dict):
    for k in list(stored) + [k for k in given if k not in stored]:
      if k not in stored or k not in given:
        return (where + k, stored.get(k, "(absent)"), given.get(k, "(absent)"))
      d = first_difference(stored[k], given[k], where + k + ".")
      if d:
        return d
    return None
  return None if stored == given else (where.rstrip("."), stored, given)


class ChunkStore:
  """The chunks of one run in progress (``OUT.partial``). On processes other
  than the writer (process 0 of a multi-process run) nothing is read or
  written: ``has`` is False and ``put`` does nothing."""

  def __init__(self, path: str, writer: bool = True):
    self.path, self.writer = path, writer

  def _file(self, name: str) -> str:
    return os.path.join(self.path, "chunks", name + ".npz")

  def has(self, name: str) -> bool:
    return self.writer and os.path.isfile(self._file(name))

  def get(self, name: str) -> dict:
    with np.load(self._file(name), allow_pickle=False) as z:
      return unflatten({k: z[k] for k in z.files})

  def put(self, name: str, tree: dict) -> None:
    """Saves chunk ``name`` whole, then drops its checkpoints (now redundant)."""
    if self.writer:
      flat = {k: np.asarray(v) for k, v in flatten(tree).items()}
      atomic_write(self._file(name), lambda f: np.savez(f, **flat))
      shutil.rmtree(self.checkpoint_dir(name), ignore_errors=True)

  def names(self) -> list[str]:
    """The saved chunks (not a temporary file a killed write left)."""
    if not self.writer:
      return []
    folder = os.path.join(self.path, "chunks")
    return sorted(f[:-4] for f in os.listdir(folder)
                  if f.endswith(".npz") and not f.startswith(".tmp-"))

  def checkpoint_dir(self, name: str) -> str:
    """Where checkpoints inside chunk ``name`` go (absolute path)."""
    return os.path.join(self.path, "ckpt", name)

  def record(self) -> dict:
    with open(os.path.join(self.path, PROGRESS)) as f:
      return json.load(f)

  def finish(self) -> None:
    """Removes the partial directory once the run directory is written: first
    renamed out of the way (one atomic step), then deleted."""
    if self.writer and os.path.isdir(self.path):
      trash = tempfile.mkdtemp(prefix=f".{os.path.basename(self.path)}.done-",
                               dir=os.path.dirname(self.path))
      os.rename(self.path, os.path.join(trash, "partial"))
      shutil.rmtree(trash, ignore_errors=True)


def _finished_record(out: str):
  """The config record a finished run at ``out`` was saved with (None when it
  predates resumable runs or is unreadable)."""
  try:
    with open(os.path.join(out, results.CONFIG)) as f:
      return json.load(f).get(RECORD_KEY)
  except (OSError, ValueError):
    return None


def compared(record: dict) -> dict:
  """What of a run's record must match on resume (its kind and config), as
  JSON reads it back; a finished run keeps it in config.json under
  ``RECORD_KEY``."""
  given = {"kind": record.get("kind"), **record.get("config", {})}
  return json.loads(json.dumps(given, default=results.json_default, allow_nan=True))


def _refuse_difference(stored: dict, given: dict, where: str) -> None:
  diff = first_difference(stored, given)
  if diff:
    field, was, now = diff
    raise ConfigError("resume", f"expected the config stored in {where!r}, got {field} = "
                      f"{json.dumps(now)} where it has {json.dumps(was)} (rerun with the "
                      "stored settings, or --overwrite to start afresh)")


def open_store(out: str, record: dict, *, resume: bool = False, overwrite: bool = False,
               writer: bool = True):
  """The store a run bound for ``out`` works in, or None when there is nothing
  to do (``resume`` of a finished run). ``record`` is what the run is (JSON:
  kind, config, plan); a resumed run must have the same ``record["config"]``
  and continues with the stored plan (``store.record()["plan"]``). Checks
  everything before anything is written. Only the ``writer`` process (process
  0) touches the disk; with several processes it tells the others what it
  decided, so they stop with it when it refuses."""
  import jax
  if jax.process_count() == 1:
    return _open(out, record, resume, overwrite)
  from gaplab.runtime import distributed
  store, error, status = None, None, 0
  if writer:
    try:
      store = _open(out, record, resume, overwrite)
      status = 0 if store is not None else 2
    except Exception as e:  # any failure: the others must not wait for process 0
      error, status = e, 1
  status = int(distributed.from_process0(np.int64(status)))
  if status == 1:
    raise error if writer else ConfigError(
        "out", f"expected a run directory process 0 accepts, got its refusal of {out!r} "
        "(see process 0's error)")
  if status == 2:
    return None
  return store if writer else ChunkStore(partial_path(out), writer=False)


def _open(out: str, record: dict, resume: bool, overwrite: bool):
  out = os.path.abspath(out)
  part = partial_path(out)
  if resume and overwrite:
    raise ConfigError("resume", "expected --resume or --overwrite, got both")
  given = compared(record)
  has_part = os.path.isfile(os.path.join(part, PROGRESS))
  if os.path.lexists(part) and not has_part:
    shutil.rmtree(part)  # killed before its record was written, or while removed
  if resume and results.finished(out):
    stored = _finished_record(out)
    if stored is not None:
      _refuse_difference(stored, given, out)
    if not has_part or stored is not None:
      if has_part:  # saved, then killed before the partial was removed
        ChunkStore(part).finish()
      return None
  if not resume or not has_part:
    if has_part and not overwrite:
      raise ConfigError("out", f"expected a new directory, got an interrupted run of {out!r} "
                        f"in {part!r} (pass --resume to continue it, or --overwrite to "
                        "start afresh)")
    results.check_writable(out, overwrite)
  if has_part and resume:
    store = ChunkStore(part)
    stored = store.record()
    _refuse_difference(compared(stored), given, part)
    return store
  if os.path.lexists(part):
    shutil.rmtree(part)
  os.makedirs(part)  # the record first: a partial without one is not a run
  text = json.dumps(record, indent=2, default=results.json_default, allow_nan=True) + "\n"
  atomic_write(os.path.join(part, PROGRESS), lambda f: f.write(text.encode()))
  os.makedirs(os.path.join(part, "chunks"))
  return ChunkStore(part)
