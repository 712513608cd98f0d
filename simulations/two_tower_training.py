"""Two-tower contrastive training: the gap over training, for seeds x temperatures.

Exact command (full preset; about 50 minutes on a 2-core CPU):

    python simulations/two_tower_training.py --out runs/two_tower_training
    # or: gaplab run two_tower_training --out runs/tt [--set taus=[1,0.01] seeds=16]
    # or: gaplab reproduce --only two_tower_training --out figures --overwrite

Tiny mode (seconds): ``python simulations/two_tower_training.py --tiny --out /tmp/tt``.
Override any preset key, unknown keys rejected: ``--set mismatch=[0.3] swap=0.5``.

Setting (``gaplab.contrastive.pairs``, ``gaplab.training.towers``, ``gaplab.training.loop``): a shared latent
z in R^8 drives two nonlinear 64-dim views (tanh of a random map, + noise 0.1);
4096 training pairs, a fraction ``mismatch`` of them mismatched (0 and 0.2),
512 matched evaluation pairs. Two independent ReLU MLP towers (Fig 2b's init
law, 3 layers of width 128, linear projection to 32 dims), symmetric CLIP
loss, Adam with CLIP's schedule (200 linear warm-up steps to 2e-3, cosine
decay to 0), batch 128, 8000 steps (250 epochs). Runs: 8 seeds x (fixed tau
in 1, 1/10, 1/20, 1/30, 1/50, 1/100; learnable tau from 0.07, CLIP's clamp at
scale 100; a linear schedule 0.01 -> 0.1 in log tau that ends at half of
training), plus every fixed tau again at half the steps (its schedule
compressed: the training-length check), all in one compiled, run-vmapped
program; the same seed gives the same towers at init and the same batches
for every variant. Logged on the training batch (window means of 50 steps):
loss, tau, gap, mean paired cosine, alignment, uniformity, top-1 retrieval;
every 200 steps the same on the evaluation set. Convergence criterion
(``train_store.plateau_lines``): the seed-mean held-out gap moves by less than
0.02 over the last 20% of training, and doubling the training changes the
final gap by less than 0.02.

Expected result (full preset, final evaluation gap, mean over 8 seeds, tau =
1, 1/10, 1/20, 1/30, 1/50, 1/100; the paper's CLIP fine-tuning: 0.24, 0.30,
0.55, 0.64, 0.80, 1.00, values typed into a plotting cell, ``gaplab.paper``):
with 20% mismatched pairs 0.022, 0.035, 0.037, 0.046, 0.139, 0.424 (Spearman
rho = -1); without mismatch 0.008, 0.017, 0.020, 0.023, 0.022, 0.151. The gap
falls as tau rises. All towers start at gap 1.14. For tau >= 1/30 the end
point no longer depends on the training length (at most 0.01 per doubling);
at tau = 1/100 the gap is clear but still closing (-0.036 per doubling with
mismatch, -0.063 without), and at 1/50 with mismatch (-0.021). A high
learning rate holds part of the gap open (tau = 1/20 without mismatch: about
0.15 mid-training, 0.02 after the decay). Learnable tau ends at 0.017 (gap
0.03 / 0.07); the schedule to 0.1 ends at the gap of tau = 0.1. With
mismatch, top-1 is best at 1/30 to 1/100 (0.87-0.88) and worst at tau = 1
(0.55). About 50 min on a 2-core CPU.
"""
from __future__ import annotations

import sys

import numpy as np

from gaplab import paper
from gaplab.harness import checks
from gaplab.io import results
from gaplab.io import tables
from gaplab.training import presets
from gaplab.training import store as train_store
from gaplab._errors import ConfigError
from gaplab.harness.experiment import experiment_main

NAME = "two_tower_training"
TITLE = "Two-tower training: the final gap falls as the temperature rises"

PRESET = dict(presets.TRAIN_PRESET, taus=[1.0, 0.1, 0.05, 1 / 30, 0.02, 0.01],
              learnable=True, tau_init=0.07, schedules=[["linear", 0.01, 0.1]],
              length_check=True)
SIZES = {"full": {},
         "quick": presets.TRAIN_QUICK,
         "tiny": dict(presets.TRAIN_TINY, taus=[1.0, 0.01], schedules=[])}


def variants(cfg: dict) -> tuple[list[dict], list[str]]:
  from gaplab.training.sweep import variant
  for key in ("taus", "tau_init"):
    v = cfg[key] if key == "taus" else [cfg[key]]
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < float("inf")
               for t in v):
      raise ConfigError(key, f"expected temperatures > 0, got {cfg[key]!r}")
  out = [variant(cfg, tau_start=t, tau_end=t) for t in cfg["taus"]]
  labels = [f"tau={t:.3g}" for t in cfg["taus"]]
  if cfg["learnable"]:
    out.append(variant(cfg, tau_start=cfg["tau_init"], tau_end=cfg["tau_init"],
                       tau_mode="learnable"))
    labels.append(f"learnable from {cfg['tau_init']:g}")
  for s in cfg["schedules"]:
    if not (isinstance(s, (list, tuple)) and len(s) == 3 and s[0] in ("linear", "cosine")
            and all(isinstance(t, (int, float)) and t > 0 for t in s[1:])):
      raise ConfigError("schedules", f"expected [[linear|cosine, tau_start > 0, tau_end > 0], ...], "
                        f"got {cfg['schedules']!r}")
    out.append(variant(cfg, tau_start=float(s[1]), tau_end=float(s[2]), tau_mode=s[0]))
    labels.append(f"{s[0]} {s[1]:g} -> {s[2]:g}")
  if cfg["length_check"]:  # every fixed tau again at half the steps
    return train_store.half_length(cfg, out, labels, range(len(cfg["taus"])))
  return out, labels


