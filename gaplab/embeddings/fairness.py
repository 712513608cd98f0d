"""Group-wise zero-shot outcomes as the modality gap is shifted (the paper's Table 2).

What the paper's notebook does (Weixin-Liang/Modality-Gap,
``Table_2_Implications_CLIP_Fairness/shift_CLIP_FairFace_Bias.ipynb``, after
CLIP's own FairFace probe, its paper's Section 7.1): 10,954 FairFace validation
images (CLIP ViT-B/32, rows normalised by ``my_norm``) against 21 class prompts,
"a photo of a white man" ... the 14 race x gender combinations, plus 4
non-human classes (animal, gorilla, chimpanzee, orangutan) and 3 crime-related
ones (thief, criminal, suspicious person), each prompt's text embedding
normalised, one prompt a class. For delta in [0.0, -0.20, -0.5, -1.0, 0.75]
(that order) it shifts only the images, by the RAW gap vector g loaded from
``./features/modality_gap_vector.pkl`` (not normalised; the file is made
elsewhere, from COCO image-caption pairs, mean(image) - mean(caption)):

    x'_i = my_norm(x_i - delta g),   prediction_i = top-1 of softmax(100 x'_i . t_c)

(the images in float16; softmax and the scale 100 leave the argmax unchanged).
Per race (FairFace's ``race``, genders merged, the prediction's race read from
the class name), the fraction of that race's images whose prediction falls in
the crime-related set, in the non-human set, and their sum; ``accuracy_score``
of the 14 race_gender labels against the predictions. A commented-out variant
in the same cell shifts both, text + delta/2 g and image - delta/2 g with the
same raw g. Its comments pair delta -0.2, -1.0, 0.75 with 0.973086, 1.287905,
0.070293 (gaps after the shift, measured how it does not say).

Here, generalised: any groups (integer ids, named), any named flagged sets of
class indices, any deltas, and three modes:

* ``image_raw`` (the notebook's formula): x' = normalise(x - delta g), g as
  given (raw), class texts unshifted;
* ``image_unit``: the same with g_hat = g / |g|. The notebook loads g from
  ``features/modality_gap_vector.pkl``, which the repository does not build;
  its ``Figure_3_Contrastive_Learning/get_gap_stats.ipynb`` computes
  ``my_norm(mean(img) - mean(txt))``, a unit vector, in a (commented) cell that
  saves it under that name, so the paper's numbers most likely used g_hat;
* ``both_unit`` (as ``zeroshot``): x' = normalise(x - delta/2 g_hat),
  t' = normalise(t + delta/2 g_hat), g_hat = g / |g|.

Predictions are NumPy's argmax (first maximal class); ``gap`` is
|mean_i x'_i - mean_c t'_c| over all C classes; everything is float64 over row
blocks (``zeroshot.sweep``).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from gaplab._errors import ConfigError
from gaplab.embeddings import zeroshot

DEFAULT_DELTAS = (0.0, -0.2, -0.5, -1.0, 0.75)  # the notebook's list, in its order
MODES = ("image_raw", "image_unit", "both_unit")


def check_flagged(flagged: Mapping[str, Sequence[int]], c: int) -> dict[str, np.ndarray]:
  """Named non-empty sets of class indices in [0, c), in the given order."""
  if not flagged:
    raise ConfigError("flagged", "expected one or more named sets NAME=i,j,..., got none")
  out = {}
  for name, idx in flagged.items():
    if not isinstance(name, str) or not name.strip():
      raise ConfigError("flagged", f"expected a non-empty set name, got {name!r}")
    v = np.asarray(idx)
    if v.ndim != 1 or v.size == 0 or not np.issubdtype(v.dtype, np.integer):
      raise ConfigError("flagged", f"expected a non-empty list of class indices for "
                        f"{name!r}, got {list(np.ravel(v))!r}")
    bad = v[(v < 0) | (v >= c)]
    if bad.size:
      raise ConfigError("flagged", f"expected class indices in [0, {c}) for {name!r}, "
                        f"got {int(bad[0])}")
    out[name] = np.unique(v.astype(np.int64))
  return out


def check_groups(groups, n: int, names: Sequence[str] | None) -> tuple[np.ndarray, list]:
  """(groups as int64 (n,), one name per group); every group must have images."""
  g = np.asarray(groups)
  if g.shape != (n,) or not np.issubdtype(g.dtype, np.integer):
    raise ConfigError("groups", f"expected {n} integer group ids (one an image), got "
                      f"shape {g.shape} dtype {g.dtype}")
  if np.any(g < 0):
    raise ConfigError("groups", f"expected group ids >= 0, got {int(g.min())}")
  n_groups = int(g.max()) + 1 if names is None else len(names)
  if names is not None and np.any(g >= n_groups):
    raise ConfigError("group_names", f"expected a name for every group id, got "
                      f"{n_groups} names and group id {int(g.max())}")
  names = [str(k) for k in range(n_groups)] if names is None else [str(s) for s in names]
  if len(set(names)) != len(names):
    raise ConfigError("group_names", f"expected distinct group names, got {names}")
  counts = np.bincount(g, minlength=n_groups)
  empty = np.flatnonzero(counts == 0)
  if empty.size:
    raise ConfigError("groups", f"expected images in every group, got none in "
                      f"{[names[k] for k in empty]}")
  return g.astype(np.int64), names


def shift_coefficients(deltas: np.ndarray, direction, mode: str, dim: int):
  """(v, b, c): images x - b_k v and texts t + c_k v, per ``mode``."""
  if mode == "image_raw":
    v = np.asarray(direction, np.float64)
    zeroshot.unit_direction(v, dim)  # shape, finite, nonzero checks only: v stays raw
    return v, deltas, np.zeros_like(deltas)
  if mode == "image_unit":
    return zeroshot.unit_direction(direction, dim), deltas, np.zeros_like(deltas)
  if mode == "both_unit":
    return zeroshot.unit_direction(direction, dim), 0.5 * deltas, 0.5 * deltas
  raise ConfigError("mode", f"expected one of {', '.join(MODES)}, got {mode!r}")


def curve(images, groups, classes, flagged: Mapping[str, Sequence[int]], *,
          deltas=DEFAULT_DELTAS, mode: str = "image_raw", direction,
          labels=None, group_names: Sequence[str] | None = None,
          block: int | None = None) -> dict:
  """Per group and flagged set, the fraction of the group's images whose top-1
  class is in the set, for every delta (one pass over row blocks).

  ``images`` unit rows (N, D), ``groups`` (N,) ids in [0, G), ``classes`` unit
  rows (C, D), ``flagged`` {name: class indices}, ``direction`` (D,) the gap
  vector (raw for ``image_raw``; normalised for ``both_unit``), ``labels``
  (N,) optional class indices for the accuracy. The grid must contain 0 (the
  unshifted baseline); its order is kept. Returns ``delta`` (K,), ``groups``
  [G names], ``sets`` [S names], ``fraction`` (K, G, S), ``count`` (K, G, S)
  and ``group_size`` (G,), ``overall`` (K, S) (all images), ``accuracy``
  (K,) or None, ``gap`` (K,) and ``mode``.
  """
  zeroshot.check_images(images, classes)
  n, dim = np.shape(images)
  n_cls = np.shape(classes)[0]
  deltas = zeroshot.check_deltas(deltas, increasing=False)
  g, names = check_groups(groups, n, group_names)
  sets = check_flagged(flagged, n_cls)
  y = None if labels is None else zeroshot.check_labels(labels, n, n_cls)
  v, b, c = shift_coefficients(deltas, direction, mode, dim)
  member = np.zeros((len(sets), n_cls), bool)  # (S, C): class j in set s
  for s, idx in enumerate(sets.values()):
    member[s, idx] = True
  k, n_groups = deltas.size, len(names)
  count = np.zeros((k, n_groups, len(sets)), np.int64)
  correct = np.zeros(k, np.int64)

  def visit(rows, cos):
    pred = np.argmax(cos, axis=2)  # (K, B)
    cell = (np.arange(k)[:, None] * n_groups + g[rows][None]).ravel()  # (delta, group)
    for s in range(member.shape[0]):
      hit = member[s][pred].ravel()  # (K B,) prediction in set s
      count[:, :, s] += np.bincount(cell[hit], minlength=k * n_groups).reshape(k, n_groups)
    if y is not None:
      correct[...] += np.sum(pred == y[rows][None], axis=1)

  image_mean, class_mean = zeroshot.sweep(images, classes, v, b, c,
                                          zeroshot.auto_block(k, n_cls, block), visit)
  size = np.bincount(g, minlength=n_groups)
  return {"delta": deltas, "groups": names, "sets": list(sets),
          "flagged": {s: idx.tolist() for s, idx in sets.items()},
          "fraction": count / size[None, :, None], "count": count, "group_size": size,
          "overall": count.sum(axis=1) / n,
          "accuracy": None if y is None else correct / n,
          "gap": np.linalg.norm(image_mean - class_mean, axis=1), "mode": mode,
          "n_images": n, "n_classes": n_cls}
