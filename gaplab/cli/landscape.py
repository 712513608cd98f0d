"""``gaplab landscape``: the CLIP loss when embeddings are shifted along the gap."""
from __future__ import annotations

from gaplab.cli import options

LOGIT_SCALES = (100.0, 50.0, 30.0, 20.0, 10.0, 1.0)


def add_parser(sub) -> None:
  p = options.command(sub, "landscape",
                      "loss vs gap when embeddings are shifted along the gap (Fig 3b-d)", """
      Shift paired embeddings along the gap direction (x - delta/2 gap_dir,
      y + delta/2 gap_dir, renormalised) and evaluate the symmetric CLIP loss over
      consecutive batches for every delta and logit scale in one jitted call. Rows
      pair up: row i of the image array with row i of the text array.""")
  p.add_argument("emb", nargs="?", default=None, metavar="EMB.npy",
                 help="embeddings of shape (2, N, D): images, then texts")
  p.add_argument("--image", default=None, help="image embeddings (N, D), with --text")
  p.add_argument("--text", default=None, help="text embeddings (N, D), with --image")
  p.add_argument("--deltas", type=options.listof(float, "numbers"), default=None,
                 help="increasing shift grid, e.g. --deltas=-1,0,1 (the '=' lets "
                 "it start with a minus; default: -5 to 5 by 0.25)")
  p.add_argument("--logit-scales", type=options.listof(float, "numbers > 0"),
                 default=options.spelt(LOGIT_SCALES), help="1/temperature values")
  p.add_argument("--batch-size", type=int, default=50,
                 help="pairs per batch (the remainder is dropped)")
  options.add_run_dir(p, "runs/landscape")


def command(a) -> None:
  from gaplab.contrastive import landscape_store
  from gaplab.io import results
  from gaplab.plotting import gap as plot_gap
  x, y, sources = landscape_store.load_pair(a.emb, a.image, a.text)
  path = landscape_store.run_and_save(
      x, y, a.out, sources=sources, overwrite=a.overwrite, deltas=a.deltas,
      logit_scales=a.logit_scales, batch_size=a.batch_size)
  for f in plot_gap.plot_landscape(results.load_run(path), path + "/figures"):
    print(f"wrote {f}")
  print(landscape_store.report(path))
  print(f"wrote {path}")
