"""Loading user embeddings: files to checked unit rows, in bounded memory.

Three layouts (row i of every modality is one pair):

* one ``.npy`` of shape (M, N, D), M >= 2: modalities ``image``, ``text`` when
  M = 2, else ``m0``, ``m1``, ... (format ``npy_stacked``);
* one ``.npz`` with two or more named (N, D) arrays, plus optional ``labels``
  (N,) integer class ids and ``groups`` (N,) integer or string ids (``npz``);
* several ``.npy`` files, one (N, D) array per modality, named by file stem
  (``m0``, ``m1``, ... when stems repeat) (``npy_each``).

Every row is L2-normalised once, u_i = x_i / ||x_i||_2, computed in float64 over
blocks of rows and stored as float32 (float64 when the input is float64). A
``.npy`` is memory-mapped (``mmap_mode="r"``), so peak memory is the output plus
one float64 block; ``.npz`` members cannot be mapped and are each read once.
``allow_pickle=False`` always: object arrays are refused.

Bad input is refused with one-line ``ConfigError``s (wrong rank, N or D
mismatch, NaN/inf or zero rows, fewer than 2 pairs, non-float dtype, unreadable
file); the zero-shot and fairness loaders use ``read_array`` and
``read_labels`` for the same messages.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Sequence

import numpy as np

from gaplab._errors import ConfigError
from gaplab.embeddings import blocks

FLOATS = ("float16", "float32", "float64")
EXTRA_KEYS = ("labels", "groups")  # npz keys that are not modalities


@dataclasses.dataclass(frozen=True, eq=False)
class Embeddings:
  """Unit rows per modality (read-only arrays), optional labels and groups, and
  a JSON-able description of the source files."""
  names: tuple[str, ...]
  rows: tuple[np.ndarray, ...]
  labels: np.ndarray | None = None
  groups: np.ndarray | None = None
  source: dict = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    if len(self.names) != len(self.rows) or len(self.rows) < 1:
      raise ValueError(f"Expected one name per row array, got {len(self.names)} "
                       f"names and {len(self.rows)} arrays")
    shapes = {np.shape(r) for r in self.rows}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
      raise ValueError(f"Expected (N, D) arrays of one shape, got {sorted(shapes)}")
    for extra in (self.labels, self.groups):
      if extra is not None and np.shape(extra) != (self.n_pairs,):
        raise ValueError(f"Expected labels/groups of shape ({self.n_pairs},), "
                         f"got {np.shape(extra)}")

  @property
  def n_pairs(self) -> int:
    return int(self.rows[0].shape[0])

  @property
  def dim(self) -> int:
    return int(self.rows[0].shape[1])

  def pair(self, i: int | str = 0, j: int | str = 1) -> tuple[np.ndarray, np.ndarray]:
    """(rows[i], rows[j]); i and j are indices or modality names."""
    return self.rows[self._index(i)], self.rows[self._index(j)]

  def _index(self, k: int | str) -> int:
    if isinstance(k, str):
      if k not in self.names:
        raise ValueError(f"Expected a modality in {list(self.names)}, got {k!r}")
      return self.names.index(k)
    return range(len(self.rows))[k]  # IndexError when out of range


def _header_dtype(path: str):
  """The dtype in a ``.npy`` header, or None when the header cannot be read."""
  try:
    with open(path, "rb") as f:
      version = np.lib.format.read_magic(f)
      read = {(1, 0): np.lib.format.read_array_header_1_0,
              (2, 0): np.lib.format.read_array_header_2_0}.get(version)
      return None if read is None else read(f)[2]
  except Exception:  # noqa: BLE001 - only used to word an error
    return None


def _object_error(field: str, path: str) -> ConfigError:
  return ConfigError(field, f"expected a numeric array, got an object array in {path!r} "
                     "(object arrays are refused: allow_pickle=False)")


def _check_numeric(a, field: str, path: str) -> np.ndarray:
  if not isinstance(a, np.ndarray):
    raise ConfigError(field, f"expected one array in {path!r}, got {type(a).__name__}")
  if a.dtype.hasobject:
    raise _object_error(field, path)
  if a.dtype.fields is not None or a.dtype.kind == "V":
    raise ConfigError(field, f"expected a numeric array, got structured dtype "
                      f"{a.dtype} in {path!r}")
  return a


def _open(path: str, field: str, kind: str):
  """np.load of an existing ``kind`` (".npy" or ".npz") file, failures as ConfigError."""
  if not os.path.isfile(path):
    why = "a directory" if os.path.isdir(path) else "no such file"
    raise ConfigError(field, f"expected an existing {kind} file, got {path!r} ({why})")
  with open(path, "rb") as f:
    head = f.read(6)
  want = np.lib.format.MAGIC_PREFIX if kind == ".npy" else b"PK"
  if not head.startswith(want):
    raise ConfigError(field, f"expected a {kind} file, got {path!r} (not a NumPy "
                      f"{kind} file: starts with {head!r})")
  try:
    return np.load(path, mmap_mode="r" if kind == ".npy" else None, allow_pickle=False)
  except Exception as e:  # noqa: BLE001 - any unreadable file is the user's input
    dt = _header_dtype(path) if kind == ".npy" else None
    if (dt is not None and dt.hasobject) or "object" in str(e).lower():
      raise _object_error(field, path) from None
    msg = " ".join(str(e).split())
    raise ConfigError(field, f"expected a readable {kind} file, got {path!r} "
                      f"({type(e).__name__}: {msg})") from None


def _npz_member(z, key: str, field: str, path: str) -> np.ndarray:
  try:
    a = z[key]
  except Exception as e:  # noqa: BLE001 - a corrupt or object member
    if "object" in str(e).lower():
      raise _object_error(field, f"{path}[{key!r}]") from None
    msg = " ".join(str(e).split())
    raise ConfigError(field, f"expected a readable array {key!r} in {path!r} "
                      f"({type(e).__name__}: {msg})") from None
  return _check_numeric(a, field, f"{path}[{key!r}]")


def read_array(path: str, field: str) -> np.ndarray:
  """The array in ``path``: a ``.npy`` memory-mapped read-only (bounded memory),
  or the single array of a one-array ``.npz`` (read in full). Object and
  structured arrays, missing or unreadable files and other extensions are
  refused with one ConfigError naming ``field``."""
  path = os.fspath(path)
  ext = os.path.splitext(path)[1].lower()
  if ext not in (".npy", ".npz"):
    raise ConfigError(field, f"expected a path ending in .npy (or .npz), got {path!r}")
  if ext == ".npy":
    return _check_numeric(_open(path, field, ".npy"), field, path)
  with _open(path, field, ".npz") as z:
    if len(z.files) != 1:
      raise ConfigError(field, f"expected a .npy file or a .npz holding one array, got "
                        f"{len(z.files)} arrays {z.files} in {path!r}")
    return _npz_member(z, z.files[0], field, path)


def _where(name: str) -> str:
  return f" in {name!r}" if name else ""


def _check_float(x: np.ndarray, field: str, name: str) -> None:
  if x.ndim != 2:
    raise ConfigError(field, f"expected an array of shape (N, D), got shape "
                      f"{x.shape}{_where(name)}")
  if x.dtype.name not in FLOATS:
    raise ConfigError(field, f"expected a float array ({', '.join(FLOATS)}), got "
                      f"dtype {x.dtype}{_where(name)}")
  if x.shape[1] < 1:
    raise ConfigError(field, f"expected D >= 1 columns, got shape "
                      f"{x.shape}{_where(name)}")


def _unit_rows(x: np.ndarray, field: str, name: str, block: int, dtype,
               hasher=None) -> np.ndarray:
  """unit_rows, optionally feeding the raw row bytes to ``hasher`` in the same
  pass (one read of a memory-mapped file)."""
  _check_float(x, field, name)
  out = np.empty(x.shape, dtype)
  n_zero = n_bad = 0
  first = None
  for s in blocks.row_blocks(x.shape[0], block):
    raw = x[s]
    if hasher is not None:
      hasher.update(np.ascontiguousarray(raw))
    b = np.array(raw, np.float64)
    finite = np.isfinite(b).all(axis=1)
    b[~finite] = 0.0
    big = np.maximum(b.max(axis=1), -b.min(axis=1))  # max |b_ij|, no temporary block
    zero = finite & (big == 0)
    bad = ~finite | zero
    if bad.any():
      n_zero += int(zero.sum())
      n_bad += int((~finite).sum())
      if first is None:
        first = s.start + int(np.argmax(bad))
    # scale each row by a power of two (exact) so its largest entry is in
    # [0.5, 1): the squares neither overflow nor underflow, even for float64
    _, e = np.frexp(np.where(bad, 1.0, big))
    np.ldexp(b, -e[:, None], out=b)
    b /= np.sqrt(np.einsum("ij,ij->i", b, b) + bad)[:, None]  # bad rows are 0 / 1
    out[s] = b
    del b  # freed before the next block is read: one float64 block at a time
  if n_zero or n_bad:
    counts = [f"{n_zero} zero rows" if n_zero else "",
              f"{n_bad} rows with NaN or inf" if n_bad else ""]
    raise ConfigError(field, f"expected finite nonzero rows, got "
                      f"{' and '.join(c for c in counts if c)}{_where(name)} "
                      f"(first bad row {first})")
  out.setflags(write=False)
  return out


def _out_dtype(dtypes) -> np.dtype:
  return np.dtype(np.float64 if np.dtype(np.float64) in dtypes else np.float32)


def unit_rows(x: np.ndarray, field: str, name: str = "",
              block: int = blocks.DEFAULT_BLOCK) -> np.ndarray:
  """x_i / ||x_i||_2 for each row of ``x`` (N, D) float16/32/64, computed over row
  blocks in float64 and stored in float32 (float64 for float64 input), read-only.
  Refuses, in one ConfigError naming ``field`` and ``name``, the count of zero
  rows and of rows with NaN or inf, and the first bad row."""
  return _unit_rows(x, field, name, block, _out_dtype([x.dtype]))


def read_labels(path_or_array, field: str, n: int) -> np.ndarray:
  """(n,) non-negative integer class ids as int64 (a path to a ``.npy``, or an
  array); float, bool, wrong shape or length, and negative ids are refused."""
  if isinstance(path_or_array, (str, os.PathLike)):
    y, where = read_array(path_or_array, field), f" in {os.fspath(path_or_array)!r}"
  else:
    y, where = np.asarray(path_or_array), ""
  if y.shape != (n,):
    raise ConfigError(field, f"expected labels of shape ({n},), one per row, got "
                      f"shape {y.shape}{where}")
  if y.dtype.kind not in "iu":
    raise ConfigError(field, f"expected integer class labels, got dtype {y.dtype}{where}")
  if y.dtype == np.uint64 and n and y.max() > np.iinfo(np.int64).max:
    raise ConfigError(field, f"expected labels below 2**63, got {int(y.max())}{where}")
  y = np.array(y, np.int64)
  if (y < 0).any():
    raise ConfigError(field, f"expected labels >= 0, got {int((y < 0).sum())} negative "
                      f"labels{where} (first at row {int(np.argmax(y < 0))})")
  return y


def _read_groups(g: np.ndarray, field: str, n: int, where: str) -> np.ndarray:
  if g.shape != (n,):
    raise ConfigError(field, f"expected groups of shape ({n},), one per row, got "
                      f"shape {g.shape}{where}")
  if g.dtype.kind in "iu":
    return np.array(g, np.int64)
  if g.dtype.kind == "U":
    return np.array(g)
  if g.dtype.kind == "S":
    try:
      return np.char.decode(g, "utf-8")
    except UnicodeDecodeError:
      raise ConfigError(field, f"expected utf-8 group names, got undecodable "
                        f"bytes{where}") from None
  raise ConfigError(field, f"expected integer or string groups, got dtype "
                    f"{g.dtype}{where}")


def _stems(paths: Sequence[str]) -> list[str]:
  stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
  return stems if len(set(stems)) == len(stems) else [f"m{k}" for k in range(len(paths))]


def _select(names: list[str], modalities, field: str, where: str) -> list[int]:
  if modalities is None:
    return list(range(len(names)))
  modalities = [modalities] if isinstance(modalities, str) else list(modalities)
  unknown = [m for m in modalities if m not in names]
  if unknown:
    raise ConfigError(field, f"expected modalities among {names}, got unknown "
                      f"{unknown}{where}")
  if len(set(modalities)) != len(modalities) or len(modalities) < 2:
    raise ConfigError(field, f"expected two or more distinct modalities, got "
                      f"{modalities}{where}")
  return [names.index(m) for m in modalities]


def _read_all(paths: list[str], modalities, field: str):
  """(format, names, raw arrays, labels or None, groups or None)."""
  if len(paths) > 1:
    for p in paths:
      if not p.lower().endswith(".npy"):
        raise ConfigError(field, f"expected one .npy (N, D) per modality when several "
                          f"paths are given, got {p!r}")
    names = _stems(paths)
    keep = _select(names, modalities, field, "")
    return ("npy_each", [names[k] for k in keep],
            [read_array(paths[k], field) for k in keep], None, None)
  path = paths[0]
  if path.lower().endswith(".npz"):
    with _open(path, field, ".npz") as z:
      names = [k for k in z.files if k not in EXTRA_KEYS]
      if len(names) < 2:
        raise ConfigError(field, f"expected two or more modality arrays in {path!r}, "
                          f"got {names} (keys {z.files})")
      keep = _select(names, modalities, field, f" in {path!r}")
      xs = [_npz_member(z, names[k], field, path) for k in keep]
      extra = {k: _npz_member(z, k, field, path) if k in z.files else None
               for k in EXTRA_KEYS}
    return "npz", [names[k] for k in keep], xs, extra["labels"], extra["groups"]
  a = read_array(path, field)
  if a.ndim != 3 or a.shape[0] < 2:
    raise ConfigError(field, f"expected one .npy of shape (M >= 2, N, D), or one .npy "
                      f"(N, D) per modality, got shape {a.shape} in {path!r}")
  names = ["image", "text"] if a.shape[0] == 2 else [f"m{k}" for k in range(a.shape[0])]
  keep = _select(names, modalities, field, f" in {path!r}")
  return "npy_stacked", [names[k] for k in keep], [a[k] for k in keep], None, None


def load(paths: Sequence[str], *, modalities: Sequence[str] | None = None,
         field: str = "emb", block: int = blocks.DEFAULT_BLOCK) -> Embeddings:
  """Checked unit-row embeddings from one (M, N, D) ``.npy``, one ``.npz`` of named
  arrays, or one (N, D) ``.npy`` per modality (see the module docstring);
  ``modalities`` selects and orders them by name. Every bad input is one
  ConfigError naming ``field``."""
  paths = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else \
      [os.fspath(p) for p in paths]
  if not paths:
    raise ConfigError(field, "expected one or more embedding files, got none")
  fmt, names, xs, labels, groups = _read_all(paths, modalities, field)
  for name, x in zip(names, xs):
    if fmt == "npz" and x.ndim != 2:
      raise ConfigError(field, f"expected modality arrays of shape (N, D), got shape "
                        f"{x.shape} in {name!r} of {paths[0]!r} (every key but "
                        f"{' and '.join(EXTRA_KEYS)} is a modality: choose them by name)")
    _check_float(x, field, name)
  for name, x in zip(names[1:], xs[1:]):
    for axis, what in ((0, "rows N"), (1, "dimensions D")):
      if x.shape[axis] != xs[0].shape[axis]:
        raise ConfigError(field, f"expected the same number of {what} in every "
                          f"modality, got {xs[0].shape[axis]} in {names[0]!r} and "
                          f"{x.shape[axis]} in {name!r}")
  n, d = xs[0].shape
  if n < 2:
    raise ConfigError(field, f"expected at least 2 pairs, got {n}")
  where = f" in {paths[0]!r}"
  labels = None if labels is None else read_labels(labels, field, n)
  groups = None if groups is None else _read_groups(groups, field, n, where)
  dtype = _out_dtype([x.dtype for x in xs])
  rows, sha = [], []
  for name, x in zip(names, xs):
    h = hashlib.sha256()
    rows.append(_unit_rows(x, field, name, block, dtype, h))
    sha.append(h.hexdigest())
  in_dtypes = [x.dtype.name for x in xs]
  source = {"paths": paths, "format": fmt, "modalities": list(names),
            "dtype": np.result_type(*in_dtypes).name, "n_pairs": int(n), "dim": int(d),
            "sha256": sha}
  if len(set(in_dtypes)) > 1:
    source["dtypes"] = in_dtypes
  return Embeddings(tuple(names), tuple(rows), labels, groups, source)
