"""``gaplab bench train``: seeds x temperatures trained in one vmapped program
against the same runs one by one in a Python loop, in one run on one machine.

Workload: the two-tower task of ``simulations/two_tower_training.py``
(``training.presets``; MLP towers, 20% mismatched pairs), R runs = R/8 seeds x 8 fixed temperatures
log-spaced from 1 to 1/100, over a sweep of tower widths. Three ways to train
the same R runs, all jitted:

* ``vmapped``: ``train.train_runs``, every run in one program;
* ``loop of compiled runs``: ``train.train_single`` (one run's whole training,
  compiled once, reused) called R times from Python;
* ``loop of compiled steps``: ``train.step`` / ``train.evaluate`` jitted and
  called from Python for every step of every run (the common hand-written
  loop; measured on a few runs and scaled to R).

The workload logs what the PyTorch reference (``gaplab.bench.torch_workloads``)
computes: the loss every step, the metrics every ``eval_every`` = 25 steps
(``log_every`` = ``eval_every``: the training batch's geometry at those steps,
the evaluation set's at the evaluations), and no loss term or amendment it
has not (``train.for_runs``).

Reported per width: warm times (best of ``repeats``), run-steps per second,
and the ratios; compile times separately; a log-log fit of the time per
run-step against width for each way. A sanity check compares the vmapped
and single-run histories. Timings are benchmarks, never tests.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from gaplab.analysis import fits
from gaplab.io import provenance
from gaplab.training import loop as train
from gaplab.training import presets
from gaplab.training import store as train_store
from gaplab.training import sweep as train_sweep
from gaplab._errors import ConfigError
from gaplab.bench import report as report_mod

SIZES = {"full": dict(runs=64, widths=(16, 32, 64, 128), steps=200, step_loop_runs=4),
         "quick": dict(runs=64, widths=(16, 64), steps=50, step_loop_runs=2),
         "tiny": dict(runs=8, widths=(8,), steps=4, step_loop_runs=1)}


def _config(width: int, runs: int, steps: int, size: str) -> dict:
  """The quick two-tower preset (``training.presets``) at this width, with 8
  temperatures and a constant learning rate; ``taus`` is the grid."""
  every = steps // 2 if size == "tiny" else 25
  over = dict(width=width, steps=steps, eval_every=every, log_every=every,
              seeds=runs // 8, mismatch=[0.2], taus=np.geomspace(1, 0.01, 8).tolist(),
              lr_schedule="constant", warmup_steps=0)
  if size == "tiny":
    over.update(n_train=64, n_eval=16, batch_size=16, view_dim=16, embed_dim=8)
  else:
    over.update(n_train=2048, n_eval=256)
  cfg = {**presets.TRAIN_PRESET, **presets.TRAIN_QUICK, **over}
  train_store.check_common(cfg)
  return cfg


def _best(f, repeats):
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    out = jax.block_until_ready(f())
    times.append(time.perf_counter() - t0)
  return min(times), out


def _step_loop(spec, data, hp, keys, params0, runs):
  """Runs ``runs`` runs step by step from Python; returns their eval gaps."""
  start = jax.jit(train.start, static_argnums=0)
  step = jax.jit(train.step, static_argnums=0)
  evaluate = jax.jit(train.evaluate, static_argnums=0)
  gaps = []
  for r in runs:
    hp_r = {k: v[r] for k, v in hp.items()}
    state, consts = start(spec, *data, hp_r, keys[r], jax.tree.map(lambda a: a[r], params0))
    ev = [evaluate(spec, data[1], hp_r, consts, state.params, 0)["gap"]]
    for t in range(spec.steps):
      state, _ = step(spec, data[0], hp_r, consts, state, t)
      if (t + 1) % spec.eval_every == 0:
        ev.append(evaluate(spec, data[1], hp_r, consts, state.params, t)["gap"])
    gaps.append(jnp.stack(ev))
  return jnp.stack(gaps)


def _one_width(width, runs, steps, step_loop_runs, repeats, size):
  cfg = _config(width, runs, steps, size)
  data = train_sweep.make_data(cfg, train_sweep.resolve_spec(cfg), 0.2)
  variants = [train_sweep.variant(cfg, tau_start=t, tau_end=t) for t in cfg["taus"]]
  hp_np, seeds = train_sweep.grid(cfg, variants)
  spec = train.for_runs(train_sweep.resolve_spec(cfg), hp_np)
  hp = {k: jnp.asarray(v, jnp.int32 if k == "tau_mode" else jnp.float32)
        for k, v in hp_np.items()}
  params0, keys = train_sweep.init_params(cfg, spec, seeds)
  vmapped = lambda: train.train_runs(spec, *data, hp, keys, params0)[1]["eval"]["gap"]
  single = lambda r: train.train_single(spec, *data, {k: v[r] for k, v in hp.items()}, keys[r],
                                        jax.tree.map(lambda a: a[r], params0))[1]["eval"]["gap"]
  t0 = time.perf_counter()
  jax.block_until_ready(vmapped())
  cold_v = time.perf_counter() - t0
  t0 = time.perf_counter()
  jax.block_until_ready(single(0))
  cold_s = time.perf_counter() - t0
  warm_v, gap_v = _best(vmapped, repeats)
  warm_s, gap_s = _best(lambda: jnp.stack([single(r) for r in range(runs)]), repeats)
  few = list(range(step_loop_runs))
  _step_loop(spec, data, hp, keys, params0, few[:1])  # compile
  t_steps, gap_p = _best(lambda: _step_loop(spec, data, hp, keys, params0, few), 1)
  warm_p = t_steps * runs / len(few)
  work = runs * steps
  return {"width": width, "runs": runs, "steps": steps,
          "cold_s": {"vmapped": cold_v, "compiled run (first)": cold_s},
          "warm_s": {"vmapped": warm_v, "loop of compiled runs": warm_s,
                     "loop of compiled steps (scaled)": warm_p},
          "run_steps_per_s": {"vmapped": work / warm_v, "loop of compiled runs": work / warm_s,
                              "loop of compiled steps (scaled)": work / warm_p},
          "speedup_vs_run_loop": warm_s / warm_v, "speedup_vs_step_loop": warm_p / warm_v,
          "step_loop_runs_measured": len(few),
          "max_abs_gap_difference": {
              "vmapped vs single runs": float(np.max(np.abs(np.asarray(gap_v) - np.asarray(gap_s)))),
              "single vs step loop": float(np.max(np.abs(np.asarray(gap_s)[few]
                                                        - np.asarray(gap_p))))}}


def run(size: str = "full", repeats: int = 2, out: str | None = None) -> dict:
  """Runs and prints the benchmark; returns the report (also JSON at ``out``)."""
  if size not in SIZES:
    raise ConfigError("size", f"expected one of {', '.join(SIZES)}, got {size!r}")
  if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
    raise ConfigError("repeats", f"expected an integer >= 1, got {repeats!r}")
  report_mod.check_out(out)
  s = SIZES[size]
  rows = [_one_width(w, s["runs"], s["steps"], s["step_loop_runs"], repeats, size)
          for w in s["widths"]]
  report = {"size": size, "preset": s, "repeats": repeats, "rows": rows,
            "provenance": provenance.collect(precision="highest", dtype="float32")}
  if len(rows) > 1:
    w = np.array([r["width"] for r in rows], float)
    report["loglog_time_per_run_step_vs_width"] = {
        k: fits.loglog_slope(w, np.array([r["warm_s"][k] / (r["runs"] * r["steps"])
                                          for r in rows])).slope
        for k in rows[0]["warm_s"]}
  dev = report["provenance"]["device"]
  print(f"gaplab bench train: {s['runs']} runs (seeds x 8 temperatures), {s['steps']} steps, "
        f"two MLP towers; {dev['platform']} ({dev['kind']}, {dev['cpu_count']} CPUs)")
  for r in rows:
    print(f"  width {r['width']:4d}: vmapped {r['warm_s']['vmapped']:7.2f} s "
          f"({r['run_steps_per_s']['vmapped']:8.0f} run-steps/s); loop of compiled runs "
          f"{r['warm_s']['loop of compiled runs']:7.2f} s -> {r['speedup_vs_run_loop']:5.2f}x; "
          f"loop of compiled steps {r['warm_s']['loop of compiled steps (scaled)']:7.2f} s "
          f"(scaled from {r['step_loop_runs_measured']} runs) -> "
          f"{r['speedup_vs_step_loop']:5.2f}x; compile {r['cold_s']['vmapped']:.1f} s")
  for k, v in report.get("loglog_time_per_run_step_vs_width", {}).items():
    print(f"  time per run-step ~ width^{v:.2f} ({k})")
  report_mod.write(report, out)
  return report
