"""``gaplab sphere``: the mismatched-pair sphere toys (simulations/sphere_mismatch.py)."""
from __future__ import annotations

from gaplab.cli import options
from gaplab.cli import run

NAME = "sphere_mismatch"


def add_parser(sub) -> None:
  p = options.command(sub, "sphere", "the mismatched-pair sphere toys", """
      The paper's 3-D sphere toy (Fig 3e-g) with and without the swap, and its
      generalisation to n pairs in D dimensions with a mismatch fraction: loss vs the
      texts' latitude per logit scale, the optimal gap over (scale, mismatch). Runs
      simulations/sphere_mismatch.py.""")
  options.add_experiment_flags(p, NAME)
  options.add_set(p)


def command(a) -> None:
  run.command(a, NAME)
