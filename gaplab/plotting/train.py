"""Figures of two-tower training sweeps, drawn from saved runs (matplotlib only here)."""
from __future__ import annotations

import numpy as np

from gaplab.plotting import style
from gaplab.training import store as train_store


def _band(ax, x, v, color, label, fmt="-"):
  """Mean over seeds (rows of v) with a ±1 sd band."""
  m = v.mean(0)
  sd = v.std(0, ddof=1) if v.shape[0] > 1 else np.zeros_like(m)
  ax.plot(x, m, fmt, color=color, lw=1.4, label=label)
  ax.fill_between(x, m - sd, m + sd, color=color, alpha=0.18, lw=0)


def gap_curves(run, axes_row, metric="eval_gap", share=0, ylabel="gap |μ_x − μ_y|"):
  """One panel per mismatch level: ``metric`` over training, a curve per variant."""
  steps = np.asarray(run.meta["coords"]["eval_step"])
  labels = run.meta["labels"]
  full = train_store.full_length(run)  # half-length checks are left out here
  colors = style.colors(int(full.sum()))
  for mi, (ax, m) in enumerate(zip(axes_row, run.meta["coords"]["mismatch"])):
    v = train_store.by_variant(run, metric, share, mi)
    for vi in np.flatnonzero(full):
      label = labels[vi]
      _band(ax, steps, v[vi], colors[vi], label, "-" if "tau=" in label else "--")
    ax.set(title=f"mismatch {m:g}", xlabel="training step")
    ax.grid(alpha=0.3)
  axes_row[0].set_ylabel(ylabel)


def plot_training(run, fig_dir: str, name: str) -> list[str]:
  """Row 1: evaluation gap over training per variant (seed bands), one panel per
  mismatch level. Row 2: final gap and top-1 vs fixed tau, learnable and
  scheduled runs as markers at their final tau."""
  cfg = run.meta["config"]
  n_m = len(cfg["mismatch"])
  fig, axes = style.subplots(2, n_m, figsize=(5.5 * n_m, 8.2), squeeze=False)
  gap_curves(run, axes[0])
  taus = np.asarray(cfg["taus"], float)
  n_fixed = len(taus)
  full = train_store.full_length(run)
  colors = style.colors(int(full.sum()))
  gap, top1 = train_store.summary(run), train_store.summary(run, "eval_top1")
  tau_end = train_store.summary(run, "eval_tau")
  half = np.flatnonzero(~full)  # the fixed taus again at half length, in order
  for mi, ax in enumerate(axes[1]):
    order = np.argsort(taus)
    ax.errorbar(taus[order], gap[0, mi, order, 0], gap[0, mi, order, 1], fmt="o-",
                color="k", capsize=3, label="final gap, fixed tau (±1 sd)")
    if len(half) == n_fixed:
      ax.plot(taus[order], gap[0, mi, half[order], 0], "o--", color="0.5", mfc="none",
              label="the same at half the steps")
    for vi in range(n_fixed, int(full.sum())):
      ax.errorbar(tau_end[0, mi, vi, 0], gap[0, mi, vi, 0], gap[0, mi, vi, 1], fmt="s",
                  color=colors[vi], capsize=3, label=f"{run.meta['labels'][vi]} (at final tau)")
    tw = ax.twinx()
    tw.plot(taus[order], top1[0, mi, order, 0], "^:", color="tab:blue", label="top-1")
    tw.set_ylabel("final top-1 retrieval", color="tab:blue")
    tw.set_ylim(0, 1.02)
    ax.set(xscale="log", xlabel="temperature tau", ylabel="final gap",
           title=f"final gap vs tau, mismatch {cfg['mismatch'][mi]:g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
  axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
  fig.suptitle(f"Two-tower training ({cfg['image_encoder']}/{cfg['text_encoder']}, "
               f"{cfg['seeds']} seeds, bands ±1 sd over seeds; evaluation set of "
               f"{cfg['n_eval']} matched pairs)", fontsize=9)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)


def plot_curves(run, fig_dir: str, name: str, title: str) -> list[str]:
  """Evaluation gap and top-1 over training, a curve per variant (seed bands);
  a row per share setting, a column per mismatch level."""
  cfg, shares = run.meta["config"], run.meta["shares"]
  n_m = len(cfg["mismatch"])
  fig, axes = style.subplots(2 * len(shares), n_m,
                             figsize=(5.5 * n_m, 3.8 * 2 * len(shares)), squeeze=False)
  for si, share in enumerate(shares):
    gap_curves(run, axes[2 * si], share=si, ylabel=f"gap (share={share})")
    gap_curves(run, axes[2 * si + 1], "eval_top1", share=si, ylabel=f"top-1 (share={share})")
  axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
  fig.suptitle(f"{title} ({cfg['seeds']} seeds, bands ±1 sd; evaluation set of "
               f"{cfg['n_eval']} matched pairs)", fontsize=9)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)
