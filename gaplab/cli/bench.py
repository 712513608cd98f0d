"""``gaplab bench cone|train``: timings, never tests."""
from __future__ import annotations

from gaplab.cli import options
from gaplab.harness.experiment import Parser


def add_parser(sub) -> None:
  b = sub.add_parser("bench", help="benchmarks (timings, never tests)")
  bsub = b.add_subparsers(dest="what", required=True, parser_class=Parser,
                          metavar="WHAT")
  c = bsub.add_parser("cone", help="engine vs a NumPy reference vs GEMM rate",
                      description="Time the engine on the Fig 2b preset (cold and "
                      "warm), a plain NumPy float32 reference of the paper's "
                      "notebook, and this machine's float32 GEMM rate.",
                      formatter_class=options.Defaults)
  c.add_argument("--quick", action="store_true",
                 help="2 seeds instead of the preset's 10 (default: off)")
  c.add_argument("--repeats", type=int, default=3, help="warm repeats (best kept)")
  c.add_argument("--reference-seeds", type=int, default=None,
                 help="seeds the NumPy reference runs (default: all)")
  c.add_argument("--out", default=None, help="also write the results as JSON here")
  t = bsub.add_parser("train", help="vmapped training runs vs Python loops",
                      description="Train 64 two-tower runs (8 seeds x 8 temperatures) "
                      "in one vmapped program and one by one from Python (a loop of "
                      "compiled runs, and a loop of compiled steps), over tower widths; "
                      "report times, run-steps per second and ratios.",
                      formatter_class=options.Defaults)
  t.add_argument("--quick", action="store_true",
                 help="2 widths and 50 steps instead of 4 widths and 200 steps")
  t.add_argument("--repeats", type=int, default=2, help="warm repeats (best kept)")
  t.add_argument("--out", default=None, help="also write the results as JSON here")


def command(a) -> None:
  if a.what == "train":
    from gaplab.bench import train as bench_train
    bench_train.run("quick" if a.quick else "full", repeats=a.repeats, out=a.out)
    return
  from gaplab.bench import cone as bench_cone
  bench_cone.cone(quick=a.quick, repeats=a.repeats, reference_seeds=a.reference_seeds,
                  out=a.out)
