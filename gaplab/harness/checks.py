"""What every file in ``theory_checks/`` shares: claims, sizes, float64, a CLI.

A check module defines ``NAME``, ``TITLE``, ``PRESET`` (the full-size config,
a dict) and ``SIZES`` ({"full", "quick", "tiny"} -> overrides), and:

* ``run(out, size="full", overwrite=False, **overrides) -> str``: computes in
  float64 (``enable_x64``) and saves a run directory with ``results.save_run``
  (``meta["kind"] == "check"``, ``meta["check"] == NAME``);
* ``claims(run_dir) -> list[Claim]``: every assertion, recomputed from the saved
  arrays, with the measured figure and what theory allows;
* ``figures(run_dir, fig_dir) -> list[str]`` and ``report(run_dir) -> str``.

``check_main`` gives each file its command line; ``gaplab check`` runs several
and prints one pass/fail table. A failed claim is exit status 1.
"""
from __future__ import annotations

import dataclasses

from gaplab import configs
from gaplab.io import results
from gaplab.io import tables
from gaplab.precision import enable_x64  # (the checks' float64 switch)
from gaplab._errors import ConfigError
from gaplab.harness.experiment import SIZES, file_main


@dataclasses.dataclass(frozen=True)
class Claim:
  """One assertion of a check: ``measured`` against ``expected`` (both text)."""
  name: str
  measured: str
  expected: str
  passed: bool


resolve = configs.resolve_preset  # the experiments' dict presets (gaplab.configs)


def start(module, out: str, size: str, overwrite: bool, overrides: dict,
          validate=None) -> dict:
  """What a check's ``run`` does before any work: its config (``module``'s
  PRESET and SIZES, ``overrides``, then ``validate(cfg)`` if given), refusing an
  existing ``out`` (unless ``overwrite``), float64 on. Returns the config."""
  cfg = resolve(module.PRESET, module.SIZES, size, overrides)
  if validate is not None:
    validate(cfg)
  results.check_writable(out, overwrite)
  enable_x64()
  return cfg


def save_claims(claims) -> list[dict]:
  return [dataclasses.asdict(c) for c in claims]


def table(rows) -> str:
  """``rows``: (check name, Claim) pairs -> a Markdown pass/fail table."""
  return tables.table(["check", "claim", "measured", "expected", "result"],
                      [(check, c.name, c.measured, c.expected, "pass" if c.passed else "FAIL")
                       for check, c in rows])


def load(run_dir: str, name: str):
  run = results.load_run(run_dir)
  if run.meta.get("kind") != "check" or run.meta.get("check") != name:
    raise ConfigError("run", f"expected a {name!r} check run, got "
                      f"{run.meta.get('check', run.meta.get('kind'))!r} in {run_dir!r}")
  return run


def check_main(module, argv=None) -> int:
  """``python theory_checks/NAME.py [--quick|--tiny] --out DIR [--set k=v]``:
  the report, then the claims' pass/fail table.

  Exit status: 0 every claim holds, 1 a claim fails, 2 bad input.
  """
  def claims(path):
    rows = module.claims(path)
    return table([(module.NAME, c) for c in rows]), 0 if all(c.passed for c in rows) else 1
  return file_main(module, "theory_checks", "the sizes 'gaplab check --quick' uses", argv,
                   after=claims)


def run_checks(mods: dict, names, *, size: str = "quick", out: str, overwrite: bool = False,
               echo=print) -> list:
  """Runs the checks ``names`` of ``mods`` (name -> check module, e.g.
  ``cli.registry.checks()``) into OUT/NAME (figures in OUT/NAME/figures);
  returns (name, Claim) rows. Refuses before any work if a destination exists."""
  import os
  import time
  names = list(mods) if names in (None, "all", ["all"], ("all",)) else list(names)
  for n in names:
    if n not in mods:
      raise ConfigError("name", f"expected 'all' or one of {', '.join(mods)}, got {n!r}")
  if size not in SIZES:
    raise ConfigError("size", f"expected one of {', '.join(SIZES)}, got {size!r}")
  for n in names:
    results.check_writable(os.path.join(out, n), overwrite)
  rows = []
  for n in names:
    t0 = time.perf_counter()
    path = mods[n].run(os.path.join(out, n), size, overwrite)
    mods[n].figures(path, os.path.join(path, "figures"))
    claims = mods[n].claims(path)
    rows += [(n, c) for c in claims]
    ok = all(c.passed for c in claims)
    echo(f"{n}: {'pass' if ok else 'FAIL'} ({time.perf_counter() - t0:.1f} s) -> {path}")
  return rows
