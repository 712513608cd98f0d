"""Zero-shot accuracy as the modality gap is shifted (the paper's Table 1 probe).

What the paper's notebook does (Weixin-Liang/Modality-Gap,
``Table_1_Implications_CLIP_Zero_Shot/shifting/shift_features.ipynb``,
``move_features``): with unit image rows x_i and one unit text row t_c per
class (``encode_clip_classification`` in ``training/utils.py``: one prompt a
class, normalised), the direction is

    d = normalise(mean_i x_i - mean_c t_c)            (the task's own gap), or
    d = normalise(mean(COCO images) - mean(COCO captions))   (its MSCOCO cell),

and for ``delta in np.arange(-5, 5, 0.25)`` (40 values, -5 .. 4.75: 5 itself is
not in the grid; 0 is)

    t'_c = normalise(t_c + delta/2 d),   x'_i = normalise(x_i - delta/2 d),
    prediction_i = argmax_c x'_i . t'_c,
    gap = |mean_c t'_c - mean_i x'_i|       (centroid of the task's class texts,
                                             not of any caption set),

Hit@K = fraction of images whose label is among the K largest similarities.
delta > 0 moves the centroids toward each other. Here the same, for every delta
of the grid at once, in float64 NumPy over row blocks of images (bounded
memory for 10^6 x 1024 inputs): one (B, D) x (D, C) product per block, and the
shifted cosines of all deltas from it by

    (x - b v).(t + c v) = x.t + c x.v - b v.t - b c |v|^2,
    |x - b v|^2 = |x|^2 - 2 b x.v + b^2 |v|^2,   |t + c v|^2 = |t|^2 + 2 c t.v + c^2 |v|^2

(b = c = delta/2, v = d), broadcast to (K, B, C). Ties: the top-1 prediction
is the first maximal class (NumPy's argmax, as the notebook's torch argmax);
class j ranks ahead of the label l when its similarity is larger, or equal with
j < l, so top-1 is exactly ``argmax == label``.

Prompt ensembles: ``class_embeddings`` takes (C, P, D) texts, P prompts a class,
and averages as CLIP's prompt ensembling does (normalise each prompt, mean over
P, renormalise); the notebook itself uses one prompt a class.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from gaplab._errors import ConfigError
from gaplab.embeddings import blocks

DEFAULT_DELTAS = np.arange(-20, 20) * 0.25  # np.arange(-5, 5, 0.25): -5 .. 4.75, 40 values
DEFAULT_TOPK = (1, 5)
SCORE_ELEMENTS = 1 << 22  # entries of one (K, B, C) float64 block of scores (32 MiB)


def auto_block(k: int, c: int, block: int | None = None) -> int:
  """Rows per image block: ``block`` if given, else as many as keep one
  (K, B, C) float64 score array near 32 MiB (at most blocks.DEFAULT_BLOCK)."""
  if block is not None:
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
      raise ConfigError("block", f"expected an integer >= 1, got {block!r}")
    return int(block)
  return int(min(blocks.DEFAULT_BLOCK, max(1, SCORE_ELEMENTS // max(1, k * c))))


def class_embeddings(t) -> np.ndarray:
  """Unit class embeddings (C, D) float64 from (C, D) texts (rows normalised)
  or (C, P, D) prompts (each normalised, averaged over P, renormalised)."""
  from gaplab.embeddings import load
  t = np.asarray(t)
  if t.ndim not in (2, 3) or t.shape[0] < 2 or t.shape[-1] < 1 or 0 in t.shape:
    raise ConfigError("classes", f"expected (C >= 2, D) class texts or (C, P, D) "
                      f"prompts, got shape {t.shape}")
  if t.ndim == 2:
    return blocks.f64(load.unit_rows(t, "classes", "class texts"))
  c, p, d = t.shape
  unit = blocks.f64(load.unit_rows(t.reshape(c * p, d), "classes", "prompts"))
  mean = unit.reshape(c, p, d).mean(axis=1)
  norm = np.linalg.norm(mean, axis=1)
  if np.any(norm == 0):
    raise ConfigError("classes", f"expected prompts whose mean is nonzero, got "
                      f"{int(np.sum(norm == 0))} classes whose prompts cancel")
  return mean / norm[:, None]


def check_images(images, classes) -> None:
  """Images (N >= 1, D) with the classes' D; classes (C >= 2, D)."""
  if np.ndim(classes) != 2 or np.shape(classes)[0] < 2:
    raise ConfigError("classes", f"expected class embeddings (C >= 2, D), got shape "
                      f"{np.shape(classes)}")
  if np.ndim(images) != 2 or np.shape(images)[0] < 1:
    raise ConfigError("images", f"expected image embeddings (N, D), got shape "
                      f"{np.shape(images)}")
  if np.shape(images)[1] != np.shape(classes)[1]:
    raise ConfigError("classes", f"expected D = {np.shape(images)[1]} (as the images), "
                      f"got D = {np.shape(classes)[1]}")


