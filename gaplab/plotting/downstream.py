"""Figures of the downstream probes, drawn only from their saved runs:
zero-shot accuracy as the gap is shifted (Table 1's procedure) and group-wise
flagged-prediction rates as the gap is shifted (Table 2's)."""
from __future__ import annotations

import numpy as np

from gaplab.plotting import style


def plot_zeroshot(run, fig_dir: str, name: str = "zeroshot") -> list[str]:
  """Left: top-1 (and top-5) accuracy vs the signed gap (mean image' - mean
  class').d after the shift, the original gap (delta = 0) marked and the best
  delta dotted. Right: the same accuracies vs delta. (shift_features.ipynb's
  ``plot_metrics`` plots |gap|, negated past its minimum; the signed gap along
  d is that curve when the gap lies along d.)"""
  a, s = run.arrays, run.meta["summary"]
  deltas, signed = a["delta"], a["signed_gap"]
  i0 = int(np.flatnonzero(deltas == 0)[0])
  ib = int(np.flatnonzero(deltas == s["best_delta"])[0])
  cols = [("top1", "top-1", "C0")] + ([("top5", "top-5", "C1")] if "top5" in a else [])
  fig, axes = style.subplots(1, 2, figsize=(11.5, 4.2), sharey=True)
  for ax, x, xlabel in ((axes[0], signed, "signed gap (mean image′ − mean class′)·d̂"),
                        (axes[1], deltas, "shift δ (text + δ/2·d̂, image − δ/2·d̂)")):
    for key, label, color in cols:
      ax.plot(x, a[key], ".-", ms=4, color=color, label=label)
    ax.axvline(x[i0], color="k", ls="--", lw=1,
               label=f"original (δ = 0, gap {s['original_gap']:.3f})")
    ax.axvline(x[ib], color="C3", ls=":", lw=1.2,
               label=f"best δ = {s['best_delta']:g} ({s['gain']:+.3f} top-1)")
    ax.set(xlabel=xlabel)
    ax.grid(alpha=0.3)
  axes[0].set_ylabel("zero-shot accuracy")
  axes[1].legend(fontsize=7)
  cfg = run.meta["config"]
  fig.suptitle(f"Zero-shot accuracy as the gap is shifted ({run.meta['inputs']['n_images']} "
               f"images, {run.meta['inputs']['n_classes']} classes, direction: "
               f"{cfg['direction']})", fontsize=9)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)


def plot_fairness(run, fig_dir: str, name: str = "fairness") -> list[str]:
  """One panel per flagged set: the fraction of each group's images whose
  top-1 class is in the set vs delta (sorted), one line per group, delta = 0
  dashed; a last panel with the accuracy (when labels were given) and the gap."""
  a, coords = run.arrays, run.meta["coords"]
  order = np.argsort(a["delta"])
  d = a["delta"][order]
  groups, sets = coords["group"], coords["set"]
  colors = style.colors(len(groups))
  n = len(sets) + 1
  fig, axes = style.subplots(1, n, figsize=(4.2 * n, 3.9), squeeze=False)
  axes = axes[0]
  for s, sname in enumerate(sets):
    ax = axes[s]
    for g, gname in enumerate(groups):
      ax.plot(d, 100 * a["fraction"][order, g, s], ".-", ms=4, color=colors[g], label=gname)
    ax.axvline(0, color="k", ls="--", lw=0.8)
    ax.set(title=f"flagged set: {sname}", xlabel="shift δ", ylabel="% of the group's images")
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=7)
  ax = axes[-1]
  ax.plot(d, a["gap"][order], ".-", color="k", label="gap |mean image′ − mean class′|")
  if "accuracy" in a:
    ax.plot(d, a["accuracy"][order], ".-", color="C3", label="top-1 accuracy")
  ax.axvline(0, color="k", ls="--", lw=0.8)
  ax.set(title="gap and accuracy", xlabel="shift δ")
  ax.title.set_fontsize(9)
  ax.legend(fontsize=7)
  ax.grid(alpha=0.3)
  mode = run.meta["config"]["mode"]
  how = {"image_raw": "images − δ·g (raw gap vector)",
         "image_unit": "images − δ·ĝ (unit gap vector)"}.get(mode, "text + δ/2·ĝ, image − δ/2·ĝ")
  fig.suptitle(f"Flagged top-1 predictions per group as the gap is shifted ({how}; "
               f"{run.meta['inputs']['n_images']} images)", fontsize=9)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)


