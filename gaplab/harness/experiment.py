"""What every runnable file in ``simulations/`` (and, through ``checks.check_main``,
in ``theory_checks/``) shares: sizes, overrides that
reject unknown keys, and a small command line.

An experiment module defines ``NAME``, ``TITLE``, ``config(size, **overrides)``,
``run(out, size, overwrite)``, ``figures(run_dir, fig_dir)`` and
``report(run_dir)``; ``main(argv)`` comes from ``experiment_main``. ``start``
and ``shared_inputs`` are the first steps many ``run`` functions share.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile

import numpy as np

from gaplab import precision
from gaplab.io import results
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


def file_main(module, folder: str, quick_help: str, argv=None, after=None) -> int:
  """The command line of one runnable file: run, figures ("wrote PATH" each),
  then the report on stdout; exit status 0. With ``after(path) -> (text,
  status)`` (e.g. a check's claims) the report follows it, then ``text``, and
  the status is ``after``'s.

  Bad input (a ConfigError from run, figures, ``after`` or, without ``after``,
  the report) is exit status 2 with one line on stderr naming the argument
  (``--out`` or ``--set KEY``)."""
  p = file_parser(module, folder, quick_help)
  a = p.parse_args(argv)
  try:
    path = module.run(a.out, a.size or "full", a.overwrite, **parse_overrides(a.set))
    for f in module.figures(path, path + "/figures"):
      print(f"wrote {f}")
    if after is None:
      print(module.report(path))
      return 0
    text, status = after(path)
  except ConfigError as e:
    arg = "--out" if e.field == "out" else f"--set {e.field}"
    print(f"{p.prog}: error: argument {arg}: {e.message}", file=sys.stderr)
    return 2
  print(module.report(path))
  print(text)
  return status


def experiment_main(module, argv=None) -> int:
  """``python simulations/NAME.py [--quick|--tiny] --out DIR [--set k=v]``."""
  return file_main(module, "simulations", "the sizes 'gaplab reproduce --quick' uses", argv)


def curves_figures(name: str, title: str):
  """``figures(run_dir, fig_dir)`` of a training experiment whose figure is its
  gap curves (``plotting.train.plot_curves``), titled ``title``."""
  def figures(run_dir: str, fig_dir: str) -> list[str]:
    from gaplab.plotting import train as plot_train
    return plot_train.plot_curves(results.load_run(run_dir), fig_dir, name, title)
  return figures


def start(cfg: dict, out: str, overwrite: bool) -> None:
  """What a run does before any work: refuse an existing ``out`` (unless
  ``overwrite``), and compute in float64 if ``cfg["dtype"]`` says so."""
  results.check_writable(out, overwrite)
  if cfg["dtype"] == "float64":
    precision.enable_x64()


@contextlib.contextmanager
def shared_inputs(cfg: dict, dtype: str = "float32"):
  """One N(0, I) input array for every seed (``nets.inputs.shared_gaussian`` of
  cfg's input_seed, n_samples, input_dim), as float64, saved to a temporary
  ``.npy`` file for a ConeConfig's ``inputs``: yields (array, path)."""
  from gaplab.nets import inputs
  x = inputs.shared_gaussian(cfg["input_seed"], cfg["n_samples"], cfg["input_dim"], dtype)
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "inputs.npy")
    np.save(path, x)
    yield x, path
