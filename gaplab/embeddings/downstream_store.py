"""``gaplab zeroshot`` and ``gaplab fairness`` as results data: inputs read and
checked, the curve computed, one run directory written (``gaplab.io.results``).

A zero-shot run holds ``config.json`` (kind ``zeroshot``; resolved config, the
sources with their sha256, input sizes, ``summary`` with the best delta and its
gain, provenance), ``arrays.npz`` (delta, gap, signed_gap, top1, top5 when
C >= 5, direction) and the table ``results.csv``, also written as
``zeroshot.csv``: columns delta, gap, accuracy (top-1), top5, signed_gap. A
fairness run (kind ``fairness``) holds delta, fraction (K, G, S), count,
group_size, overall, gap, accuracy when labels are given, and ``fairness.csv``
(= results.csv): delta, group, set, fraction, count, group_size, accuracy.

Inputs are ``.npy`` files, memory-mapped (``load.read_array``); image rows are
normalised once (``load.unit_rows``) and read in row blocks by the curves. The
sha256 of each source array is of its bytes as stored (``nets.inputs.fingerprint``).
"""
from __future__ import annotations

import csv
import io
import math
import time

import numpy as np

from gaplab._errors import ConfigError
from gaplab.embeddings import blocks
from gaplab.embeddings import fairness as fa
from gaplab.embeddings import load
from gaplab.embeddings import zeroshot as zs
from gaplab.io import provenance
from gaplab.io import results
from gaplab.io import tables
from gaplab.nets import inputs


def _source(path: str, x: np.ndarray) -> dict:
  return {"path": path, "shape": list(x.shape), "dtype": x.dtype.name,
          "sha256": inputs.fingerprint(x)}


def read_images(path: str, field: str = "images"):
  """(unit image rows (N, D), source record) from an (N, D) float ``.npy``."""
  x = load.read_array(path, field)
  return load.unit_rows(x, field, "images"), _source(path, x)


def read_classes(path: str, dim: int, field: str = "classes"):
  """(unit class embeddings (C, D) float64, source record) from (C, D) texts or
  (C, P, D) prompts (``zeroshot.class_embeddings``)."""
  t = load.read_array(path, field)
  if t.ndim not in (2, 3) or t.shape[-1] != dim:
    raise ConfigError(field, f"expected class texts (C, D) or prompts (C, P, D) with "
                      f"D = {dim} (as the images), got shape {t.shape}")
  return zs.class_embeddings(t), _source(path, t)


def read_labels(path: str, n: int, field: str = "labels"):
  y = load.read_labels(path, field, n)
  return y, {"path": path, "shape": [n], "dtype": "int64", "sha256": inputs.fingerprint(y)}


def read_groups(path: str, n: int, names=None):
  """(group ids (N,) int64, names, source): integer ids (named by ``names`` or
  0, 1, ...), or string ids (named by their sorted distinct values)."""
  g = load.read_array(path, "groups")
  src = _source(path, g)
  if g.shape == (n,) and g.dtype.kind in "US":
    if names is not None:
      raise ConfigError("group_names", "expected no --group-names with string groups "
                        "(the strings name them)")
    uniq, ids = np.unique(np.asarray(g).astype(str), return_inverse=True)
    return ids.astype(np.int64), [str(u) for u in uniq], src
  return load.read_labels(g, "groups", n), names, src


def read_direction(path: str, dim: int, field: str = "direction"):
  """A (D,) direction vector from ``.npy`` (raw: callers normalise as they need)."""
  v = load.read_array(path, field)
  if v.shape != (dim,):
    raise ConfigError(field, f"expected a vector of shape ({dim},), got {v.shape}")
  zs.unit_direction(v, dim, field)
  return np.array(v, np.float64), _source(path, v)


def pair_gap(pairs: np.ndarray, field: str = "direction_from",
             block: int = blocks.DEFAULT_BLOCK) -> np.ndarray:
  """The raw gap vector mean_i u_i - mean_i w_i of a paired set (2, N, D):
  rows normalised, float64 over row blocks (as the paper's COCO direction,
  before it normalises it)."""
  means = [blocks.mean_rows(load.unit_rows(pairs[m], field, name), block)
           for m, name in enumerate(("images", "texts"))]
  return means[0] - means[1]


