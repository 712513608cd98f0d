"""Figures of the mismatched-pair sphere toys (matplotlib only here)."""
from __future__ import annotations

import numpy as np

from gaplab.plotting import style

SKETCH_DELTA = 30.0  # latitude of the texts in the sketch panel, degrees


def _sketch(ax, points):
  """Longitude/latitude sketch: images on the equator, texts at SKETCH_DELTA,
  a line from each image to its text (crossing lines: the swapped pair)."""
  lon = np.rad2deg(np.arctan2(points[:, 1], points[:, 0]))
  text_lon = lon[[1, 0, 2, 3, 4, 5]]
  for i in range(len(lon)):
    ax.plot([lon[i], text_lon[i]], [0, SKETCH_DELTA], color="C3" if i < 2 else "gray",
            lw=1.2 if i < 2 else 0.8)
  ax.plot(lon, np.zeros_like(lon), "o", color="C0", label="images (equator)")
  ax.plot(text_lon, np.full_like(lon, SKETCH_DELTA), "s", color="C1",
          label=f"texts (latitude Δθ = {SKETCH_DELTA:g}°)")
  for i, (a, b) in enumerate(zip(lon, text_lon)):
    ax.annotate(str(i), (a, 0), textcoords="offset points", xytext=(0, -12), ha="center",
                fontsize=7)
    ax.annotate(str(i), (b, SKETCH_DELTA), textcoords="offset points", xytext=(0, 6),
                ha="center", fontsize=7)
  ax.set(xlabel="longitude (°)", ylabel="latitude (°)", ylim=(-15, 50), xlim=(-35, 95),
         title="the toy, swapped: red lines join pairs 0 and 1")
  ax.legend(fontsize=7, loc="upper right")
  ax.grid(alpha=0.3)


def plot_toy(run, fig_dir: str, name: str) -> list[str]:
  """Fig 3e-g analogue: a sketch of the toy, then the loss vs Δθ per logit
  scale for matched and swapped texts, each curve rescaled to [0, 1] by its own
  minimum and range (so scales compare), minima marked at ±|argmin|."""
  a = run.arrays
  deltas, scales = a["delta_theta_deg"], a["toy_logit_scales"]
  xbar = np.linalg.norm(a["toy_points"].mean(0))
  colors = style.colors(len(scales))
  fig, axes = style.subplots(1, 3, figsize=(15, 4.4))
  _sketch(axes[0], a["toy_points"])
  for w, (ax, title) in enumerate(zip(axes[1:], ("matched texts", "texts 0 and 1 swapped"))):
    for j, s in enumerate(scales):
      loss = a["toy_loss"][w, :, j]
      span = loss.max() - loss.min()
      ax.plot(deltas, (loss - loss.min()) / span, color=colors[j], lw=1.2,
              label=f"scale {s:g} (τ = {1 / s:.3g}), range {span:.3g}")
      m = a["toy_argmin_deg"][w, j]
      ax.plot([-m, m], [0, 0], "o", color=colors[j], ms=5, mec="k", mew=0.5)
    t = a["toy_t_star"][w]
    ax.set(xlabel="Δθ, latitude of the texts (°)",
           ylabel="(loss − min) / (max − min), per scale",
           title=f"{title}: t* = {'∞' if not np.isfinite(t) else f'{t:.1f}'}",
           xticks=np.arange(-90, 91, 30), ylim=(-0.04, 1.04))
    ax.axvline(0, color="gray", lw=0.8)
    ax.grid(alpha=0.3)
  axes[2].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
  fig.suptitle("Sphere toy (Fig 3e–g): symmetric CLIP loss vs the texts' latitude Δθ; "
               "dots: minima (the loss is even in Δθ); legend: each curve's range in nats; "
               f"gap = √(sin²Δθ + (1 − cos Δθ)²|x̄|²), |x̄| = {xbar:.3f}", fontsize=9)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)


def plot_map(run, fig_dir: str, name: str) -> list[str]:
  """Generalisation: median over seeds of the optimal gap over (logit scale,
  p), the exact threshold t*(p) drawn on it, and loss(0) − min."""
  cfg, a = run.meta["config"], run.arrays
  scales, ps = a["logit_scales"], a["ps"]
  gap = np.median(a["gen_optimal_gap"], axis=0)  # (p, scale)
  excess = np.median(a["gen_excess"], axis=0)
  t = np.median(a["gen_t_star"], axis=0)
  fig, axes = style.subplots(1, 2, figsize=(13, 4.6))
  xs, ys = np.arange(len(scales)), np.arange(len(ps))
  log_excess = np.log10(np.maximum(excess, 1e-6))
  panels = ((gap, gap, "viridis", (0, max(1.0, gap.max())), "optimal gap |mean x − mean y|",
             "{:.2f}".format),
            (log_excess, excess, "magma", (-6, max(0.0, log_excess.max())),
             "log10(loss(θ = 0) − min); cells: nats",
             lambda v: f"{v:.2g}" if v == 0 or v >= 0.01 else f"{v:.0e}"))
  for ax, (z, text, cmap, (lo, hi), label, fmt) in zip(axes, panels):
    im = ax.imshow(z, cmap=cmap, origin="lower", aspect="auto", vmin=lo, vmax=hi)
    fig.colorbar(im, ax=ax, label=label)
    for k in ys:
      for j in xs:
        ax.text(j, k, fmt(text[k, j]), ha="center", va="center", fontsize=6,
                color="w" if z[k, j] < lo + 0.5 * (hi - lo) else "k")
    # threshold s = t*(p), in the fractional column index of the log grid
    col = np.interp(np.log(t), np.log(scales), xs, left=-0.5, right=len(xs) - 0.5)
    ax.plot(np.where(np.isfinite(t), col, np.nan), ys, "w--", lw=1.5,
            label="s = t*(p) (median)")
    ax.set_xticks(xs, [f"{s:.3g}" for s in scales], rotation=45, fontsize=7)
    ax.set_yticks(ys, [f"{p:g} ({m})" for p, m in zip(ps, a["counts"])], fontsize=7)
    ax.set(xlabel="logit scale s = 1/τ", ylabel="mismatch fraction p (pairs)")
    ax.legend(fontsize=7, loc="upper left")
  fig.suptitle(f"Mismatched pairs in R^{cfg['d']} (images uniform on the equator "
               f"S^{cfg['d'] - 2}): n = {cfg['n']}, median over "
               f"{cfg['seeds']} seeds; the gap opens for s > t*(p), never at p = 0",
               fontsize=9)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)


