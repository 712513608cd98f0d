"""What every experiment file in ``simulations/`` shares: sizes, overrides that
reject unknown keys, and a small command line.

An experiment module defines ``NAME``, ``TITLE``, ``config(size, **overrides)``,
``run(out, size, overwrite)``, ``figures(run_dir, fig_dir)`` and
``report(run_dir)``; ``main(argv)`` comes from ``experiment_main``.
"""
from __future__ import annotations

import argparse
import json
import sys

from gaplab._errors import ConfigError

SIZES = ("full", "quick", "tiny")


class Parser(argparse.ArgumentParser):
  """argparse with one-line errors (no usage block) and exit status 2."""

  def error(self, message):
    self.exit(2, f"{self.prog}: error: {message}\n")


def parse_overrides(items) -> dict:
  """``key=value`` strings -> dict; values parse as JSON, else stay strings."""
  out = {}
  for item in items or ():
    key, sep, raw = item.partition("=")
    if not sep or not key:
      raise ConfigError("set", f"expected key=value, got {item!r}")
    try:
      out[key] = json.loads(raw)
    except json.JSONDecodeError:
      out[key] = raw
  return out


def add_size_flags(p, quick_help: str) -> None:
  """--quick / --tiny (mutually exclusive; ``size`` is None for full)."""
  size = p.add_mutually_exclusive_group()
  size.add_argument("--quick", dest="size", action="store_const", const="quick",
                    help=quick_help)
  size.add_argument("--tiny", dest="size", action="store_const", const="tiny",
                    help="seconds-long smoke-test sizes")


def file_parser(module, folder: str, quick_help: str):
  """The command line every runnable file shares: ``python FOLDER/NAME.py
  [--quick|--tiny] --out DIR [--overwrite] [--set k=v ...]``."""
  p = Parser(prog=f"python {folder}/{module.NAME}.py",
             description=module.__doc__.split("\n\n")[0])
  add_size_flags(p, quick_help)
  p.add_argument("--out", required=True, help="new run directory")
  p.add_argument("--overwrite", action="store_true",
                 help="replace an existing run directory (default: refuse)")
  p.add_argument("--set", nargs="*", metavar="KEY=VALUE",
                 help="override preset keys (unknown keys are an error)")
  return p


def experiment_main(module, argv=None) -> int:
  """``python simulations/NAME.py [--quick|--tiny] --out DIR [--set k=v]``."""
  p = file_parser(module, "simulations", "the sizes 'gaplab reproduce --quick' uses")
  a = p.parse_args(argv)
  try:
    path = module.run(a.out, a.size or "full", a.overwrite,
                      **parse_overrides(a.set))
    for f in module.figures(path, path + "/figures"):
      print(f"wrote {f}")
    print(module.report(path))
  except ConfigError as e:
    arg = "--out" if e.field == "out" else f"--set {e.field}"
    print(f"{p.prog}: error: argument {arg}: {e.message}", file=sys.stderr)
    return 2
  return 0