def read_pair_gap(path: str, dim: int, field: str = "direction_from"):
  """(raw gap vector (D,), source) of a paired set ``.npy`` (2, N, D)."""
  p = load.read_array(path, field)
  if p.ndim != 3 or p.shape[0] != 2 or p.shape[1] < 2 or p.shape[2] != dim:
    raise ConfigError(field, f"expected a paired set of shape (2, N >= 2, {dim}), got "
                      f"shape {p.shape}")
  gap = pair_gap(p, field)
  zs.unit_direction(gap, dim, field)
  return gap, _source(path, p)


def _csv_text(header, rows) -> str:
  """The table as ``results.save_run`` writes results.csv (same cells, bytes)."""
  def cell(x):
    if x is None:
      return ""
    if isinstance(x, (float, np.floating)):
      return repr(float(x)) if math.isfinite(x) else ("nan" if math.isnan(x) else
                                                      ("inf" if x > 0 else "-inf"))
    return str(int(x)) if isinstance(x, np.integer) else str(x)
  buf = io.StringIO(newline="")
  w = csv.writer(buf)
  w.writerow(header)
  for row in rows:
    w.writerow([cell(x) for x in row])
  return buf.getvalue()


def _save(out, *, kind, meta, arrays, header, rows, overwrite, t0, dtype):
  rows = [tuple("" if x is None else x for x in r) for r in rows]
  meta = {"kind": kind, **meta,
          "provenance": dict(provenance.collect(precision="float64 numpy", dtype=dtype),
                             elapsed_s=time.perf_counter() - t0)}
  return results.save_run(out, meta=meta, arrays=arrays, header=header, rows=rows,
                          overwrite=overwrite, extra={f"{kind}.csv": _csv_text(header, rows)})


def run_and_save_zeroshot(images, labels, classes, out: str, *, sources: dict,
                          overwrite: bool = False, deltas=None, direction=None,
                          direction_from: str | None = None, topk=zs.DEFAULT_TOPK,
                          block: int | None = None) -> str:
  """``zeroshot.curve`` of unit images, labels and unit classes, saved to ``out``
  (nothing is written when an input is refused); returns the run path."""
  results.check_writable(out, overwrite)
  t0 = time.perf_counter()
  deltas = zs.DEFAULT_DELTAS if deltas is None else deltas
  c = zs.curve(images, labels, classes, deltas=deltas, direction=direction, topk=topk,
               block=block)
  s = zs.summary(c)
  ks = sorted(int(k[3:]) for k in c if k.startswith("top"))
  cols = ["top1"] + [f"top{k}" for k in ks if k != 1]
  arrays = {k: np.asarray(c[k]) for k in ("delta", "gap", "signed_gap", *cols, "direction")}
  source = c["direction_source"] if direction_from is None else "pairs"
  meta = {"sources": sources,
          "config": {"deltas": c["delta"].tolist(), "topk": [int(k) for k in topk],
                     "block": zs.auto_block(c["delta"].size, c["n_classes"], block),
                     "direction": source, "direction_from": direction_from},
          "inputs": {"n_images": c["n_images"], "n_classes": c["n_classes"],
                     "dim": int(np.shape(images)[1])},
          "summary": s, "axes": {k: ["delta"] for k in arrays if k != "direction"}}
  meta["axes"]["direction"] = ["dim"]
  header = ["delta", "gap", "accuracy", *cols[1:], "signed_gap"]
  rows = [(c["delta"][i], c["gap"][i], *(c[k][i] for k in cols), c["signed_gap"][i])
          for i in range(c["delta"].size)]
  return _save(out, kind="zeroshot", meta=meta, arrays=arrays, header=header, rows=rows,
               overwrite=overwrite, t0=t0, dtype=str(np.asarray(images[:1]).dtype))


