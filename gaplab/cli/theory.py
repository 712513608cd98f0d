"""``gaplab theory``: the mean-field prediction for a cone sweep, saved as a run."""
from __future__ import annotations

from gaplab.cli import options
from gaplab.cone.config import ConeConfig


def add_parser(sub) -> None:
  p = options.command(sub, "theory", "mean-field prediction for a cone sweep", """
      Predict, at infinite width, the per-layer mean cosine that 'gaplab cone' with
      the same options measures: the mean-field map averaged over pairs of the
      sweep's own inputs, with each variant's fixed point, chi_1, depth scale and
      phase. Takes every 'gaplab cone' option (the statistics options have no
      effect).""")
  options.add_cone_options(p, ConeConfig())
  g = p.add_argument_group("theory")
  g.add_argument("--pairs", type=int, default=512,
                 help="input pairs averaged over (all pairs if there are fewer)")
  g.add_argument("--order", type=int, default=32,
                 help="Gauss-Legendre order for activations without a closed form")
  options.add_run_dir(p, "runs/theory")


def command(a) -> None:
  from gaplab.theory import predictions
  options.x64(a.dtype)
  path = predictions.run_and_save(options.config_from_args(a), a.out, n_pairs=a.pairs,
                                  order=a.order, overwrite=a.overwrite)
  print(f"wrote {path}")
