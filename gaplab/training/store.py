"""Training sweeps as results data: what the training experiment files share.

``training.presets.TRAIN_PRESET`` holds every key ``training.sweep`` reads. ``run_and_save`` trains
the runs (seeds x variants) for each mismatch level (one compiled program: the
data are arguments) and, for each ``share`` setting, writes one run directory:
arrays ``train_NAME`` (setting, mismatch, run, step) and ``eval_NAME``
(setting, mismatch, run, eval point) for NAME in ``train.LOGGED``, the runs'
seeds and variants, config, provenance and a tidy table of the final
evaluation. Long runs log the training batch at a stride: with ``log_every``
= k each ``train_NAME`` entry covers k consecutive steps (coords ``step``: the
first step of each window): loss, clip and tau their mean, the metrics
(``metrics.NAMES``) their value at that first step (``train.thin``). ``summary`` reduces a saved run to
per-variant means and sds; ``plateau`` applies the convergence criterion.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

from gaplab import precision
from gaplab.io import provenance
from gaplab.io import results
from gaplab.nets import chunks
from gaplab.training import loop as train
from gaplab.training import sweep as train_sweep
from gaplab._errors import ConfigError


def check_common(cfg: dict) -> None:
  for m in cfg["mismatch"]:
    if not isinstance(m, (int, float)) or isinstance(m, bool) or not 0 <= m <= 1:
      raise ConfigError("mismatch", f"expected fractions in [0, 1], got {cfg['mismatch']!r}")
  if cfg["dtype"] not in ("float32", "float64"):
    raise ConfigError("dtype", f"expected float32 or float64, got {cfg['dtype']!r}")
  k = cfg["log_every"]
  if isinstance(k, bool) or not isinstance(k, int) or k < 1 or cfg["steps"] % k:
    raise ConfigError("log_every", f"expected a divisor of steps = {cfg['steps']}, got {k!r}")
  c, unit = cfg.get("checkpoint_every", 0), math.lcm(cfg["eval_every"], k)
  if (isinstance(c, bool) or not isinstance(c, int) or c < 0
      or c and (c % unit or cfg["steps"] % c)):
    raise ConfigError("checkpoint_every", f"expected 0 (automatic) or a multiple of "
                      f"eval_every and log_every ({unit}) that divides steps = "
                      f"{cfg['steps']}, got {c!r}")


def validate(cfg: dict, variants, shares=None) -> dict:
  """Raises ConfigError unless every share setting, the mismatch levels and
  the runs of ``variants(cfg)`` are valid; returns ``cfg``."""
  for s in shares or [cfg["share"]]:
    train_sweep.resolve_spec(dict(cfg, share=s))
  check_common(cfg)
  train_sweep.grid(cfg, variants(cfg)[0])
  return cfg


def run_experiment(module, out: str, size: str, overwrite: bool, overrides: dict, *,
                   resume: bool = False, max_memory: int | None = None,
                   dry_run: bool = False) -> str | None:
  """``run`` of a training experiment file (``config``, ``variants``, ``NAME``)."""
  cfg = module.config(size, **overrides)
  v, labels = module.variants(cfg)
  return run_and_save(out, cfg, v, labels, kind=module.NAME, overwrite=overwrite,
                      shares=cfg.get("shares"), size=size, resume=resume,
                      max_memory=max_memory, dry_run=dry_run)


def runner(module):
  """``run(out, size="full", overwrite=False, *, resume=False, max_memory=None,
  dry_run=False, **overrides)`` of a training experiment file ``module``:
  ``run_experiment`` of it. Training experiments resume (``RESUMABLE``)."""
  def run(out: str, size: str = "full", overwrite: bool = False, *, resume: bool = False,
          max_memory: int | None = None, dry_run: bool = False, **overrides):
    return run_experiment(module, out, size, overwrite, overrides, resume=resume,
                          max_memory=max_memory, dry_run=dry_run)
  return run


def run_and_save(out: str, cfg: dict, variants: list[dict], labels: list[str], *,
                 kind: str, overwrite: bool, shares=None, size: str = "full",
                 resume: bool = False, max_memory: int | None = None,
                 dry_run: bool = False) -> str | None:
  """Trains seeds x ``variants`` for every mismatch level and share setting.

  Each finished chunk of runs is kept in ``OUT.partial`` (and long chunks
  checkpointed with orbax every ``checkpoint_every`` steps) until the run is
  saved: ``resume`` continues a killed run with the same config, bitwise
  equal to an uninterrupted one. Returns the run's path, the plan's text with
  ``dry_run``, or None when ``resume`` finds the run already finished."""
  import jax
  from gaplab.io import chunkstore
  shares = list(shares or [cfg["share"]])
  specs = [train_sweep.resolve_spec(dict(cfg, share=s)) for s in shares]
  check_common(cfg)
  hp, seed_index = train_sweep.grid(cfg, variants)
  plan = train_sweep.plan_chunk(cfg, specs, len(seed_index), max_memory)
  if dry_run:
    return train_sweep.describe_plan(cfg, specs, plan, len(seed_index))
  # the segment length and the devices change float32 sums: part of the config
  segment = train_sweep.segment_intervals(cfg, specs[0]) * cfg["eval_every"]
  record = {"kind": kind, "config": dict(cfg, size=size, shares=shares, labels=labels,
                                         variants=variants, segment_steps=segment,
                                         layout=chunks.layout()),
            "plan": {"run_chunk": plan.chunk}}
  writer = jax.process_index() == 0
  store = chunkstore.open_store(out, record, resume=resume, overwrite=overwrite,
                                writer=writer)
  if store is None:
    return None
  chunk = store.record()["plan"]["run_chunk"] if writer else plan.chunk
  chunk = chunks.agreed_chunks([chunk], item="run")[0]
  if cfg["dtype"] == "float64":
    precision.enable_x64()
  import jax.numpy as jnp
  dtype = jnp.float64 if cfg["dtype"] == "float64" else jnp.float32
  t0 = time.perf_counter()
  hist = []
  for si, spec in enumerate(specs):
    per_m = []
    for mi, m in enumerate(cfg["mismatch"]):
      data = train_sweep.make_data(cfg, spec, float(m))
      per_m.append(train_sweep.sweep(cfg, spec, data, hp, seed_index, dtype, chunk=chunk,
                                     store=store, prefix=f"share{si}-mismatch{mi}",
                                     log_every=cfg["log_every"]))
    hist.append(per_m)
  arrays = {f"{part}_{k}": np.stack([np.stack([h[part][k] for h in per_m]) for per_m in hist])
            for part in ("train", "eval") for k in train.LOGGED}
  stride = cfg["log_every"]  # the sweep logged window means of this many steps
  arrays["rotation"] = np.stack([np.stack([h["rotation"] for h in per_m]) for per_m in hist])
  arrays.update(seed_index=seed_index, **{f"hp_{k}": v for k, v in hp.items()})
  n_eval = arrays["eval_gap"].shape[-1]
  meta = {"kind": kind, "size": size, "config": cfg, "variants": variants, "labels": labels,
          "shares": shares,
          "axes": {**{f"train_{k}": ["share", "mismatch", "run", "step"] for k in train.LOGGED},
                   **{f"eval_{k}": ["share", "mismatch", "run", "eval_step"]
                      for k in train.LOGGED},
                   "rotation": ["share", "mismatch", "run", "embed", "embed"]},
          "coords": {"share": shares, "mismatch": cfg["mismatch"],
                     "run": {"seed": seed_index.tolist(),
                             "variant": [i % len(variants) for i in range(len(seed_index))]},
                     "step": list(range(0, cfg["steps"], stride)),
                     "eval_step": [0] + [(i + 1) * cfg["eval_every"] for i in range(n_eval - 1)]},
          "provenance": dict(provenance.collect(precision="highest", dtype=cfg["dtype"]),
                             elapsed_s=time.perf_counter() - t0)}
  rows = [(s, m, int(seed_index[r]), labels[r % len(variants)], step,
           *(arrays[f"eval_{k}"][si, mi, r, e] for k in train.LOGGED))
          for si, s in enumerate(shares) for mi, m in enumerate(cfg["mismatch"])
          for r in range(len(seed_index))
          for e, step in enumerate(meta["coords"]["eval_step"])]
  if not writer:
    return os.path.abspath(out)
  meta[chunkstore.RECORD_KEY] = chunkstore.compared(record)
  saved = results.save_run(out, meta=meta, arrays=arrays, rows=rows, overwrite=True,
                           header=["share", "mismatch", "seed", "variant", "step",
                                   *train.LOGGED])  # open_store checked the destination
  store.finish()
  return saved


def by_variant(run, name: str, share: int = 0, mismatch: int = 0):
  """``eval_NAME`` or ``train_NAME`` of one setting as (variant, seed, point)."""
  a = run.arrays[name][share, mismatch]
  n_var = len(run.meta["variants"])
  return a.reshape(-1, n_var, a.shape[-1]).transpose(1, 0, 2)


def summary(run, name: str = "eval_gap", point: int = -1) -> np.ndarray:
  """(share, mismatch, variant, 2): mean and sd over seeds at one eval point."""
  out = np.zeros((len(run.meta["shares"]), len(run.meta["coords"]["mismatch"]),
                  len(run.meta["variants"]), 2))
  for s in range(out.shape[0]):
    for m in range(out.shape[1]):
      v = by_variant(run, name, s, m)[:, :, point]
      out[s, m, :, 0] = v.mean(1)
      out[s, m, :, 1] = v.std(1, ddof=1) if v.shape[1] > 1 else 0.0
  return out


# The convergence criterion of the training experiments, per (setting,
# mismatch, variant) cell of full-length runs: (a) the seed-mean held-out gap
# moves (max - min) by less than PLATEAU_TOL over the evaluation points in the
# last PLATEAU_WINDOW of training, and (b) where the run has a half-length
# twin (``half_length``), doubling the training changes the seed-mean final
# gap by less than PLATEAU_TOL. (a) alone is weak under a decaying learning
# rate, which flattens every curve at the end; (b) asks whether the end point
# still depends on how long one trains.
PLATEAU_WINDOW, PLATEAU_TOL = 0.2, 0.02


def plateau(run, name: str = "eval_gap", window: float = PLATEAU_WINDOW,
            tol: float = PLATEAU_TOL) -> tuple[np.ndarray, np.ndarray]:
  """(movement, flat), each (share, mismatch, variant): max - min of the
  seed-mean ``name`` over the evaluation points at steps >= (1 - window) T,
  and whether it is below ``tol`` (part (a) of the criterion)."""
  steps = np.asarray(run.meta["coords"]["eval_step"])
  last = steps >= (1 - window) * run.meta["config"]["steps"]
  last[-2:] = True  # at least two points, however coarse the evaluations
  move = np.zeros((len(run.meta["shares"]), len(run.meta["coords"]["mismatch"]),
                   len(run.meta["variants"])))
  for s in range(move.shape[0]):
    for m in range(move.shape[1]):
      v = by_variant(run, name, s, m)[:, :, last].mean(1)  # (variant, point)
      move[s, m] = v.max(-1) - v.min(-1)
  return move, move < tol


def full_length(run) -> np.ndarray:
  """(variant,) bool: runs whose schedule spans all the steps (horizon 1)."""
  return np.array([v.get("horizon", 1.0) >= 1.0 for v in run.meta["variants"]])


def twins(run) -> dict:
  """Full-length variant index -> the index of its half-length twin."""
  labels = run.meta["labels"]
  return {labels.index(l[:-len(HALF)]): i for i, l in enumerate(labels) if l.endswith(HALF)}


def length_change(run) -> np.ndarray:
  """(share, mismatch, variant): final seed-mean gap minus its half-length
  twin's (the change when the training doubles); NaN without a twin."""
  g = summary(run)[..., 0]
  out = np.full(g.shape, np.nan)
  for f, h in twins(run).items():
    out[..., f] = g[..., f] - g[..., h]
  return out