def check_labels(labels, n: int, c: int, field: str = "labels") -> np.ndarray:
  """Integer labels (n,) in [0, c), as int64."""
  y = np.asarray(labels)
  if y.shape != (n,):
    raise ConfigError(field, f"expected {n} labels (one an image), got shape {y.shape}")
  if not np.issubdtype(y.dtype, np.integer):
    raise ConfigError(field, f"expected integer class indices, got dtype {y.dtype}")
  bad = (y < 0) | (y >= c)
  if np.any(bad):
    raise ConfigError(field, f"expected class indices in [0, {c}), got {int(np.sum(bad))} "
                      f"outside (e.g. {int(y[bad][0])})")
  return y.astype(np.int64)


def check_deltas(deltas, increasing: bool = True) -> np.ndarray:
  """A finite 1-D grid (float64) with 0 in it; strictly increasing, or only
  distinct when ``increasing`` is False (the fairness notebook's own order)."""
  v = np.asarray(deltas, np.float64)
  if v.ndim != 1 or v.size == 0:
    raise ConfigError("deltas", f"expected a non-empty 1-D grid, got shape {v.shape}")
  if not np.all(np.isfinite(v)):
    raise ConfigError("deltas", "expected finite deltas, got NaN or inf")
  if increasing and np.any(np.diff(v) <= 0):
    raise ConfigError("deltas", f"expected a strictly increasing grid, got {v.tolist()}")
  if not increasing and np.unique(v).size != v.size:
    raise ConfigError("deltas", f"expected distinct deltas, got {v.tolist()}")
  if not np.any(v == 0):
    raise ConfigError("deltas", f"expected a grid containing 0 (the unshifted "
                      f"baseline), got {v.tolist()}")
  return v


def unit_direction(direction, dim: int, field: str = "direction") -> np.ndarray:
  """``direction`` (dim,) as a float64 unit vector; zero or non-finite refused."""
  d = np.asarray(direction, np.float64)
  if d.shape != (dim,):
    raise ConfigError(field, f"expected a vector of length D = {dim}, got shape {d.shape}")
  norm = float(np.linalg.norm(d)) if np.all(np.isfinite(d)) else float("nan")
  if not norm > 0:
    raise ConfigError(field, "expected a finite nonzero direction, got "
                      + ("a zero vector" if norm == 0 else "NaN or inf"))
  return d / norm


def task_direction(images, classes, block: int = blocks.DEFAULT_BLOCK) -> np.ndarray:
  """normalise(mean_i x_i - mean_c t_c): the task's own gap direction (unit, float64)."""
  check_images(images, classes)
  diff = blocks.mean_rows(images, block) - blocks.f64(classes).mean(axis=0)
  norm = float(np.linalg.norm(diff))
  if norm == 0:
    raise ConfigError("direction", "expected a direction: the task's gap is zero, so it "
                      "has none (pass --direction)")
  return diff / norm


def shifted_cosines(x, t, v, b, c):
  """Cosines (K, B, C) of normalise(x_i - b_k v) with normalise(t_j + c_k v), and
  the norms |x_i - b_k v| (K, B) and |t_j + c_k v| (K, C), for float64 x (B, D),
  t (C, D), v (D,), b and c (K,): one x t^T product and broadcasting (module
  docstring). A shifted row of norm 0 (x = b v exactly) counts as norm 1e-300."""
  xt, xv, tv, vv = x @ t.T, x @ v, t @ v, float(v @ v)
  xx, tt = np.einsum("bd,bd->b", x, x), np.einsum("cd,cd->c", t, t)
  bk, ck = b[:, None], c[:, None]
  nx = np.sqrt(np.maximum(xx[None] - 2 * bk * xv[None] + bk**2 * vv, 0))
  nt = np.sqrt(np.maximum(tt[None] + 2 * ck * tv[None] + ck**2 * vv, 0))
  nx, nt = np.maximum(nx, 1e-300), np.maximum(nt, 1e-300)
  row = (ck * xv[None] - (b * c * vv)[:, None]) / nx  # (K, B), over |x - b v|
  col = -bk * tv[None]  # (K, C)
  cos = np.empty((b.size,) + xt.shape)
  np.add(xt[None], col[:, None, :], out=cos)  # x.t - b v.t
  cos /= nx[:, :, None]
  cos += row[:, :, None]                      # + c x.v - b c |v|^2
  cos /= nt[:, None, :]
  return cos, nx, nt


