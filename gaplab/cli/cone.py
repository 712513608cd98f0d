"""``gaplab cone``: a cone-effect sweep of random networks, saved as a run."""
from __future__ import annotations

from gaplab.cli import options
from gaplab.cone.config import ConeConfig


def add_parser(sub) -> None:
  p = options.command(sub, "cone", "run a cone-effect sweep of random networks", """
      Measure the cone effect over a grid of activation x init x sigma_w x sigma_b x
      width x seed, for every layer 0..L.""")
  options.add_cone_options(p, ConeConfig())
  options.add_run_dir(p, "runs/cone")


def command(a) -> None:
  from gaplab.cone import store
  options.x64(a.dtype)
  path = store.run_and_save(options.config_from_args(a), a.out, overwrite=a.overwrite)
  print(f"wrote {path}")
