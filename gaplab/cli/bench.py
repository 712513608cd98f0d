"""``gaplab bench cone|train|startup``: timings, never tests."""
from __future__ import annotations

from gaplab.cli import options


def add_timing_flags(p, quick: str, repeats: int) -> None:
  """--quick (``quick`` says what it shrinks) and --repeats (default ``repeats``)."""
  p.add_argument("--quick", action="store_true", help=quick)
  p.add_argument("--repeats", type=int, default=repeats, help="warm repeats (best kept)")


def add_json_out(p) -> None:
  """--out: where to write the results as JSON, if anywhere."""
  p.add_argument("--out", default=None, help="also write the results as JSON here")


def add_parser(sub) -> None:
  bsub = options.subcommands(options.command(sub, "bench", "benchmarks (timings, never tests)"))
  c = options.command(bsub, "cone", "engine vs a NumPy reference vs GEMM rate", """
      Time the engine on the Fig 2b preset (cold and warm), a plain NumPy float32
      reference of the paper's notebook, and this machine's float32 GEMM rate.""")
  add_timing_flags(c, "2 seeds instead of the preset's 10 (default: off)", repeats=3)
  c.add_argument("--reference-seeds", type=int, default=None,
                 help="seeds the NumPy reference runs (default: all)")
  c.add_argument("--scan", action="store_true",
                 help="instead: time the sweep over N, width and seeds and fit "
                      "time ~ N^a width^b seeds^c (default: off)")
  c.add_argument("--preset", choices=("large", "tiny"), default=None,
                 help="instead: the sweep's TFLOP/s beside a GEMM of its shape at default "
                      "and highest precision, and start-up; 'large' (N=4096, d=1024, 64 "
                      "seeds) is sized for a GPU (default: off)")
  add_json_out(c)
  t = options.command(bsub, "train", "vmapped training runs vs Python loops", """
      Train 64 two-tower runs (8 seeds x 8 temperatures) in one vmapped program and
      one by one from Python (a loop of compiled runs, and a loop of compiled steps),
      over tower widths; report times, run-steps per second and ratios.""")
  add_timing_flags(t, "2 widths and 50 steps instead of 4 widths and 200 steps", repeats=2)
  add_json_out(t)
  s = options.command(bsub, "startup", "start-up time with and without the compilation cache", """
      Time a small cone sweep and a small training sweep to their first result in
      fresh processes: cache off, an empty cache (filled), the filled cache reused
      by a new process; and a second call in the same process (warm). The cache
      directories are temporary; your own cache is not touched.""")
  s.add_argument("--quick", action="store_true", help="smaller sweeps (default: off)")
  add_json_out(s)


def command(a) -> None:
  if a.what == "startup":
    from gaplab.bench import startup
    startup.run(quick=a.quick, out=a.out)
    return
  if a.what == "train":
    from gaplab.bench import train as bench_train
    bench_train.run("quick" if a.quick else "full", repeats=a.repeats, out=a.out)
    return
  if a.what == "cone" and a.preset:
    from gaplab.bench import throughput
    throughput.run(a.preset, repeats=a.repeats, out=a.out)
    return
  if a.scan:
    from gaplab.bench import scan
    scan.run("quick" if a.quick else "full", repeats=a.repeats, out=a.out)
    return
  from gaplab.bench import cone as bench_cone
  bench_cone.cone(quick=a.quick, repeats=a.repeats, reference_seeds=a.reference_seeds,
                  out=a.out)
