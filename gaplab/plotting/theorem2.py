"""Figures of the Theorem 2 check (theory_checks/theorem2_variance.py), drawn
from estimates recomputed out of a saved run. Matplotlib lives here only."""
from __future__ import annotations

import math

import numpy as np

from gaplab.analysis import variance
from gaplab.plotting import style


def plot(run, est: dict, out_dir: str, name: str) -> list[str]:
  """``est``: group -> quantity -> (2, setting, layer) array of (point, SE).

  ``name``: the theorem's setting, R of a post-activation coordinate per layer
  with β, β̃, the proof's bound and the mean-field value; right, 1 − each on a
  log scale. ``name_general``: (R − β̃)/(1 − β̃) against ω for every setting
  and layer, with the proof's bound 1 − ωπ/(π − 1); R − β̃ against σ_b² per
  layer. ``name_fig2b`` and ``name_margin``: Fig 2b's setting, per activation.
  """
  return (_theorem(run, est["sphere"], out_dir, name)
          + _general(run, est["sphere"], out_dir, f"{name}_general")
          + _fig2b(run, est["fig2b"], out_dir, name))


def _theorem(run, s, out_dir, name):
  cfg = run.meta["config"]
  layers = np.arange(1, cfg["depth"] + 1)
  mf = run.arrays["sphere_mf_share_post"][0]
  fig, (ax1, ax2) = style.subplots(1, 2, figsize=(11, 4.2))
  series = [("share_post", "R, post-activation (±1 SE)", "C1", "s"),
            ("beta_paper", "β = 1 − tr Var (the paper's)", "k", "^"),
            ("beta", "β̃ = E[x·x']/E|x|²", "0.5", "v")]
  for q, text, color, marker in series:
    ax1.errorbar(layers, s[q][0, 0], yerr=s[q][1, 0], color=color, marker=marker, ms=3,
                 lw=1, capsize=2, label=text)
    ax2.plot(layers, 1 - s[q][0, 0], color=color, marker=marker, ms=3, lw=1, label=text)
  for ax, f in ((ax1, lambda v: v), (ax2, lambda v: 1 - v)):
    ax.plot(layers, f(s["bound"][0, 0]), color="C3", ls="--", lw=1.2,
            label="proof's bound 1 − (1 − β̃)ωπ/(π − 1)")
    ax.plot(layers, f(mf), color="C1", ls=":", lw=1.5, label="R, mean field (width → ∞)")
    ax.set_xlabel("layer l")
    ax.grid(alpha=0.3)
  ax1.set(ylabel="Var_Θ E[h|Θ] / Var h", ylim=(-0.05, 1.05),
          title="R >= β in the theorem's setting")
  ax2.set(yscale="log", ylabel="1 − value", title="near the cone (log scale)")
  ax1.legend(fontsize=7, loc="lower right")
  fig.suptitle(f"Theorem 2 in its setting: ReLU, width {cfg['width']}, ‖U‖ = 1 "
               f"(d = {cfg['input_dim']}), W and b ~ N(0, 1/{cfg['width']}), "
               f"{cfg['seeds']} seeds × {cfg['n_inputs']} inputs, float64", fontsize=9)
  fig.tight_layout()
  return style.save(fig, out_dir, name)


def _general(run, s, out_dir, name):
  cfg, sets = run.meta["config"], run.meta["coords"]["sphere_setting"]
  layers = np.arange(1, cfg["depth"] + 1)
  ok = 1 - s["beta"][0] >= 1e-9
  n_panels = 1 + len(cfg["sigma_w2s"])
  fig, axes = style.subplots(1, n_panels, figsize=(5.2 * n_panels, 4.4))
  ax = axes[0]
  norm = s["margin_post"] / np.where(ok, 1 - s["beta"][0], np.nan)  # (2, setting, layer)
  cmap = style.cmap("viridis")
  for j, l in enumerate(layers):
    color = cmap(j / max(len(layers) - 1, 1))
    ax.errorbar(s["omega"][0, :, j], norm[0, :, j], yerr=norm[1, :, j], fmt="o", ms=3,
                color=color, elinewidth=0.8, label=f"layer {l}" if j in (0, len(layers) - 1)
                or l in (2, 4, 8) else None)
  om = np.linspace(0, 1, 101)
  ax.plot(om, 1 - om * math.pi / (math.pi - 1), "C3--", lw=1.2,
          label="proof's bound 1 − ωπ/(π − 1)")
  ax.axhline(0, color="k", lw=0.8)
  ax.axvline(variance.OMEGA_MAX, color="C3", lw=0.8, ls=":",
             label=f"ω = (π − 1)/π = {variance.OMEGA_MAX:.3f}")
  ax.plot(s["omega"][0, 0], norm[0, 0], "k*", ms=8, mfc="none", label="theorem's setting")
  ax.set(xlabel="ω: weights' share of the pre-activation variance",
         ylabel="(R − β̃) / (1 − β̃)", xlim=(0, 1.02), ylim=(-1.1, 1.1),
         title="every setting and layer")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=6.5, loc="lower left")
  ratios = np.array([st["bias_ratio"] for st in sets])
  for col, sw2 in enumerate(cfg["sigma_w2s"], start=1):
    ax = axes[col]
    idx = [i for i, st in enumerate(sets) if st["sigma_w2"] == sw2 and st["bias_ratio"] > 0]
    idx.sort(key=lambda i: ratios[i])
    for j, l in enumerate(layers):
      if l not in (1, 2, 3, 4, 6, 8, 12, 16) and l != layers[-1]:
        continue
      color = cmap(j / max(len(layers) - 1, 1))
      v, e = s["margin_post"][0, idx, j], s["margin_post"][1, idx, j]
      ax.errorbar(ratios[idx], v, yerr=e, color=color, marker="o", ms=3, lw=1, capsize=2,
                  label=f"layer {l}")
    ax.axhline(0, color="k", lw=0.8)
    if sw2 == 1.0:
      ax.axvline(1.0, color="k", ls="--", lw=0.8, label="theorem: σb² = 1/width")
    ax.axvline(1.0 / cfg["width"], color="gray", ls=":", lw=0.8,
               label="Fig 2b's ‖U‖² = d, σb² = 1/d")
    ax.set(xscale="log", xlabel="σ_b² × width", ylabel="R − β̃",
           title=f"σ_w² = {sw2:g}: R − β̃ per layer")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="best", ncol=2)
  fig.suptitle(f"Theorem 2 beyond its setting: ReLU, width {cfg['width']}, ‖U‖ = 1, "
               f"W ~ N(0, σw²/width), b ~ N(0, σb²); ±1 jackknife SE over {cfg['seeds']} "
               "seeds", fontsize=9)
  fig.tight_layout()
  return style.save(fig, out_dir, name)


