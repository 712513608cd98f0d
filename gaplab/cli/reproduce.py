"""``gaplab reproduce``: every paper-figure experiment and theory check, with a
REPORT.md next to the paper's numbers."""
from __future__ import annotations

import sys

from gaplab.cli import options


def add_parser(sub) -> None:
  p = options.command(sub, "reproduce",
                      "run the paper-figure experiments and theory checks", """
      Run every registered paper-figure experiment and theory check, write figures
      and REPORT.md next to the paper's numbers. Exit status 1 if a theory check
      fails (everything is still written).""")
  p.add_argument("--quick", action="store_true",
                 help="small sizes: a few minutes on a 2-core CPU (default: full sizes)")
  p.add_argument("--out", default=None,
                 help="output folder (default: figures, or figures/quick with --quick)")
  p.add_argument("--only", type=options.names, default=None,
                 help="comma-separated experiment names (default: all)")
  options.add_overwrite(p, "replace existing results and figures in --out (default: refuse)")
  p.add_argument("--resume", action="store_true",
                 help="go on with a reproduction killed part-way: keep the finished runs "
                 "in --out, continue the training sweeps' saved chunks, run the rest")


def command(a) -> int:
  from gaplab.cli import registry
  from gaplab.harness import reproduce
  failed = reproduce.main(registry.everything(), quick=a.quick, out=a.out, only=a.only,
                          overwrite=a.overwrite, resume=a.resume)
  if failed:
    print(f"{len(failed)} theory-check claims failed (see REPORT.md): "
          + "; ".join(f"{n}: {c.name}" for n, c in failed), file=sys.stderr)
    return 1
  return 0