def converged(run) -> np.ndarray:
  """(share, mismatch, variant) bool over full-length variants: (a) and (b)."""
  move, flat = plateau(run)
  change = length_change(run)
  return flat & ~(np.abs(change) >= PLATEAU_TOL)  # NaN (no twin): (a) alone


def plateau_lines(run) -> list[str]:
  """The criterion and which runs meet it, for a report (full-length runs:
  a shorter run is frozen over its last steps and meets (a) trivially)."""
  move, _ = plateau(run)
  change, ok = length_change(run), converged(run)
  full = full_length(run)
  labels, shares = run.meta["labels"], run.meta["shares"]
  mm = run.meta["coords"]["mismatch"]
  share = lambda s: f"share {shares[s]}, " if len(shares) > 1 else ""
  cell = lambda s, m, v: (f"{labels[v]} ({share(s)}mismatch {mm[m]:g}: moved "
                          f"{move[s, m, v]:.3f}" + ("" if np.isnan(change[s, m, v]) else
                          f", {change[s, m, v]:+.3f} per doubling") + ")")
  longer = ~ok & full & (np.abs(change) >= PLATEAU_TOL)  # (b) fails
  anneal = ~ok & full & ~longer  # only (a) fails
  n = int(ok[..., full].sum())
  lines = [f"Convergence criterion: (a) the seed-mean held-out gap moves by less than "
           f"{PLATEAU_TOL:g} over the last {PLATEAU_WINDOW:.0%} of training (max − min "
           f"over those evaluation points) and (b), for runs with a half-length twin, "
           f"doubling the training changes the final gap by less than {PLATEAU_TOL:g}. "
           f"Met by {n} of {ok[..., full].size} (setting, mismatch, variant) cells."]
  if longer.any():
    lines.append("NOT CONVERGED, still changing with the training length (b fails): "
                 + "; ".join(cell(*i) for i in zip(*np.nonzero(longer))) + ".")
  if anneal.any():
    lines.append("NOT CONVERGED by (a) only: the gap still fell by more than "
                 f"{PLATEAU_TOL:g} while the learning rate decayed"
                 + (" (the length no longer matters where a twin says so)"
                    if np.any(~np.isnan(change[anneal])) else "") + ": "
                 + "; ".join(cell(*i) for i in zip(*np.nonzero(anneal))) + ".")
  size = run.meta.get("size", "full")
  if size != "full":
    lines.append(f"This is the {size} preset ({run.meta['config']['steps']} steps), far "
                 "too short to reach a plateau: NOT CONVERGED, whatever the criterion "
                 "says at the end of its short schedule. Read its numbers as a smoke "
                 "test; the full preset is the one trained to the criterion.")
  return lines


