"""The results store: one directory per run, written atomically.

A run directory holds ``config.json`` (resolved config, provenance, axis names
and coordinates), ``arrays.npz`` (the arrays, with named axes listed in
config.json) and ``results.csv`` (a tidy table pandas reads as is). Nothing is
ever overwritten unless asked: a run is written to a temporary sibling and
renamed into place only when complete.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import shutil
import tempfile
from typing import Iterable, Sequence

import numpy as np

from gaplab._errors import ConfigError

CONFIG, ARRAYS, TABLE = "config.json", "arrays.npz", "results.csv"


def check_writable(path: str, overwrite: bool, field: str = "out") -> None:
  """Raises ConfigError if ``path`` exists and may not be replaced."""
  if os.path.lexists(path) and not overwrite:
    raise ConfigError(field, f"expected a new directory, got existing {path!r} "
                      "(pass --overwrite to replace it)")
  if os.path.lexists(path) and not os.path.isdir(path):
    raise ConfigError(field, f"expected a directory, got existing file {path!r}")


def _cell(x):
  if isinstance(x, (float, np.floating)):
    return repr(float(x)) if math.isfinite(x) else ("nan" if math.isnan(x) else
                                                     ("inf" if x > 0 else "-inf"))
  if isinstance(x, (np.integer,)):
    return str(int(x))
  return str(x)


def json_default(o):
  """JSON for NumPy arrays and scalars and dataclasses (``json.dump(default=...)``)."""
  if isinstance(o, np.ndarray):
    return o.tolist()
  if isinstance(o, (np.floating, np.integer, np.bool_)):
    return o.item()
  if dataclasses.is_dataclass(o):
    return dataclasses.asdict(o)
  raise TypeError(f"Expected JSON-serialisable values, got {type(o).__name__}")


def save_run(path: str, *, meta: dict, arrays: dict, header: Sequence[str],
             rows: Iterable[Sequence], overwrite: bool = False,
             extra: dict | None = None) -> str:
  """Writes a run directory atomically; returns its path. ``extra`` maps more
  file names to their text (e.g. ``metrics.json``), written before the rename."""
  path = os.path.abspath(path)
  check_writable(path, overwrite)
  parent = os.path.dirname(path)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; a run dir is ordinary
  try:
    with open(os.path.join(tmp, CONFIG), "w") as f:
      json.dump(meta, f, indent=2, default=json_default, allow_nan=True)
      f.write("\n")
    np.savez_compressed(os.path.join(tmp, ARRAYS), **arrays)
    with open(os.path.join(tmp, TABLE), "w", newline="") as f:
      w = csv.writer(f)
      w.writerow(header)
      for row in rows:
        w.writerow([_cell(x) for x in row])
    for name, text in (extra or {}).items():
      with open(os.path.join(tmp, name), "w") as f:
        f.write(text)
    install(tmp, path)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  return path


def install(new: str, path: str) -> None:
  """Moves the finished directory ``new`` to ``path`` (a sibling), replacing
  an existing ``path`` only once ``new`` is complete."""
  old = None
  if os.path.lexists(path):
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-",
                           dir=os.path.dirname(path))
    os.rename(path, os.path.join(old, "run"))
  os.rename(new, path)
  if old:
    shutil.rmtree(old)


def finished(path: str) -> bool:
  """Whether ``path`` is a complete run directory (``save_run`` renames a run
  into place only when it is whole)."""
  return all(os.path.isfile(os.path.join(path, f)) for f in (CONFIG, ARRAYS))


@dataclasses.dataclass
class Run:
  path: str
  meta: dict
  arrays: dict

  def axes(self, name: str) -> list[str]:
    return self.meta["axes"][name]


def load_run(path: str, field: str = "run") -> Run:
  """Loads a run directory written by ``save_run``."""
  cfg = os.path.join(path, CONFIG)
  if not os.path.isfile(cfg) or not os.path.isfile(os.path.join(path, ARRAYS)):
    raise ConfigError(field, f"expected a run directory with {CONFIG} and "
                      f"{ARRAYS}, got {path!r}")
  with open(cfg) as f:
    meta = json.load(f)
  with np.load(os.path.join(path, ARRAYS), allow_pickle=False) as z:
    arrays = {k: z[k] for k in z.files}
  return Run(path, meta, arrays)