def run_and_save_fairness(images, groups, classes, flagged: dict, out: str, *,
                          sources: dict, direction, overwrite: bool = False,
                          deltas=fa.DEFAULT_DELTAS, mode: str = "image_raw",
                          labels=None, group_names=None, direction_from: str | None = None,
                          block: int | None = None) -> str:
  """``fairness.curve`` saved to ``out``; returns the run path."""
  results.check_writable(out, overwrite)
  t0 = time.perf_counter()
  c = fa.curve(images, groups, classes, flagged, deltas=deltas, mode=mode,
               direction=direction, labels=labels, group_names=group_names, block=block)
  arrays = {k: np.asarray(c[k]) for k in ("delta", "fraction", "count", "group_size",
                                          "overall", "gap")}
  if c["accuracy"] is not None:
    arrays["accuracy"] = np.asarray(c["accuracy"])
  arrays["direction"] = np.asarray(direction, np.float64)
  i0 = int(np.flatnonzero(c["delta"] == 0)[0])
  acc0 = None if c["accuracy"] is None else float(c["accuracy"][i0])
  summary = {"accuracy_at_0": acc0, "gap_at_0": float(c["gap"][i0]),
             "accuracy_cost": None if acc0 is None else
             {repr(float(d)): float(acc0 - a) for d, a in zip(c["delta"], c["accuracy"])}}
  meta = {"sources": sources,
          "config": {"deltas": c["delta"].tolist(), "mode": mode, "flagged": c["flagged"],
                     "groups": c["groups"], "direction_from": direction_from,
                     "block": zs.auto_block(c["delta"].size, c["n_classes"], block)},
          "inputs": {"n_images": c["n_images"], "n_classes": c["n_classes"],
                     "dim": int(np.shape(images)[1]), "labels": labels is not None},
          "summary": summary,
          "axes": {"fraction": ["delta", "group", "set"], "count": ["delta", "group", "set"],
                   "group_size": ["group"], "overall": ["delta", "set"], "gap": ["delta"],
                   "delta": ["delta"], "accuracy": ["delta"], "direction": ["dim"]},
          "coords": {"group": c["groups"], "set": c["sets"]}}
  header = ["delta", "group", "set", "fraction", "count", "group_size", "accuracy"]
  rows = [(d, gname, sname, c["fraction"][k, g, s], c["count"][k, g, s],
           c["group_size"][g], None if c["accuracy"] is None else c["accuracy"][k])
          for k, d in enumerate(c["delta"]) for g, gname in enumerate(c["groups"])
          for s, sname in enumerate(c["sets"])]
  return _save(out, kind="fairness", meta=meta, arrays=arrays, header=header, rows=rows,
               overwrite=overwrite, t0=t0, dtype=str(np.asarray(images[:1]).dtype))


def report(run_dir: str) -> str:
  """Plain-text summary and table of a saved zero-shot or fairness run."""
  run = results.load_run(run_dir)
  kind = run.meta.get("kind")
  if kind == "zeroshot":
    return _zeroshot_report(run)
  if kind == "fairness":
    return _fairness_report(run)
  raise ConfigError("run", f"expected a zeroshot or fairness run, got kind {kind!r}")


def _zeroshot_report(run) -> str:
  a, s = run.arrays, run.meta["summary"]
  cols = ["top1"] + (["top5"] if "top5" in a else [])
  rows = [(f"{d:g}", f"{g:.4f}", *(f"{a[k][i]:.4f}" for k in cols))
          for i, (d, g) in enumerate(zip(a["delta"], a["gap"]))]
  head = (f"original gap {s['original_gap']:.4f}; top-1 at delta 0: {s['top1_at_0']:.4f}; "
          f"best delta {s['best_delta']:g} (gap {s['gap_at_best']:.4f}): top-1 "
          f"{s['best_top1']:.4f}, gain {s['gain']:+.4f}")
  return "\n".join([head, tables.table(["delta", "gap", *cols], rows)])


def _fairness_report(run) -> str:
  a, coords = run.arrays, run.meta["coords"]
  sets = coords["set"]
  rows = []
  for k, d in enumerate(a["delta"]):
    acc = f"{a['accuracy'][k]:.4f}" if "accuracy" in a else "-"
    for g, name in enumerate(coords["group"]):
      rows.append((f"{d:g}", name, *(f"{100 * a['fraction'][k, g, s]:.1f}%"
                                     for s in range(len(sets))), acc, f"{a['gap'][k]:.4f}"))
  head = (f"mode {run.meta['config']['mode']}; {run.meta['inputs']['n_images']} images, "
          f"{len(coords['group'])} groups; fraction of each group's top-1 predictions "
          "in each flagged set")
  return "\n".join([head, tables.table(["delta", "group", *sets, "accuracy", "gap"], rows)])