HALF = ", half length"


def half_length(cfg: dict, variants: list[dict], labels: list[str], which) -> tuple:
  """``variants``/``labels`` plus, for the indices ``which``, the same run at
  half the training length (horizon 1/2: its schedule ends at the midpoint and
  it is frozen after), the training-length check of the full presets."""
  extra = [dict(variants[i], horizon=0.5) for i in which]
  return variants + extra, labels + [labels[i] + HALF for i in which]


def final_cells(run) -> dict:
  """Formatted report cells per full-length (setting, mismatch, variant):
  ``init`` and ``final`` gap (mean ± sd), ``half`` (the half-length twin's
  final gap, or '–'), ``moved`` (over the last 20%), ``top1`` and ``tau``."""
  g0, g1 = summary(run, point=0), summary(run)
  top, tau = summary(run, "eval_top1"), summary(run, "eval_tau")
  move, _ = plateau(run)
  half, full = twins(run), full_length(run)
  out = {}
  for s, m, v in np.ndindex(g1.shape[:3]):
    if not full[v]:
      continue
    out[s, m, v] = {
        "init": f"{g0[s, m, v, 0]:.3f} ± {g0[s, m, v, 1]:.3f}",
        "final": f"{g1[s, m, v, 0]:.3f} ± {g1[s, m, v, 1]:.3f}",
        "half": f"{g1[s, m, half[v], 0]:.3f}" if v in half else "–",
        "moved": f"{move[s, m, v]:.3f}", "top1": f"{top[s, m, v, 0]:.3f}",
        "tau": f"{tau[s, m, v, 0]:.4g}"}
  return out

