"""``gaplab fairness``: group-wise flagged predictions as the gap is shifted (Table 2's probe)."""
from __future__ import annotations

import argparse

from gaplab.cli import options

DEFAULT_DELTAS = (0.0, -0.2, -0.5, -1.0, 0.75)  # fairness.DEFAULT_DELTAS (no import at parse time)
MODES = ("image_raw", "image_unit", "both_unit")  # fairness.MODES


def flagged_set(text: str):
  """NAME=i,j,... -> (NAME, (i, j, ...))."""
  name, sep, items = text.partition("=")
  try:
    idx = tuple(int(s) for s in items.split(",")) if items.strip() else ()
  except ValueError:
    idx = None
  if not sep or not name.strip() or not idx:
    raise argparse.ArgumentTypeError(f"expected NAME=i,j,... (class indices), got {text!r}")
  return name.strip(), idx


def add_parser(sub) -> None:
  p = options.command(sub, "fairness",
                      "group-wise flagged predictions as the modality gap is shifted (Table 2)",
                      """
      For every delta, shift the images by -delta times the raw gap vector
      (renormalised; the paper's shift_CLIP_FairFace_Bias.ipynb), or with --mode
      both_unit shift texts by +delta/2 and images by -delta/2 along the
      normalised gap, and report per group the fraction of its images whose
      top-1 class is in each flagged set, with the accuracy when --labels is
      given. Writes OUT/fairness.csv (delta, group, set, fraction, count,
      group_size, accuracy) and a figure.""")
  p.add_argument("--images", required=True, metavar="I.npy",
                 help="image embeddings (N, D), float16/32/64; rows are normalised")
  p.add_argument("--groups", required=True, metavar="g.npy",
                 help="group of each image (N,): integer ids (named by --group-names) "
                 "or strings")
  p.add_argument("--classes", required=True, metavar="T.npy",
                 help="one text embedding per class (C, D), or several (C, P, D), averaged")
  p.add_argument("--flagged", required=True, action="append", type=flagged_set,
                 metavar="NAME=i,j,...",
                 help="a named set of flagged class indices; repeat for more sets")
  p.add_argument("--group-names", type=options.names, default=None,
                 help="comma-separated names of integer groups 0, 1, ... (default: the ids)")
  p.add_argument("--labels", default=None, metavar="y.npy",
                 help="class index of each image (N,), for the accuracy (default: none)")
  g = p.add_mutually_exclusive_group(required=True)
  g.add_argument("--direction", default=None, metavar="D.npy",
                 help="gap vector (D,), used raw in image_raw mode")
  g.add_argument("--direction-from", default=None, metavar="PAIRS.npy",
                 help="paired set (2, N, D), images then texts: gap vector = "
                 "mean(image) - mean(text) of its unit rows (the paper's COCO gap)")
  p.add_argument("--mode", choices=MODES, default="image_raw",
                 help="image_raw: images - delta g (the notebook's formula); image_unit: "
                 "images - delta g_hat (the notebook's g was most likely unit: see "
                 "gaplab.embeddings.fairness); both_unit: text + delta/2 g_hat, "
                 "image - delta/2 g_hat (as zeroshot)")
  p.add_argument("--deltas", type=options.listof(float, "numbers"),
                 default=options.spelt(DEFAULT_DELTAS),
                 help="shifts, containing 0 (use --deltas=-1,0 for a leading minus)")
  p.add_argument("--block", type=int, default=None,
                 help="image rows per block (default: about 32 MiB of float64 scores)")
  options.add_run_dir(p, "runs/fairness")


def command(a) -> None:
  from gaplab._errors import ConfigError
  from gaplab.embeddings import downstream_store as ds
  from gaplab.io import results
  from gaplab.plotting import downstream as plot
  results.check_writable(a.out, a.overwrite)
  names = [name for name, _ in a.flagged]
  if len(set(names)) != len(names):
    raise ConfigError("flagged", f"expected distinct set names, got {names}")
  x, src = ds.read_images(a.images)
  n, dim = x.shape
  sources = {"images": src}
  groups, group_names, sources["groups"] = ds.read_groups(a.groups, n, a.group_names)
  t, sources["classes"] = ds.read_classes(a.classes, dim)
  labels = None
  if a.labels is not None:
    labels, sources["labels"] = ds.read_labels(a.labels, n)
  if a.direction is not None:
    direction, sources["direction"] = ds.read_direction(a.direction, dim)
  else:
    direction, sources["direction_from"] = ds.read_pair_gap(a.direction_from, dim)
  path = ds.run_and_save_fairness(
      x, groups, t, dict(a.flagged), a.out, sources=sources, direction=direction,
      overwrite=a.overwrite, deltas=a.deltas, mode=a.mode, labels=labels,
      group_names=group_names, direction_from=a.direction_from, block=a.block)
  for f in plot.plot_fairness(results.load_run(path), path + "/figures"):
    print(f"wrote {f}")
  print(ds.report(path))
  print(f"wrote {path}")
