"""Figures of the Theorem 1 check, drawn only from its saved run."""
from __future__ import annotations

import os

import numpy as np
from matplotlib.lines import Line2D

from gaplab.io import results
from gaplab.plotting import style

NAME = "theorem1_monotonicity"


def _bound(r):
  return 2 * r / (1 + r * r)


def plot_decay(run_dir: str, out_dir: str | None = None) -> list[str]:
  """P[violation] against d_out, log-log, one panel per r, one line per c:
  solid below the bound (where the theorem claims O(1/d_out)), dashed on or
  above it; binomial standard-error bars, a 1/d_out guide and the resolution."""
  run = results.load_run(run_dir)
  a, cfg = run.arrays, run.meta["config"]
  d, n = a["d_out"], cfg["draws"]
  p = a["violations"] / n
  se = np.sqrt(p * (1 - p) / n)
  nr = len(a["r"])
  fig, axes = style.subplots(1, nr, figsize=(3.6 * nr + 1.6, 3.8), squeeze=False,
                             sharey=True)
  cmap = style.cmap("viridis")
  cs = a["c"]
  colors = [cmap(0.9 * (k / max(len(cs) - 1, 1))) for k in range(len(cs))]
  floor = cfg["min_count"] / n
  for j, ax in enumerate(axes[0]):
    for k, c in enumerate(cs):
      below = c < a["bound"][j]
      m = p[:, j, k] > 0
      ax.errorbar(d[m], p[m, j, k], yerr=np.minimum(se[m, j, k], 0.999 * p[m, j, k]),
                  color=colors[k], ls="-" if below else "--", marker="o" if below else "x",
                  ms=3, lw=1.2 if below else 0.9, capsize=2)
    ax.plot(d, 0.5 * d[0] / d, color="k", lw=1, ls=":")
    ax.axhline(floor, color="gray", lw=0.8, ls="-.")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylim(0.3 / n, 1.5)
    ax.set_xlabel("d_out")
    ax.set_title(f"r = {a['r'][j]:g} (bound c < {a['bound'][j]:.3f})", fontsize=9)
    ax.grid(alpha=0.3, which="both", lw=0.4)
  axes[0][0].set_ylabel("P[cos(φ(Wu+b), φ(Wv+b)) ≤ cos(u, v)]")
  handles = [Line2D([], [], color=col, lw=2, label=f"c = {c:g}") for c, col in zip(cs, colors)]
  handles += [Line2D([], [], color="gray", ls="-", marker="o", ms=3, label="below the bound"),
              Line2D([], [], color="gray", ls="--", marker="x", ms=3,
                     label="on/above (no claim)"),
              Line2D([], [], color="k", ls=":", label="∝ 1/d_out"),
              Line2D([], [], color="gray", ls="-.", label=f"{cfg['min_count']} of {n} draws")]
  axes[0][-1].legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
  fig.suptitle(f"Theorem 1 (ReLU, W, b ~ N(0, 1/d_out), ‖v‖ = {cfg['v_norm']:g}): "
               f"violation probability, {n} draws per point; zero counts not drawn",
               fontsize=9)
  fig.tight_layout(rect=(0, 0, 1, 0.95))
  return style.save(fig, out_dir or os.path.join(run_dir, "figures"), f"{NAME}_decay")


def _edges(x):
  x = np.asarray(x, np.float64)
  if len(x) == 1:
    return np.array([x[0] - 0.5, x[0] + 0.5])
  mid = 0.5 * (x[1:] + x[:-1])
  return np.concatenate([[2 * x[0] - mid[0]], mid, [2 * x[-1] - mid[-1]]])


def _angle(c):
  return np.degrees(np.arccos(np.clip(c, -1, 1)))


def plot_map(run_dir: str, out_dir: str | None = None) -> list[str]:
  """P[violation] at the largest d_out over the (r, c) grid, with the
  theorem's bound c = 2r/(1+r²) and the infinite-width threshold c*(r). Axes:
  log r, and c placed by its angle arccos c (the grid is dense near c = 1)."""
  run = results.load_run(run_dir)
  a, cfg = run.arrays, run.meta["config"]
  n, d = cfg["draws"], a["d_out"][-1]
  p = a["violations"][-1] / n  # (r, c)
  fig, ax = style.subplots(figsize=(6.4, 4.8))
  r_edges = np.exp(_edges(np.log(a["r"])))
  y_edges = np.clip(_edges(_angle(a["c"])), 0, 180)
  mesh = ax.pcolormesh(r_edges, y_edges, p.T, cmap="magma_r", vmin=0, vmax=1,
                       shading="flat")
  for j, r in enumerate(a["r"]):
    for k, c in enumerate(a["c"]):
      ax.text(r, _angle(c), f"{p[j, k]:.2g}", ha="center", va="center", fontsize=7,
              color="white" if p[j, k] > 0.55 else "black")
  rr = np.geomspace(r_edges[0], r_edges[-1], 300)
  ax.plot(rr, _angle(_bound(rr)), color="C0", lw=2, label="bound c = 2r/(1+r²)")
  ax.plot(a["r_dense"], _angle(a["threshold_dense"]), color="C2", lw=1.5, ls="--",
          label=f"d_out → ∞ threshold c*(r), ‖v‖ = {cfg['v_norm']:g}")
  ax.set_xscale("log")
  ax.set_xticks(a["r"], [f"{r:g}" for r in a["r"]])
  ax.minorticks_off()
  ax.set_yticks(_angle(a["c"]), [f"{c:g}" for c in a["c"]])
  ax.set_ylim(y_edges.max(), y_edges.min())
  ax.set_xlim(r_edges[0], r_edges[-1])
  ax.set_xlabel("r = ‖u‖/‖v‖ (log scale)")
  ax.set_ylabel("c = cos(u, v) (spaced by the angle arccos c)")
  ax.legend(fontsize=7, loc="lower right", framealpha=0.9)
  fig.colorbar(mesh, ax=ax, label=f"P[violation] at d_out = {d} ({n} draws)")
  ax.set_title("Theorem 1: violation probability at the largest width\n"
               "(the theorem claims O(1/d_out) below the blue curve only)", fontsize=9)
  fig.tight_layout()
  return style.save(fig, out_dir or os.path.join(run_dir, "figures"), f"{NAME}_map")
