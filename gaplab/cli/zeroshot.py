"""``gaplab zeroshot``: zero-shot accuracy as the gap is shifted (Table 1's probe)."""
from __future__ import annotations

from gaplab.cli import options


def add_parser(sub) -> None:
  p = options.command(sub, "zeroshot",
                      "zero-shot accuracy as the modality gap is shifted (Table 1)", """
      Shift class texts by +delta/2 d and images by -delta/2 d (renormalised)
      along the gap direction d and report top-1 (and top-5) zero-shot accuracy
      and the gap for every delta, as the paper's shift_features.ipynb does. d is
      the task's own normalised mean(image) - mean(class text) unless --direction
      or --direction-from (a paired set such as COCO) gives it. Writes
      OUT/zeroshot.csv (delta, gap, accuracy, top5, signed_gap), the best delta
      and its gain, and a figure of accuracy vs gap.""")
  p.add_argument("--images", required=True, metavar="I.npy",
                 help="image embeddings (N, D), float16/32/64; rows are normalised")
  p.add_argument("--labels", required=True, metavar="y.npy",
                 help="class index of each image (N,), integers in [0, C)")
  p.add_argument("--classes", required=True, metavar="T.npy",
                 help="one text embedding per class (C, D), or several (C, P, D): "
                 "each normalised, averaged over P, renormalised")
  p.add_argument("--deltas", type=options.listof(float, "numbers"), default=None,
                 help="increasing shift grid containing 0, e.g. --deltas=-1,0,1 (the '=' "
                 "lets it start with a minus; default: the notebook's "
                 "np.arange(-5, 5, 0.25), -5 to 4.75)")
  g = p.add_mutually_exclusive_group()
  g.add_argument("--direction", default=None, metavar="D.npy",
                 help="gap direction (D,), normalised here (default: the task's own)")
  g.add_argument("--direction-from", default=None, metavar="PAIRS.npy",
                 help="paired set (2, N, D), images then texts: direction = "
                 "normalised mean(image) - mean(text) of its unit rows")
  p.add_argument("--topk", type=options.listof(int, "integers >= 1"), default="1,5",
                 help="accuracies reported (top-1 always; k > C is left out)")
  p.add_argument("--block", type=int, default=None,
                 help="image rows per block (default: about 32 MiB of float64 scores)")
  options.add_run_dir(p, "runs/zeroshot")


def command(a) -> None:
  from gaplab.embeddings import downstream_store as ds
  from gaplab.io import results
  from gaplab.plotting import downstream as plot
  results.check_writable(a.out, a.overwrite)
  x, src = ds.read_images(a.images)
  sources = {"images": src}
  y, sources["labels"] = ds.read_labels(a.labels, x.shape[0])
  t, sources["classes"] = ds.read_classes(a.classes, x.shape[1])
  direction = None
  if a.direction is not None:
    direction, sources["direction"] = ds.read_direction(a.direction, x.shape[1])
  elif a.direction_from is not None:
    direction, sources["direction_from"] = ds.read_pair_gap(a.direction_from, x.shape[1])
  path = ds.run_and_save_zeroshot(
      x, y, t, a.out, sources=sources, overwrite=a.overwrite, deltas=a.deltas,
      direction=direction, direction_from=a.direction_from, topk=a.topk, block=a.block)
  for f in plot.plot_zeroshot(results.load_run(path), path + "/figures"):
    print(f"wrote {f}")
  print(ds.report(path))
  print(f"wrote {path}")
