"""Figures of the mean-field vs simulation check (matplotlib only here)."""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gaplab.analysis import bands# noqa: E402
from gaplab.plotting.cone import _colors, _save  # noqa: E402


def plot_mean_field_check(run, s: dict, fig_dir: str) -> list[str]:
  """Left: RMS deviation vs width (log-log) with fitted slopes and the
  width^(-1/2), width^(-1) guides. Right: 1 - mean cos per layer at the largest
  width, seed band and prediction, per activation."""
  cfg, a = run.meta["config"], run.arrays
  widths, acts = np.asarray(cfg["widths"], float), cfg["activations"]
  colors = _colors(len(acts))
  fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
  for v, act in enumerate(acts):
    f = s["slopes"][v]
    ax1.plot(widths, s["rms"][:, v], "o", color=colors[v], ms=4,
             label=f"{act}: slope {f.slope:.2f}")
    ax1.plot(widths, f.predict(widths), "-", color=colors[v], lw=1)
  ref = np.nanmax(s["rms"][0])
  ax1.plot(widths, ref * (widths / widths[0]) ** -0.5, "k--", lw=1, label="∝ width^-1/2")
  ax1.plot(widths, ref * (widths / widths[0]) ** -1.0, "k:", lw=1, label="∝ width^-1")
  ax1.set(xscale="log", yscale="log", xlabel="width",
          ylabel="RMS of measured − predicted (1 − mean cos)",
          title="deviation from mean-field theory")
  ax1.grid(alpha=0.3, which="both")
  ax1.legend(fontsize=7)
  layers = a["layer"]
  for v, act in enumerate(acts):
    mean, lo, hi = bands.mean_band(a["measured_omc"][-1, v], axis=0)
    ax2.plot(layers, mean, ".-", color=colors[v], ms=3, lw=1, label=act)
    ax2.fill_between(layers, np.maximum(lo, 1e-300), hi, color=colors[v], alpha=0.2, lw=0)
    ax2.plot(layers, a["predicted_omc"][v], "--", color=colors[v], lw=1.2)
  ax2.axhline(cfg["floor"], color="gray", lw=1, ls=":", label="float64 floor")
  ax2.plot([], [], "k--", lw=1.2, label="mean-field prediction")
  ax2.set(yscale="log", xlabel="layer", ylabel="1 − mean cosine",
          title=f"width {int(widths[-1])}: {cfg['seeds']} seeds, 95% band of the mean")
  ax2.grid(alpha=0.3)
  ax2.legend(fontsize=7, loc="lower left")
  fig.suptitle(f"Mean-field theory vs random MLPs (float64, N={cfg['n_samples']} "
               f"shared inputs, σw={cfg['sigma_w']:g}, σb={cfg['sigma_b']:.3g})", fontsize=9)
  fig.tight_layout()
  return _save(fig, fig_dir, "mean_field_vs_simulation")
