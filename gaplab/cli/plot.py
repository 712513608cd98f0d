"""``gaplab plot cone``: the Fig 2b analogue from a saved cone run."""
from __future__ import annotations

import os

from gaplab._errors import ConfigError
from gaplab.cli import options
from gaplab.cone.config import ConeConfig


def add_parser(sub) -> None:
  from gaplab.plotting import cone as plotting
  psub = options.subcommands(options.command(sub, "plot", "draw figures from a saved run"))
  c = options.command(psub, "cone", "Fig 2b analogue from a cone run", """
      Mean and 95% band over seeds per layer, one line per variant, 1/pi reference
      line; PNG and PDF.""")
  c.add_argument("run", help="run directory written by 'gaplab cone'")
  c.add_argument("--stat", choices=tuple(plotting.CONE_STATS), default="mean_cos",
                 help="mean_cos: distinct pairs; mean_cos_diag: the paper's "
                 "convention, diagonal included")
  c.add_argument("--theory", nargs="?", const="auto", default=None, metavar="DIR",
                 help="overlay the mean-field prediction from a 'gaplab theory' "
                 "run DIR; without DIR, RUN/theory (predicted and saved there "
                 "first if absent)")
  c.add_argument("--out", default=None, help="output folder (default: RUN/figures)")


def theory_for(run_dir: str, theory_dir: str) -> str:
  """``auto``: RUN/theory, predicted from the run's own config if absent."""
  from gaplab.io import results
  from gaplab.theory import predictions
  if theory_dir != "auto":
    return theory_dir
  path = os.path.join(run_dir, "theory")
  if not os.path.isdir(path):
    run = results.load_run(run_dir)
    if run.meta.get("kind") != "cone":
      raise ConfigError("run", f"expected a cone run, got kind "
                        f"{run.meta.get('kind')!r} in {run_dir!r}")
    cfg = ConeConfig.from_dict(run.meta["config"])
    options.x64(cfg.dtype)
    try:
      print(f"wrote {predictions.run_and_save(cfg, path)}")
    except ConfigError as e:
      raise ConfigError("theory", f"cannot predict {run_dir!r}: {e.message}") from None
  return path


def command(a) -> None:
  from gaplab.plotting import cone as plotting
  theory_dir = theory_for(a.run, a.theory) if a.theory else None
  for p in plotting.plot_cone(a.run, a.out, stat=a.stat, theory_dir=theory_dir):
    print(f"wrote {p}")
