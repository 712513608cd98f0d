"""``gaplab check``: run the theory checks and print a pass/fail table."""
from __future__ import annotations

import sys

from gaplab.cli import options
from gaplab.harness.experiment import add_size_flags


def add_parser(sub) -> None:
  from gaplab.theory_checks import CHECKS
  p = options.command(sub, "check", "run the theory checks: a pass/fail table", f"""
      Run numerical checks of the theory (each compares simulation with analytic
      results and asserts), save their data and figures under --out, and print a
      pass/fail table with the measured figures. Exit status 1 if a claim fails.
      Checks: {', '.join(CHECKS)}.""")
  p.add_argument("name", nargs="*", default=["all"], metavar="NAME",
                 help="check names, or all")
  add_size_flags(p, "a few minutes on a 2-core CPU (default: full sizes)")
  p.add_argument("--out", default=None,
                 help="output folder (default: runs/checks or runs/checks-quick)")
  options.add_overwrite(p, "replace existing check runs in --out (default: refuse)")


def command(a) -> int:
  from gaplab.cli import registry
  from gaplab.harness import checks
  size = a.size or "full"
  out = a.out or ("runs/checks" if size == "full" else f"runs/checks-{size}")
  rows = checks.run_checks(registry.checks(), a.name, size=size, out=out, overwrite=a.overwrite)
  print(checks.table(rows))
  failed = [f"{n}: {c.name}" for n, c in rows if not c.passed]
  if failed:
    print(f"{len(failed)} of {len(rows)} claims failed", file=sys.stderr)
    return 1
  print(f"all {len(rows)} claims hold")
  return 0
