"""Figures of the gap at initialisation (matplotlib only here)."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gaplab.plotting import _colors, _save  # noqa: E402


def plot_gap_at_init(run, fig_dir: str, name: str) -> list[str]:
  """Gap vs depth, one panel per data setting: measured mean over seed pairs
  with a ±1 sd band (the spread of single encoder pairs), the mean-field
  prediction dashed, the sqrt(c_A + c_B) shortcut dotted. First width."""
  cfg, a = run.meta["config"], run.arrays
  layers, acts = a["layer"], cfg["activations"]
  colors = _colors(len(acts))
  fig, axes = plt.subplots(1, 2, figsize=(13, 4.4), sharey=True)
  for ax, tag, title in zip(axes, ("same", "diff"), ("same inputs to both encoders",
                                                     "different inputs (own per seed)")):
    for vi, act in enumerate(acts):
      g = a[f"{tag}_gap"][0, :, vi]  # (pair, layer)
      m, sd = g.mean(0), g.std(0, ddof=1) if g.shape[0] > 1 else np.zeros(g.shape[1])
      ax.plot(layers, m, ".-", ms=3, color=colors[vi], label=act)
      ax.fill_between(layers, m - sd, m + sd, color=colors[vi], alpha=0.2, lw=0)
      ax.plot(layers, a[f"{tag}_pred_gap"][vi], "--", color=colors[vi], lw=1.2)
      c = a[f"{tag}_c"][0, :, vi].mean(0)
      ax.plot(layers, np.sqrt(2 * c), ":", color=colors[vi], lw=1)
    ax.axhline(math.sqrt(2), color="gray", lw=0.8)
    ax.set(title=title, xlabel="layer")
    ax.grid(alpha=0.3)
  axes[0].plot([], [], "k--", label="mean field: √(c_A + c_B − 2E[φ]²/E[φ²])")
  axes[0].plot([], [], "k:", label="shortcut √(c_A + c_B)")
  axes[0].set_ylabel("gap |μ_A − μ_B|")
  handles, labels = axes[0].get_legend_handles_labels()
  axes[1].legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
  fig.suptitle(f"Gap between two independently initialised MLPs (width "
               f"{cfg['widths'][0]}, N={cfg['n_samples']}, {cfg['seeds']} seeds: "
               f"band ±1 sd over seed pairs)", fontsize=9)
  fig.tight_layout()
  return _save(fig, fig_dir, name)
