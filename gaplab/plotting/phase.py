"""Figure of the phase-diagram experiment (simulations/phase_diagram.py), drawn
from its saved summary run. Matplotlib lives here only."""
from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from gaplab._errors import ConfigError
from gaplab.io import results
from gaplab.plotting import style
from gaplab.theory.phases import PAPER_CELL, fmt_b2 as _fmt_b2

# regime colours follow viridis' ends: closed cone (cos 1) yellow, open purple
REGIME_COLORS = ("#fde725", "#21918c", "#440154")
SHORT = {"χ₁ < e^(−1/L)": "", "χ₁ ≈ 1": "χ₁≈1", "q* = ∞": "q*=∞",
         "q* = 0": "q*=0", "q* not reached": "q*?", "c* < 1": ""}


def _num(x: float, sign: str = "") -> str:
  """Two decimals, without a negative zero."""
  return f"{0.0 if abs(x) < 0.005 else x:{sign}.2f}"


def _text(ax, grid, fmt, dark=None, size=5.5):
  """Writes ``fmt(w, b)`` in every cell; white on dark cells."""
  for w in range(grid.shape[0]):
    for b in range(grid.shape[1]):
      s = fmt(w, b)
      if s:
        ax.text(w, b, s, ha="center", va="center", fontsize=size,
                color="white" if dark is not None and dark[w, b] else "black")


def _chi1_line(ax, chi1):
  """The chi_1 = 1 contour, linearly interpolated between cell centres."""
  c = np.where(np.isfinite(chi1), chi1, np.nan).T  # (sigma_b2, sigma_w2)
  if min(c.shape) < 2 or not (np.nanmin(c) <= 1 <= np.nanmax(c)) \
      or np.nanmin(c) == np.nanmax(c):
    return
  ax.contour(np.arange(c.shape[1]), np.arange(c.shape[0]), c, levels=[1.0],
             colors="red", linestyles="--", linewidths=1.2)


