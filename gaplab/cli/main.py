"""The ``gaplab`` command line. Bad input: one line on stderr, exit status 2."""
from __future__ import annotations

import argparse
import math
import sys

from gaplab._errors import ConfigError
from gaplab.harness.experiment import Parser
from gaplab.cone.config import BLOCKS, DTYPES, INPUT_KINDS, PRECISIONS, ConeConfig

# config field -> the flag a user types, where it is not --field-with-dashes
FLAGS = {"widths": "--width", "bias": "--no-bias", "pairwise": "--no-pairwise",
         "run": "RUN", "pairs": "--pairs", "name": "NAME", "a": "A.npy",
         "b": "B.npy", "x": "A.npy", "y": "B.npy", "emb": "EMB.npy",
         "logit_scales": "--logit-scales", "deltas": "--deltas",
         "batch_size": "--batch-size"}


def flag(field: str) -> str:
  if field.startswith("-"):  # already a flag
    return field
  if field.startswith("set "):  # a preset key, spelt as the user types it
    return "--" + field
  return FLAGS.get(field, "--" + field.replace("_", "-"))


def _list(kind, what):
  def parse(text):
    out = []
    for item in text.split(","):
      item = item.strip()
      try:
        value = kind(item)
      except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {what}, got {text!r}") from None
      if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected finite {what}, got {item!r}")
      out.append(value)
    return tuple(out)
  return parse


def _names(text):
  return tuple(t.strip() for t in text.split(",") if t.strip())