def _fig2b(run, f, out_dir, name):
  cfg, sets = run.meta["config"], run.meta["coords"]["fig2b_setting"]
  labels = [st["label"] for st in sets]
  layers = np.arange(1, cfg["fig2b_depth"] + 1)
  note = (f"width {cfg['fig2b_width']}, U ~ N(0, I_{cfg['fig2b_input_dim']}), "
          f"{cfg['fig2b_n_inputs']} inputs × {cfg['seeds']} seeds, σw "
          f"{cfg['fig2b_sigma_w']:g}, σb {cfg['fig2b_sigma_b']:.4g}; ±1 jackknife SE")
  n = len(labels)
  cols = min(n, 3)
  rows = math.ceil(n / cols)
  fig, axes = style.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows + 0.6),
                             squeeze=False, sharey=True)
  series = [("share_pre", "R, pre-activation", "C0", "o"),
            ("share_post", "R, post-activation", "C1", "s"),
            ("beta", "β̃ (previous layer)", "k", "^")]
  for a, label in enumerate(labels):
    ax = axes.flat[a]
    for q, text, color, marker in series:
      ax.errorbar(layers, f[q][0, a], yerr=f[q][1, a], color=color, marker=marker,
                  ms=3, lw=1, capsize=2, label=text)
    ax.plot(layers, f["pred_pre"][0, a], color="C0", ls=":", lw=1.2,
            label="identity (s_w²E[x·x'] + s_b²)/(s_w²E|x|² + s_b²)")
    ax.plot(layers, f["cos_mean"][0, a], color="gray", ls="--", lw=0.8,
            label="c̄ (plain mean cosine)")
    ax.set_title(label)
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    ax.set_xlabel("layer l")
  for ax in axes[:, 0]:
    ax.set_ylabel("Var_Θ E[h|Θ] / Var h")
  for ax in axes.flat[n:]:
    ax.axis("off")
  handles, texts = axes.flat[0].get_legend_handles_labels()
  bottom = 0.0
  if n < axes.size:
    axes.flat[n].legend(handles, texts, fontsize=8, loc="center")
  else:
    fig.legend(handles, texts, fontsize=8, loc="lower center", ncol=3)
    bottom = 0.6 / fig.get_figheight()
  fig.suptitle("Fig 2b's setting, outside Theorem 2's hypotheses (‖U‖² ≈ d, small "
               f"bias): variance shares per layer\n{note}", fontsize=8)
  fig.tight_layout(rect=(0, bottom, 1, 0.95))
  paths = style.save(fig, out_dir, f"{name}_fig2b")

  fig, ax = style.subplots(figsize=(6.4, 4.2))
  colors = style.colors(n)
  for a, label in enumerate(labels):
    m, se = f["margin_pre"][:, a]
    ax.errorbar(layers, m, yerr=se, color=colors[a], marker="o", ms=3, lw=0,
                elinewidth=1, capsize=2, label=label)
    ax.plot(layers, f["pred_pre"][0, a] - f["beta"][0, a], color=colors[a], lw=1, ls=":")
  ax.set_yscale("symlog", linthresh=1e-4)
  ax.axhline(0, color="gray", lw=0.8)
  ax.set_xlabel("layer l")
  ax.set_ylabel("R_pre − β̃")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
  ax.set_title("Fig 2b's setting, pre-activation: points ±1 SE, dotted the identity "
               "s_b²(1 − β̃)/(s_w²E|x|² + s_b²)\n" + note, fontsize=8)
  fig.tight_layout()
  return paths + style.save(fig, out_dir, f"{name}_margin")