def _band(ax, x, v, color, label, ls="-"):
  """Seed mean of v (seed, K) with a ±1 sd band."""
  m = v.mean(axis=0)
  sd = v.std(axis=0, ddof=1) if v.shape[0] > 1 else np.zeros_like(m)
  ax.plot(x, m, ls, marker=".", ms=3, color=color, label=label)
  ax.fill_between(x, m - sd, m + sd, color=color, alpha=0.15, lw=0)


def plot_downstream_shift(run, fig_dir: str, name: str) -> list[str]:
  """The ``downstream_shift`` experiment: one line per trained setting (mismatch
  x tau, seed mean, ±1 sd band). Figure ``name``: zero-shot top-1 vs the signed
  gap after the shift and vs delta, delta = 0 marked. Figure ``name_fairness``:
  per flagged set, each group's rate of top-1 predictions in it vs delta (line
  style = group), and the accuracy."""
  cfg, a, coords = run.meta["config"], run.arrays, run.meta["coords"]
  settings = [(mi, ti, f"τ = {t:g}, mismatch {m:g}") for mi, m in enumerate(coords["mismatch"])
              for ti, t in enumerate(coords["tau"])]
  colors = style.colors(len(settings))
  zd = a["zs_delta"]
  i0 = int(np.flatnonzero(zd == 0)[0])
  fig, axes = style.subplots(1, 2, figsize=(11.5, 4.2), sharey=True)
  for c, (mi, ti, label) in zip(colors, settings):
    top1, signed = a["zs_top1"][mi, ti], a["zs_signed_gap"][mi, ti]
    _band(axes[0], signed.mean(0), top1, c, label)
    _band(axes[1], zd, top1, c, label)
    axes[0].plot(signed.mean(0)[i0], top1.mean(0)[i0], "o", color=c, ms=6, mfc="none")
  axes[1].axvline(0, color="k", ls="--", lw=0.8, label="δ = 0 (the trained gap)")
  axes[0].set(xlabel="signed gap (mean image′ − mean class′)·d̂ (circles: δ = 0)",
              ylabel="zero-shot top-1")
  axes[1].set(xlabel="shift δ (class texts + δ/2·d̂, images − δ/2·d̂)")
  axes[1].legend(fontsize=7)
  for ax in axes:
    ax.grid(alpha=0.3)
  fig.suptitle(f"Two-tower toy: zero-shot accuracy as the gap is shifted ({cfg['seeds']} "
               f"seeds, {cfg['n_test']} test items, {cfg['n_classes']} classes)",
               fontsize=9)
  fig.tight_layout()
  paths = style.save(fig, fig_dir, name)

  fd, sets, groups = a["fair_delta"], coords["set"], coords["group"]
  order = np.argsort(fd)
  styles = ["-", "--", ":", "-."]
  fig, axes = style.subplots(1, len(sets) + 1, figsize=(4.3 * (len(sets) + 1), 4),
                             squeeze=False)
  axes = axes[0]
  for s, sname in enumerate(sets):
    for c, (mi, ti, label) in zip(colors, settings):
      for g, gname in enumerate(groups):
        _band(axes[s], fd[order], 100 * a["fair_fraction"][mi, ti][:, order, g, s], c,
              f"{label}, {gname}", styles[g % len(styles)])
    axes[s].set(title=f"flagged set {sname!r}: classes {coords['flagged'][sname]}",
                xlabel="shift δ (images − δ·g, raw held-out gap g)",
                ylabel="% of the group's items predicted in the set")
    axes[s].title.set_fontsize(8)
  for c, (mi, ti, label) in zip(colors, settings):
    _band(axes[-1], fd[order], a["fair_accuracy"][mi, ti][:, order], c, label)
  axes[-1].set(title="top-1 accuracy", xlabel="shift δ")
  axes[-1].title.set_fontsize(8)
  for ax in axes:
    ax.axvline(0, color="k", lw=0.8)
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=6)
  axes[-1].legend(fontsize=6)
  fig.suptitle("Two-tower toy: group outcomes as the gap is shifted (line style = group)",
               fontsize=9)
  fig.tight_layout()
  return paths + style.save(fig, fig_dir, f"{name}_fairness")