def _help_defaults(p):
  for a in p._actions:
    if isinstance(a, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
      continue  # their help says what the default is
    if a.help and a.default not in (None, argparse.SUPPRESS) and "%(default)" not in a.help:
      d = a.default
      shown = ",".join(str(x) for x in d) if isinstance(d, tuple) else d
      a.help += f" (default: {shown})"


def add_cone_options(p: argparse.ArgumentParser, defaults: ConeConfig):
  from gaplab.nets import activations
  from gaplab.nets import inits
  d = defaults
  g = p.add_argument_group("network")
  g.add_argument("--activations", type=_names, default=d.activations,
                 help="comma-separated; 'name:param' sets leaky_relu's slope or "
                 f"elu's alpha. One of: {', '.join(activations.NAMES)}")
  g.add_argument("--inits", type=_names, default=d.inits,
                 help=f"initialisation schemes, comma-separated: {', '.join(inits.NAMES)}")
  g.add_argument("--sigma-w", type=_list(float, "numbers >= 0"), default=d.sigma_w,
                 help="weight gain(s); for gaussian W ~ N(0, sigma_w^2/fan_in)")
  g.add_argument("--sigma-b", type=_list(float, "numbers >= 0"), default=d.sigma_b,
                 help="bias std(s), absolute (never rescaled with width); the "
                 "paper's is 1/sqrt(512)")
  g.add_argument("--no-bias", dest="bias", action="store_false",
                 help="set all biases to zero (default: biases on)")
  g.add_argument("--block", choices=BLOCKS, default=d.block,
                 help="order inside a layer")
  g.add_argument("--depth", type=int, default=d.depth, help="number of layers L")
  g.add_argument("--width", dest="widths", type=_list(int, "integers"),
                 default=d.widths, help="hidden width(s), comma-separated")
  g = p.add_argument_group("inputs and seeds")
  g.add_argument("--inputs", default=d.inputs,
                 help=f"{' or '.join(INPUT_KINDS)} noise drawn per seed "
                 "(uniform is U(-1,1)), or a .npy file of shape (N, d)")
  g.add_argument("--n-samples", type=int, default=d.n_samples,
                 help="N, number of generated inputs")
  g.add_argument("--input-dim", type=int, default=d.input_dim,
                 help="d, dimension of generated inputs")
  g.add_argument("--seeds", type=int, default=d.seeds, help="number of seeds")
  g.add_argument("--seed", type=int, default=d.seed,
                 help="base seed; seed i uses fold_in(key(seed), i)")
  g = p.add_argument_group("statistics and numerics")
  g.add_argument("--no-pairwise", dest="pairwise", action="store_false",
                 help="skip pairwise min/max cosine and the histogram "
                 "(default: computed, in blocks)")
  g.add_argument("--n-bins", type=int, default=d.n_bins,
                 help="cosine histogram bins on [-1, 1]")
  g.add_argument("--pair-block", type=int, default=d.pair_block,
                 help="rows per block for pairwise statistics")
  g.add_argument("--seed-chunk", type=int, default=d.seed_chunk,
                 help="seeds per compiled call; 0 picks one from memory")
  g.add_argument("--precision", choices=PRECISIONS, default=d.precision,
                 help="matmul precision")
  g.add_argument("--dtype", choices=DTYPES, default=d.dtype,
                 help="float64 turns on 64-bit JAX")


def config_from_args(a) -> ConeConfig:
  fields = ConeConfig.__dataclass_fields__
  return ConeConfig(**{k: getattr(a, k) for k in fields if hasattr(a, k)})


def build_parser() -> Parser:
  from gaplab.plotting import cone as plotting
  from gaplab.harness.experiment import add_size_flags
  p = Parser(prog="gaplab", description="JAX simulation and theory lab for the "
             "modality gap of contrastive models.")
  sub = p.add_subparsers(dest="command", required=True, parser_class=Parser,
                         metavar="COMMAND")

  c = sub.add_parser("cone", help="run a cone-effect sweep of random networks",
                     description="Measure the cone effect over a grid of "
                     "activation x init x sigma_w x sigma_b x width x seed, for "
                     "every layer 0..L.")
  add_cone_options(c, ConeConfig())
  c.add_argument("--out", default="runs/cone", help="new run directory")
  c.add_argument("--overwrite", action="store_true",
                 help="replace an existing run directory (default: refuse)")

  t = sub.add_parser("theory", help="mean-field prediction for a cone sweep",
                     description="Predict, at infinite width, the per-layer mean "
                     "cosine that 'gaplab cone' with the same options measures: "
                     "the mean-field map averaged over pairs of the sweep's own "
                     "inputs, with each variant's fixed point, chi_1, depth scale "
                     "and phase. Takes every 'gaplab cone' option (the statistics "
                     "options have no effect).")
  add_cone_options(t, ConeConfig())
  g = t.add_argument_group("theory")
  g.add_argument("--pairs", type=int, default=512,
                 help="input pairs averaged over (all pairs if there are fewer)")
  g.add_argument("--order", type=int, default=32,
                 help="Gauss-Legendre order for activations without a closed form")
  t.add_argument("--out", default="runs/theory", help="new run directory")
  t.add_argument("--overwrite", action="store_true",
                 help="replace an existing run directory (default: refuse)")

  pl = sub.add_parser("plot", help="draw figures from a saved run")
  psub = pl.add_subparsers(dest="what", required=True, parser_class=Parser,
                           metavar="WHAT")
  pc = psub.add_parser("cone", help="Fig 2b analogue from a cone run",
                       description="Mean and 95%% band over seeds per layer, one "
                       "line per variant, 1/pi reference line; PNG and PDF.")
  pc.add_argument("run", help="run directory written by 'gaplab cone'")
  pc.add_argument("--stat", choices=tuple(plotting.CONE_STATS), default="mean_cos",
                  help="mean_cos: distinct pairs; mean_cos_diag: the paper's "
                  "convention, diagonal included")
  pc.add_argument("--theory", nargs="?", const="auto", default=None, metavar="DIR",
                  help="overlay the mean-field prediction from a 'gaplab theory' "
                  "run DIR; without DIR, RUN/theory (predicted and saved there "
                  "first if absent)")
  pc.add_argument("--out", default=None, help="output folder (default: RUN/figures)")

  from gaplab.theory_checks import CHECKS
  k = sub.add_parser("check", help="run the theory checks: a pass/fail table",
                     description="Run numerical checks of the theory (each "
                     "compares simulation with analytic results and asserts), "
                     "save their data and figures under --out, and print a "
                     "pass/fail table with the measured figures. Exit status 1 "
                     f"if a claim fails. Checks: {', '.join(CHECKS)}.")
  k.add_argument("name", nargs="*", default=["all"], metavar="NAME",
                 help="check names, or all")
  add_size_flags(k, "a few minutes on a 2-core CPU (default: full sizes)")
  k.add_argument("--out", default=None,
                 help="output folder (default: runs/checks or runs/checks-quick)")
  k.add_argument("--overwrite", action="store_true",
                 help="replace existing check runs in --out (default: refuse)")

  from gaplab.simulations import EXPERIMENTS
  ru = sub.add_parser("run", help="run one experiment file from simulations/",
                      description="Run one registered experiment (the same as "
                      "'python simulations/NAME.py'): save its data under --out, "
                      "draw its figures in OUT/figures and print its report. "
                      f"Experiments: {', '.join(EXPERIMENTS)}.")
  ru.add_argument("name", metavar="NAME", help="experiment name")
  add_size_flags(ru, "the sizes 'gaplab reproduce --quick' uses (default: full)")
  ru.add_argument("--out", default=None, help="new run directory (default: runs/NAME)")
  ru.add_argument("--overwrite", action="store_true",
                  help="replace an existing run directory (default: refuse)")
  ru.add_argument("--set", nargs="*", metavar="KEY=VALUE", default=None,
                  help="override preset keys (unknown keys are an error)")

  gp = sub.add_parser("gap", help="the modality gap between two embedding arrays",
                      description="gap = |mu_A - mu_B| between the centroids of the "
                      "L2-normalised rows of A (N, D) and B (M, D), and its "
                      "decomposition gap^2 = c_A + c_B - 2 mu_A.mu_B, with c the "
                      "mean cosine over all pairs, diagonal included.")
  gp.add_argument("a", metavar="A.npy", help="embeddings of one modality, (N, D)")
  gp.add_argument("b", metavar="B.npy", help="embeddings of the other, (M, D)")

  la = sub.add_parser("landscape", help="loss vs gap when embeddings are shifted "
                      "along the gap (Fig 3b-d)",
                      description="Shift paired embeddings along the gap direction "
                      "(x - delta/2 gap_dir, y + delta/2 gap_dir, renormalised) and "
                      "evaluate the symmetric CLIP loss over consecutive batches for "
                      "every delta and logit scale in one jitted call. Rows pair up: "
                      "row i of the image array with row i of the text array.")
  la.add_argument("emb", nargs="?", default=None, metavar="EMB.npy",
                  help="embeddings of shape (2, N, D): images, then texts")
  la.add_argument("--image", default=None, help="image embeddings (N, D), with --text")
  la.add_argument("--text", default=None, help="text embeddings (N, D), with --image")
  la.add_argument("--deltas", type=_list(float, "numbers"), default=None,
                  help="increasing shift grid, e.g. --deltas=-1,0,1 (the '=' lets "
                  "it start with a minus; default: -5 to 5 by 0.25)")
  la.add_argument("--logit-scales", type=_list(float, "numbers > 0"),
                  default=(100.0, 50.0, 30.0, 20.0, 10.0, 1.0), help="1/temperature values")
  la.add_argument("--batch-size", type=int, default=50,
                  help="pairs per batch (the remainder is dropped)")
  la.add_argument("--out", default="runs/landscape", help="new run directory")
  la.add_argument("--overwrite", action="store_true",
                  help="replace an existing run directory (default: refuse)")

  r = sub.add_parser("reproduce", help="run the paper-figure experiments and "
                     "theory checks",
                     description="Run every registered paper-figure experiment "
                     "and theory check, write figures and REPORT.md next to the "
                     "paper's numbers. Exit status 1 if a theory check fails "
                     "(everything is still written).")
  r.add_argument("--quick", action="store_true",
                 help="small sizes: a few minutes on a 2-core CPU (default: full sizes)")
  r.add_argument("--out", default=None,
                 help="output folder (default: figures, or figures/quick with --quick)")
  r.add_argument("--only", type=_names, default=None,
                 help="comma-separated experiment names (default: all)")
  r.add_argument("--overwrite", action="store_true",
                 help="replace existing results and figures in --out (default: refuse)")

  b = sub.add_parser("bench", help="benchmarks (timings, never tests)")
  bsub = b.add_subparsers(dest="what", required=True, parser_class=Parser,
                          metavar="WHAT")
  bc = bsub.add_parser("cone", help="engine vs a NumPy reference vs GEMM rate",
                       description="Time the engine on the Fig 2b preset (cold and "
                       "warm), a plain NumPy float32 reference of the paper's "
                       "notebook, and this machine's float32 GEMM rate.")
  bc.add_argument("--quick", action="store_true",
                  help="2 seeds instead of the preset's 10 (default: off)")
  bc.add_argument("--repeats", type=int, default=3, help="warm repeats (best kept)")
  bc.add_argument("--reference-seeds", type=int, default=None,
                  help="seeds the NumPy reference runs (default: all)")
  bc.add_argument("--out", default=None, help="also write the results as JSON here")
  bt = bsub.add_parser("train", help="vmapped training runs vs Python loops",
                       description="Train 64 two-tower runs (8 seeds x 8 temperatures) "
                       "in one vmapped program and one by one from Python (a loop of "
                       "compiled runs, and a loop of compiled steps), over tower widths; "
                       "report times, run-steps per second and ratios.")
  bt.add_argument("--quick", action="store_true",
                  help="2 widths and 50 steps instead of 4 widths and 200 steps")
  bt.add_argument("--repeats", type=int, default=2, help="warm repeats (best kept)")
  bt.add_argument("--out", default=None, help="also write the results as JSON here")
  for q in (c, t, pc, k, ru, la, r, bc, bt):
    _help_defaults(q)
  from gaplab.cli import train as cli_train
  cli_train.add_parsers(sub, add_size_flags, _help_defaults)
  return p


def _cmd_cone(a):
  from gaplab.cone import store as cone
  _x64(a)
  cfg = config_from_args(a)
  path = cone.run_and_save(cfg, a.out, overwrite=a.overwrite)
  print(f"wrote {path}")


def _x64(a):
  if a.dtype == "float64":
    import jax
    jax.config.update("jax_enable_x64", True)


def _cmd_theory(a):
  from gaplab.theory import predictions as theory
  _x64(a)
  path = theory.run_and_save(config_from_args(a), a.out, n_pairs=a.pairs,
                             order=a.order, overwrite=a.overwrite)
  print(f"wrote {path}")


def _theory_for(run_dir: str, theory_dir: str) -> str:
  """``auto``: RUN/theory, predicted from the run's own config if absent."""
  import os
  from gaplab.io import results
  from gaplab.theory import predictions as theory
  if theory_dir != "auto":
    return theory_dir
  path = os.path.join(run_dir, "theory")
  if not os.path.isdir(path):
    run = results.load_run(run_dir)
    if run.meta.get("kind") != "cone":
      raise ConfigError("run", f"expected a cone run, got kind "
                        f"{run.meta.get('kind')!r} in {run_dir!r}")
    cfg = ConeConfig.from_dict(run.meta["config"])
    if cfg.dtype == "float64":
      import jax
      jax.config.update("jax_enable_x64", True)
    try:
      print(f"wrote {theory.run_and_save(cfg, path)}")
    except ConfigError as e:
      raise ConfigError("theory", f"cannot predict {run_dir!r}: {e.message}") from None
  return path


def _cmd_plot(a):
  from gaplab.plotting import cone as plotting
  theory_dir = _theory_for(a.run, a.theory) if a.theory else None
  for p in plotting.plot_cone(a.run, a.out, stat=a.stat, theory_dir=theory_dir):
    print(f"wrote {p}")


def _cmd_check(a):
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


def _cmd_run(a, name=None, flags=None, overrides=None):
  """Runs experiment ``name`` (default: a.name); ``overrides`` come before
  --set; ``flags`` names the flag of a field in errors (default --set FIELD)."""
  import importlib
  from gaplab.harness.experiment import parse_overrides
  from gaplab.simulations import EXPERIMENTS
  name = name or a.name
  if name not in EXPERIMENTS:
    raise ConfigError("name", f"expected one of {', '.join(EXPERIMENTS)}, got {name!r}")
  mod = importlib.import_module(f"gaplab.simulations.{name}")
  flags = flags or (lambda f: f if f in ("out", "set") else f"set {f}")
  try:
    over = dict(overrides or {})
    over.update(parse_overrides(a.set))
    path = mod.run(a.out or f"runs/{name}", a.size or "full", a.overwrite, **over)
  except ConfigError as e:
    raise ConfigError(flags(e.field), e.message) from None
  for f in mod.figures(path, path + "/figures"):
    print(f"wrote {f}")
  print(mod.report(path))


def _cmd_gap(a):
  import json
  from gaplab.analysis import gap
  from gaplab.nets import inputs
  arrays = []
  for path, field in ((a.a, "a"), (a.b, "b")):
    try:
      arrays.append(inputs.load_array(path))
    except ConfigError as e:
      raise ConfigError(field, e.message) from None
  print(json.dumps(gap.decomposition(*arrays), indent=2))


def _cmd_landscape(a):
  from gaplab.contrastive import landscape_store
  from gaplab.plotting import gap as plot_gap
  from gaplab.io import results
  x, y, sources = landscape_store.load_pair(a.emb, a.image, a.text)
  path = landscape_store.run_and_save(
      x, y, a.out, sources=sources, overwrite=a.overwrite, deltas=a.deltas,
      logit_scales=a.logit_scales, batch_size=a.batch_size)
  for f in plot_gap.plot_landscape(results.load_run(path), path + "/figures"):
    print(f"wrote {f}")
  print(landscape_store.report(path))
  print(f"wrote {path}")


def _cmd_reproduce(a):
  from gaplab.cli import registry
  from gaplab.harness import reproduce
  failed = reproduce.main(registry.everything(), quick=a.quick, out=a.out, only=a.only, overwrite=a.overwrite)
  if failed:
    print(f"{len(failed)} theory-check claims failed (see REPORT.md): "
          + "; ".join(f"{n}: {c.name}" for n, c in failed), file=sys.stderr)
    return 1
  return 0


def _cmd_train(a):
  from gaplab.cli import train as cli_train
  try:
    over = cli_train.train_overrides(a)
  except ConfigError as e:
    raise ConfigError(cli_train.flag_of(e.field), e.message) from None
  _cmd_run(a, "two_tower_training", cli_train.flag_of, over)


def _cmd_bench(a):
  if a.what == "train":
    from gaplab.bench import train as bench_train
    bench_train.run("quick" if a.quick else "full", repeats=a.repeats, out=a.out)
    return
  from gaplab.bench import cone as bench
  bench.cone(quick=a.quick, repeats=a.repeats, reference_seeds=a.reference_seeds,
             out=a.out)


def main(argv=None) -> int:
  p = build_parser()
  a = p.parse_args(argv)
  try:
    rc = {"cone": _cmd_cone, "theory": _cmd_theory, "plot": _cmd_plot,
          "check": _cmd_check, "run": _cmd_run, "gap": _cmd_gap,
          "landscape": _cmd_landscape, "train": _cmd_train,
          "sphere": lambda a: _cmd_run(a, "sphere_mismatch"),
          "reproduce": _cmd_reproduce,
          "bench": _cmd_bench}[a.command](a)
  except ConfigError as e:
    prog = f"gaplab {a.command}"
    print(f"{prog}: error: argument {flag(e.field)}: {e.message}", file=sys.stderr)
    return 2
  return rc or 0


if __name__ == "__main__":
  sys.exit(main())