def sweep(images, classes, v, b, c, block: int,
          visit: Callable[[slice, np.ndarray], None]) -> tuple[np.ndarray, np.ndarray]:
  """Calls ``visit(rows, cos)`` with the (K, B, C) shifted cosines of every row
  block of ``images`` and returns the shifted centroids (K, D) of the images,
  mean_i normalise(x_i - b_k v), and of the classes, mean_j normalise(t_j + c_k v)."""
  t = blocks.f64(classes)
  v, b, c = blocks.f64(v), blocks.f64(b), blocks.f64(c)
  k, n = b.size, np.shape(images)[0]
  total, inv_sum = np.zeros((k, t.shape[1])), np.zeros(k)
  for rows in blocks.row_blocks(n, block):
    x = blocks.f64(images[rows])
    cos, nx, nt = shifted_cosines(x, t, v, b, c)
    visit(rows, cos)
    w = 1.0 / nx  # (K, B)
    total += w @ x
    inv_sum += w.sum(axis=1)
  image_mean = (total - (b * inv_sum)[:, None] * v[None]) / n
  wt = 1.0 / nt  # (K, C): the class rows are few, done once
  class_mean = (wt @ t + (c * wt.sum(axis=1))[:, None] * v[None]) / t.shape[0]
  return image_mean, class_mean


def ranks(cos, labels) -> np.ndarray:
  """Rank (K, B) of each row's label among the classes: the number of classes
  with a larger cosine, plus those with an equal one and a smaller index."""
  own = np.take_along_axis(cos, labels[None, :, None], axis=2)  # (K, B, 1)
  rank = np.sum(cos > own, axis=2)
  tied = np.sum(cos == own, axis=2) > 1  # (K, B): another class ties the label
  if tied.any():  # rare: count the tying classes of smaller index
    k, i = np.nonzero(tied)
    before = np.arange(cos.shape[2]) < labels[i][:, None]
    rank[k, i] += np.sum((cos[k, i] == own[k, i]) & before, axis=1)
  return rank


def curve(images, labels, classes, *, deltas=DEFAULT_DELTAS, direction=None,
          topk: Sequence[int] = DEFAULT_TOPK, block: int | None = None) -> dict:
  """Zero-shot top-k accuracy and gap for every delta of ``deltas`` (one pass).

  ``images`` unit rows (N, D), ``labels`` (N,) class indices, ``classes`` unit
  rows (C, D) (``class_embeddings``). ``direction`` (D,) is normalised; by
  default it is ``task_direction``. Returns ``delta`` (K,), ``gap`` (K,)
  |mean image' - mean class'| (the centroid of the task's C shifted class
  texts), ``signed_gap`` (K,) (mean image' - mean class').d, ``top{k}`` (K,)
  for each k of ``topk`` with k <= C (``top1`` always), ``direction`` (D,) and
  ``direction_source`` ("task" or "given"). The grid must contain 0.
  """
  check_images(images, classes)
  n, dim = np.shape(images)
  cls = np.shape(classes)[0]
  y = check_labels(labels, n, cls)
  deltas = check_deltas(deltas)
  ks = sorted({1, *(_check_k(k) for k in topk)})
  ks = [k for k in ks if k <= cls]
  if direction is None:
    d, source = task_direction(images, classes), "task"
  else:
    d, source = unit_direction(direction, dim), "given"
  half = 0.5 * deltas
  hits = {k: np.zeros(deltas.size, np.int64) for k in ks}

  def visit(rows, cos):
    r = ranks(cos, y[rows])
    for k in ks:
      hits[k] += np.sum(r < k, axis=1)

  image_mean, class_mean = sweep(images, classes, d, half, half,
                                 auto_block(deltas.size, cls, block), visit)
  diff = image_mean - class_mean
  out = {"delta": deltas, "gap": np.linalg.norm(diff, axis=1), "signed_gap": diff @ d}
  out.update({f"top{k}": hits[k] / n for k in ks})
  out.update(direction=d, direction_source=source, n_images=n, n_classes=cls)
  return out


def _check_k(k) -> int:
  if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
    raise ConfigError("topk", f"expected integers >= 1, got {k!r}")
  return int(k)


def summary(c: dict) -> dict:
  """The gap and top-1 accuracy at delta = 0, the best delta (largest top-1;
  among ties the smallest |delta|, then the smaller delta), its top-1 and the
  gain over delta = 0."""
  delta, top1 = np.asarray(c["delta"]), np.asarray(c["top1"])
  zero = np.flatnonzero(delta == 0)
  if zero.size != 1:
    raise ConfigError("deltas", "expected a grid containing 0 once (the unshifted baseline)")
  i0 = int(zero[0])
  best = top1 == top1.max()
  order = np.lexsort((delta, np.abs(delta), ~best))  # best first, then |delta|, delta
  ib = int(order[0])
  return {"original_gap": float(c["gap"][i0]), "top1_at_0": float(top1[i0]),
          "best_delta": float(delta[ib]), "best_top1": float(top1[ib]),
          "gap_at_best": float(c["gap"][ib]), "gain": float(top1[ib] - top1[i0])}