def plot(run_dir: str, out_dir: str, name: str = "phase_diagram") -> list[str]:
  """One row per activation: measured and predicted mean cosine at layer L over
  (sigma_w^2, sigma_b^2), the regime of each cell (from its fixed point) and
  measured − predicted. Every panel carries the chi_1 = 1 line; a box marks
  the paper's setting (sigma_w^2 = 1, sigma_b^2 = 1/512) when on the grid."""
  run = results.load_run(run_dir)
  if run.meta.get("kind") != "phase_diagram":
    raise ConfigError("run", f"expected a phase_diagram run, got kind "
                      f"{run.meta.get('kind')!r} in {run_dir!r}")
  m, a = run.meta, run.arrays
  names, sw2, sb2 = (m["coords"][k] for k in ("activation", "sigma_w2", "sigma_b2"))
  depth, width = m["resolved"]["depth"], m["resolved"]["width"]
  n_seeds = len(m["coords"]["seed"])
  reasons = m["codes"]["reason"]
  meas, pred = a["measured_mean_cos"][..., 1], a["predicted_mean_cos"][..., 1]
  diff = meas - pred
  lo = min(0.0, float(np.nanmin([np.nanmin(meas), np.nanmin(pred)])))
  dmax = max(0.05, float(np.nanmax(np.abs(diff))))
  n_a, n_w, n_b = meas.shape
  cell_w = max(0.42, 2.9 / n_w)
  size = (4 * (n_w * cell_w + 0.7), n_a * (n_b * cell_w * 0.9 + 0.75) + 1.4)
  fig, axes = style.subplots(n_a, 4, figsize=size, squeeze=False, layout="constrained")
  paper = None
  if PAPER_CELL[0] in sw2 and any(math.isclose(b, PAPER_CELL[1]) for b in sb2):
    paper = (sw2.index(PAPER_CELL[0]),
             next(i for i, b in enumerate(sb2) if math.isclose(b, PAPER_CELL[1])))
  regime_cmap = ListedColormap(REGIME_COLORS)
  ims = {}
  for i, act in enumerate(names):
    row = axes[i]
    kw = dict(origin="lower", aspect="auto", interpolation="nearest")
    ims["cos"] = row[0].imshow(meas[i].T, cmap="viridis", vmin=lo, vmax=1, **kw)
    row[1].imshow(pred[i].T, cmap="viridis", vmin=lo, vmax=1, **kw)
    row[2].imshow(a["regime"][i].T, cmap=regime_cmap, vmin=-0.5, vmax=2.5, **kw)
    ims["diff"] = row[3].imshow(diff[i].T, cmap="RdBu_r", vmin=-dmax, vmax=dmax, **kw)
    dark = lambda v: v < lo + 0.45 * (1 - lo)
    _text(row[0], meas[i], lambda w, b: _num(meas[i, w, b]), dark(meas[i]))
    _text(row[1], pred[i], lambda w, b: _num(pred[i, w, b]), dark(pred[i]))

    def regime_text(w, b):
      r, why = a["regime"][i, w, b], reasons[a["reason"][i, w, b]]
      if r == 2:
        return "c*=" + _num(a['cos_star'][i, w, b])
      if r == 0:
        return f"ξ={a['xi_c'][i, w, b]:.2g}"
      return SHORT.get(why, why)
    _text(row[2], meas[i], regime_text, a["regime"][i] >= 1)
    _text(row[3], diff[i], lambda w, b: _num(diff[i, w, b], "+"),
          np.abs(diff[i]) > 0.6 * dmax)
    for j, ax in enumerate(row):
      _chi1_line(ax, a["chi1"][i])
      if paper is not None:
        ax.add_patch(Rectangle((paper[0] - 0.5, paper[1] - 0.5), 1, 1, fill=False,
                               ec="red", lw=1.4))
      ax.set_xticks(range(n_w), [f"{x:g}" for x in sw2], fontsize=7)
      ax.set_yticks(range(n_b), [_fmt_b2(x) for x in sb2] if j == 0 else [],
                    fontsize=7)
      if i == n_a - 1:
        ax.set_xlabel("σ_w²", fontsize=8)
    row[0].set_ylabel(f"{act}\nσ_b²", fontsize=9)
  titles = [f"measured, layer {depth}\n(width {width}, mean of {n_seeds} seeds)",
            f"predicted, layer {depth}\n(mean field, infinite width)",
            "regime (fixed point)\nchaotic: c* = limit cosine; ordered: ξ_c",
            "measured − predicted\n(layer {})".format(depth)]
  for ax, t in zip(axes[0], titles):
    ax.set_title(t, fontsize=8)
  fig.colorbar(ims["cos"], ax=axes[:, :2], location="bottom", shrink=0.6,
               aspect=40, pad=0.02).set_label(
                   f"mean cosine over distinct pairs at layer {depth}", fontsize=8)
  fig.colorbar(ims["diff"], ax=axes[:, 3], location="bottom", shrink=0.9,
               aspect=20, pad=0.02).set_label("difference", fontsize=8)
  handles = [Patch(color=c, label=r)
             for c, r in zip(REGIME_COLORS, m["codes"]["regime"])]
  handles.append(Line2D([], [], color="red", ls="--", label="χ₁ = 1"))
  if paper is not None:
    handles.append(Patch(fill=False, ec="red", label="paper (σ_w²=1, σ_b²=1/512)"))
  axes[-1, 2].legend(handles=handles, fontsize=6.5, ncol=2, loc="upper center",
                     bbox_to_anchor=(0.5, -0.32 if n_a > 1 else -0.45),
                     frameon=False)
  fig.suptitle(
      f"Where the cone closes: mean cosine over distinct pairs at layer {depth}, "
      f"N = {m['resolved']['n_samples']} {m['config']['inputs']} inputs, "
      f"{m['config']['inits'][0]} init (Var W = σ_w²/fan_in, Var b = σ_b²)\n"
      "ordered: closes exponentially within L; critical: χ₁ ≈ 1 or q* = 0 / ∞ "
      "(power law or frozen); chaotic: c* < 1, never closes. "
      "Dashed red: χ₁ = 1 (interpolated between cells)", fontsize=8)
  return style.save(fig, out_dir, name)