_MIRROR_TITLES = {"matched": "matched labels",
                  "swap": "pairs 3 and 8 swapped (true swap)",
                  "as_executed": "labels as executed [0,1,2,8,4,5,6,7,8]"}


def _gap_panel(ax, run):
  """Exact optimal gap vs logit scale for both toys, from their saved t*:
  first toy sqrt(1 - r^2 + (1 - r)^2 |xbar|^2), r = min(1, t*/s); mirror 2|z*|;
  dots: the gap measured at each grid minimum."""
  a, names = run.arrays, run.meta["coords"]["labels"]
  ms, ts = a["mirror_logit_scales"], a["toy_logit_scales"]
  s = np.geomspace(min(ms.min(), ts.min()), max(ms.max(), ts.max()), 400)
  xbar = np.linalg.norm(a["toy_points"].mean(0))
  r = np.minimum(1.0, a["toy_t_star"][1] / s)
  curves = [("first toy, texts 0↔1 swapped", a["toy_t_star"][1],
             np.sqrt(1 - r ** 2 + (1 - r) ** 2 * xbar ** 2), ts, a["toy_gap_at_min"][1], "C0")]
  for k, name, color in ((names.index("swap"), "mirror, true swap 3↔8", "C3"),
                         (names.index("as_executed"), "mirror, as executed", "C1")):
    t = a["mirror_t_star"][k]
    curves.append((name, t, 2 * np.sqrt(np.maximum(0, 1 - t / s)), ms,
                   a["mirror_gap_at_min"][k], color))
  for label, t, gap, grid, measured, color in curves:
    ax.plot(s, gap, color=color, lw=1.4, label=f"{label}: t* = {t:.1f}")
    ax.plot(grid, measured, "o", color=color, ms=4, mec="k", mew=0.4)
    ax.axvline(t, color=color, ls=":", lw=1)
  matched = np.concatenate([a["toy_gap_at_min"][0],
                            a["mirror_gap_at_min"][names.index("matched")]])
  ax.plot(np.concatenate([ts, ms]), matched, "x", color="gray", label="matched (both toys)")
  ax.set(xscale="log", xlabel="logit scale s = 1/τ", ylabel="optimal gap |mean x − mean y|",
         title="optimal gap: 0 for s ≤ t*, opens above (lines exact, dots grid)",
         ylim=(-0.05, 2.05))
  ax.legend(fontsize=7, loc="upper left")
  ax.grid(alpha=0.3)


def plot_mirror(run, fig_dir: str, name: str) -> list[str]:
  """The second toy (mismatched_simulation.ipynb): loss vs z per logit scale
  for each label setting, the exact optimum (+-|z*|, L(min(t*, s))) dotted, then
  the optimal gap vs logit scale for both toys."""
  a, names = run.arrays, run.meta["coords"]["labels"]
  zs, scales = a["mirror_z"], a["mirror_logit_scales"]
  colors = style.colors(len(scales))
  fig, axes = style.subplots(2, 2, figsize=(13, 9.5))
  for k, ax in enumerate(axes.flat[:len(names)]):
    for j, s in enumerate(scales):
      loss = a["mirror_loss"][k, :, j]
      ax.plot(zs, loss, color=colors[j], lw=1.2, label=f"τ = {1 / s:.3g} (s = {s:g})")
      zk = a["mirror_z_star"][k, j]
      ax.plot([-zk, zk], [a["mirror_loss_star"][k, j]] * 2, "o", color=colors[j], ms=5,
              mec="k", mew=0.5)
    t = a["mirror_t_star"][k]
    ax.set(xlabel="z (images at height +z, texts at −z; gap = 2|z|)", ylabel="loss",
           title=f"{_MIRROR_TITLES[names[k]]}: "
                 f"t* = {'∞' if not np.isfinite(t) else f'{t:.2f}'}",
           xlim=(-1.02, 1.02))
    ax.axvline(0, color="gray", lw=0.8)
    ax.grid(alpha=0.3)
  # one legend for all three panels, between the s = 1 and s = 5 curves
  axes.flat[0].legend(fontsize=7, loc="center", bbox_to_anchor=(0.5, 0.45))
  _gap_panel(axes.flat[3], run)
  fig.suptitle("Mirror toy (mismatched_simulation.ipynb): 9 pairs, images (√(1 − z²) u_i, z), "
               "texts (√(1 − z²) u_i, −z); loss(z, s) = L(s(1 − z²)); dots: exact optimum "
               "z = ±√max(0, 1 − t*/s), loss L(min(t*, s))", fontsize=9)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)


def plot_sphere_mismatch(run, fig_dir: str, name: str) -> list[str]:
  return (plot_toy(run, fig_dir, name) + plot_map(run, fig_dir, f"{name}_map")
          + plot_mirror(run, fig_dir, f"{name}_mirror"))