def config(size: str = "full", **overrides) -> dict:
  cfg = checks.resolve(PRESET, SIZES, size, overrides, may_be_empty=("schedules",))
  return train_store.validate(cfg, variants)


run = train_store.runner(sys.modules[__name__])


def figures(run_dir: str, fig_dir: str) -> list[str]:
  from gaplab.plotting import train as plot_train
  return plot_train.plot_training(results.load_run(run_dir), fig_dir, NAME)


def fixed_tau_trend(run) -> list[tuple[float, float, bool]]:
  """Per mismatch level: (Spearman rho of tau vs mean final gap over the fixed-tau
  variants, gap at the largest tau minus gap at the smallest, gap falls?)."""
  taus = np.asarray(run.meta["config"]["taus"], float)
  mean = train_store.summary(run)[0, :, :len(taus), 0]  # (mismatch, tau)
  rank = lambda v: np.argsort(np.argsort(v)).astype(float)
  out = []
  for g in mean:
    rho = float(np.corrcoef(rank(taus), rank(g))[0, 1]) if len(taus) > 2 else float("nan")
    hi, lo = int(np.argmax(taus)), int(np.argmin(taus))
    out.append((rho, float(g[hi] - g[lo]), bool(g[hi] < g[lo])))
  return out


def _verdict(change: float, final: float) -> str:
  """A plain sentence on one low-temperature gap at full vs half length."""
  if abs(change) < train_store.PLATEAU_TOL:
    return f"holds at {final:.2f} (it moved {change:+.3f} when the steps doubled)"
  word = "still closing" if change < 0 else "still opening"
  pace = " slowly" if abs(change) < 2.5 * train_store.PLATEAU_TOL else ""
  return f"is {word}{pace} ({change:+.3f} when the steps doubled, to {final:.2f})"


def report(run_dir: str) -> str:
  run = results.load_run(run_dir)
  cfg, prov = run.meta["config"], run.meta["provenance"]
  gap, tau = train_store.summary(run), train_store.summary(run, "eval_tau")
  full = train_store.full_length(run)
  n_fixed = len(cfg["taus"])
  half = train_store.twins(run)
  lines = [f"## {TITLE}", "",
           f"{cfg['seeds']} seeds x {int(full.sum())} variants, {cfg['steps']} steps of batch "
           f"{cfg['batch_size']} ({cfg['lr_schedule']} learning rate {cfg['lr']:g}, "
           f"{cfg['warmup_steps']} warm-up steps), {cfg['image_encoder']}/"
           f"{cfg['text_encoder']} towers, {prov['dtype']}, {prov['elapsed_s']:.0f} s. "
           f"Evaluation set ({cfg['n_eval']} matched pairs): gap at init and at the end "
           "(mean ± sd over seeds), the same run at half the steps (its schedule "
           "compressed), how far the seed-mean gap moved over the last 20% of training, "
           "final tau and top-1 retrieval.", "",
           tables.table(["mismatch", "variant", "final tau", "gap at init", "final gap",
                         "half the steps", "moved, last 20%", "final top-1"],
                        [(f"{cfg['mismatch'][mi]:g}", run.meta["labels"][vi], c["tau"],
                          c["init"], c["final"], c["half"], c["moved"], c["top1"])
                         for (_, mi, vi), c in train_store.final_cells(run).items()])]
  lines += ["", "Paper (CLIP fine-tuned on MSCOCO at fixed tau, one run each): gap "
            + ", ".join(f"{paper.value(k):g} at tau = {t:.3g}"
                        for t, k in zip(paper.FINETUNE_TAUS, paper.FINETUNE_KEYS))
            + " (" + paper.source(paper.FINETUNE_KEYS[0]) + ").", ""]
  for m, (rho, diff, falls) in zip(cfg["mismatch"], fixed_tau_trend(run)):
    if len(cfg["taus"]) < 2:
      lines.append(f"Mismatch {m:g}: one fixed temperature, so no trend over tau.")
      continue
    rho_text = f"{rho:.2f}" if np.isfinite(rho) else "n/a (needs 3 or more temperatures)"
    lines.append(f"Mismatch {m:g}: Spearman rho(tau, final gap) = {rho_text}; gap at the "
                 f"largest tau minus at the smallest = {diff:+.3f} "
                 f"({'falls' if falls else 'does NOT fall'} as tau rises).")
  lines += [""] + train_store.plateau_lines(run)
  if half:
    lo = int(np.argmin(cfg["taus"]))
    lines += ["", f"At the lowest temperature (tau = {cfg['taus'][lo]:g}) the gap "
              + "; ".join(f"with mismatch {m:g} "
                          + _verdict(gap[0, mi, lo, 0] - gap[0, mi, half[lo], 0],
                                     gap[0, mi, lo, 0])
                          for mi, m in enumerate(cfg["mismatch"])) + "."]
  if cfg["learnable"]:
    li = n_fixed
    lines += ["", "Learnable tau (from " + f"{cfg['tau_init']:g}) ends at "
              + ", ".join(f"{tau[0, mi, li, 0]:.3g} (gap {gap[0, mi, li, 0]:.3f}, mismatch "
                          f"{m:g})" for mi, m in enumerate(cfg["mismatch"])) + "."]
  return "\n".join(lines) + "\n"


def main(argv=None) -> int:
  return experiment_main(sys.modules[__name__], argv)


if __name__ == "__main__":
  sys.exit(main())
