"""Figures of the Theorem 2 check (theory_checks/theorem2_variance.py), drawn
from estimates recomputed out of a saved run. Matplotlib lives here only."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gaplab.plotting import _colors, _save  # noqa: E402


def plot(est: dict, labels, layers, out_dir: str, name: str, note: str) -> list[str]:
  """``est``: quantity -> (2, activation, layer) array of (point, SE).

  Figure ``name``: one panel per activation with the between-init share R of a
  pre- and a post-activation coordinate (error bars ±1 SE), β and its
  prediction. Figure ``name_margin``: R_pre − β per activation against the
  predicted σ_b²(1 − β)/(σ_w²q + σ_b²), on a log scale.
  """
  layers = np.asarray(layers)
  n = len(labels)
  cols = min(n, 3)
  rows = math.ceil(n / cols)
  fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows + 0.6),
                           squeeze=False, sharey=True)
  series = [("share_pre", "R, pre-activation", "C0", "o"),
            ("share_post", "R, post-activation", "C1", "s"),
            ("beta", "β (previous layer)", "k", "^")]
  for a, label in enumerate(labels):
    ax = axes.flat[a]
    for q, text, color, marker in series:
      ax.errorbar(layers, est[q][0, a], yerr=est[q][1, a], color=color, marker=marker,
                  ms=3, lw=1, capsize=2, label=text)
    ax.plot(layers, est["pred_pre"][0, a], color="C0", ls=":", lw=1.2,
            label="(σw²qβ + σb²)/(σw²q + σb²)")
    ax.plot(layers, est["cos_mean"][0, a], color="gray", ls="--", lw=0.8,
            label="c̄ (plain mean cosine)")
    ax.set_title(label)
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
  for ax in axes.flat[:n]:
    ax.set_xlabel("layer l")
  for ax in axes[:, 0]:
    ax.set_ylabel("Var_Θ E[h|Θ] / Var h")
  for ax in axes.flat[n:]:
    ax.axis("off")
  handles, texts = axes.flat[0].get_legend_handles_labels()
  bottom = 0.0
  if n < axes.size:  # the legend fills the first spare panel
    axes.flat[n].legend(handles, texts, fontsize=8, loc="center")
  else:
    fig.legend(handles, texts, fontsize=8, loc="lower center", ncol=3)
    bottom = 0.6 / fig.get_figheight()
  fig.suptitle(f"Theorem 2: variance share due to initialisation vs β\n{note}",
               fontsize=8)
  fig.tight_layout(rect=(0, bottom, 1, 0.95))
  paths = _save(fig, out_dir, name)

  fig, ax = plt.subplots(figsize=(6.4, 4.2))
  colors = _colors(n)
  for a, label in enumerate(labels):
    m, se = est["margin_pre"][:, a]
    ax.errorbar(layers, m, yerr=se, color=colors[a], marker="o", ms=3, lw=0,
                elinewidth=1, capsize=2, label=label)
    ax.plot(layers, est["pred_pre"][0, a] - est["beta"][0, a], color=colors[a],
            lw=1, ls=":")
  ax.set_yscale("symlog", linthresh=1e-4)
  ax.axhline(0, color="gray", lw=0.8)
  ax.set_xlabel("layer l")
  ax.set_ylabel("R_pre − β")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
  ax.set_title("Margin of the bound: points ±1 SE, dotted σb²(1 − β)/(σw²q + σb²)\n"
               + note, fontsize=8)
  fig.tight_layout()
  return paths + _save(fig, out_dir, f"{name}_margin")
