"""Figures of the mean-field vs simulation check (matplotlib only here)."""
from __future__ import annotations

import numpy as np

from gaplab.analysis import bands
from gaplab.plotting import style


def plot_mean_field_check(run, s: dict, fig_dir: str) -> list[str]:
  """Left: RMS deviation vs width (log-log) with fitted slopes and the
  width^(-1/2), width^(-1) guides. Right: 1 - mean cos per layer at the largest
  width, seed band and prediction, per activation."""
  cfg, a = run.meta["config"], run.arrays
  widths, acts = np.asarray(cfg["widths"], float), cfg["activations"]
  colors = style.colors(len(acts))
  fig, (ax1, ax2) = style.subplots(1, 2, figsize=(12, 4.6))
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
  # log scale first, then the float64 floor only where the data reach it (an
  # axhline drawn on a linear axis came back as +-1e-17 by rounding, so
  # whether the floor stretched the axis to 1e-26 depended on the last bit)
  ax2.set_yscale("log")
  low, high = ax2.get_ylim()
  if cfg["floor"] >= low:
    ax2.axhline(cfg["floor"], color="gray", lw=1, ls=":", label="float64 floor")
    ax2.set_ylim(low, high)
  ax2.plot([], [], "k--", lw=1.2, label="mean-field prediction")
  ax2.set(xlabel="layer", ylabel="1 − mean cosine",
          title=f"width {int(widths[-1])}: {cfg['seeds']} seeds, 95% band of the mean")
  ax2.grid(alpha=0.3)
  ax2.legend(fontsize=7, loc="lower left")
  fig.suptitle(f"Mean-field theory vs random MLPs (float64, N={cfg['n_samples']} "
               f"shared inputs, σw={cfg['sigma_w']:g}, σb={cfg['sigma_b']:.3g})", fontsize=9)
  fig.tight_layout()
  return style.save(fig, fig_dir, "mean_field_vs_simulation")
