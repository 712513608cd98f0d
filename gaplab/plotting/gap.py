"""Figures of the gap at initialisation (matplotlib only here)."""
from __future__ import annotations

import math

import numpy as np

from gaplab.plotting import style


def plot_gap_at_init(run, fig_dir: str, name: str) -> list[str]:
  """Gap vs depth, one panel per data setting: measured mean over seed pairs
  with a ±1 sd band (the spread of single encoder pairs), the mean-field
  prediction dashed, the sqrt(c_A + c_B) shortcut dotted. Largest width."""
  cfg, a = run.meta["config"], run.arrays
  layers, acts = a["layer"], cfg["activations"]
  colors = style.colors(len(acts))
  fig, axes = style.subplots(1, 2, figsize=(13, 4.4), sharey=True)
  for ax, tag, title in zip(axes, ("same", "diff"), ("same inputs to both encoders",
                                                     "different inputs (own per seed)")):
    for vi, act in enumerate(acts):
      g = a[f"{tag}_gap"][-1, :, vi]  # (pair, layer)
      m, sd = g.mean(0), g.std(0, ddof=1) if g.shape[0] > 1 else np.zeros(g.shape[1])
      ax.plot(layers, m, ".-", ms=3, color=colors[vi], label=act)
      ax.fill_between(layers, m - sd, m + sd, color=colors[vi], alpha=0.2, lw=0)
      ax.plot(layers, a[f"{tag}_pred_gap"][vi], "--", color=colors[vi], lw=1.2)
      c = a[f"{tag}_c"][-1, :, vi].mean(0)
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
               f"{cfg['widths'][-1]}, N={cfg['n_samples']}, {cfg['seeds']} seeds: "
               f"band ±1 sd over seed pairs)", fontsize=9)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)


def plot_init_cones(run, fig_dir: str, name: str) -> list[str]:
  """Per activation: 2-D PCA scatter of the pooled unit embeddings coloured by
  seed, and the pooled PCA spectrum with the K − 1 component marked."""
  cfg, a = run.meta["config"], run.arrays
  acts, k = run.meta["networks"], cfg["seeds"]
  fig, axes = style.subplots(len(acts), 2, figsize=(11, 3.6 * len(acts)), squeeze=False)
  colors = style.colors(k)
  for i, act in enumerate(acts):
    ax = axes[i][0]
    for s in range(k):
      p = a["scatter"][i, s]
      ax.scatter(p[:, 0], p[:, 1], s=4, color=colors[s], alpha=0.6, lw=0)
    ax.set(title=f"{act}: pooled PCA, one colour per seed ({k} seeds)",
           xlabel="PC 1", ylabel="PC 2")
    ax = axes[i][1]
    spec = a["spectrum"][i]
    ax.semilogy(np.arange(1, len(spec) + 1), spec, ".-", color="k")
    ax.axvline(k - 1, color="C3", ls="--", lw=1, label=f"K − 1 = {k - 1}")
    ax.set(title=f"{act}: explained variance (drop at K−1: {a['drop'][i]:.3g}×); "
           f"seed accuracy {a['accuracy'][i]:.2f}", xlabel="component",
           ylabel="variance ratio")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
  fig.suptitle("Different seeds, different cones (within-seed / between-seed cos): "
               + ", ".join(f"{act} {a['within'][i]:.3f} / {a['between'][i]:.3f}"
                           for i, act in enumerate(acts)), fontsize=9)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)


def plot_architectures(run, fig_dir: str, name: str) -> list[str]:
  """Top: cosine histograms of the final embeddings per encoder (pooled over
  seeds) with mean and min marked. Bottom: mean cosine per layer, ±1 sd band
  over seeds."""
  cfg, a = run.meta["config"], run.arrays
  encs = cfg["encoders"]
  edges = a["hist_edges"]
  centres = (edges[:-1] + edges[1:]) / 2
  fig, axes = style.subplots(2, len(encs), figsize=(4.6 * len(encs), 7.5), squeeze=False)
  for i, n in enumerate(encs):
    h = a[f"{n}_hist"].sum(0).astype(float)
    ax = axes[0][i]
    ax.bar(centres, h / h.sum(), width=edges[1] - edges[0], color="C0", alpha=0.7)
    mean = a[f"{n}_mean_cos"][:, -1].mean()
    ax.axvline(mean, color="C3", lw=1.5, label=f"mean {mean:.3f}")
    ax.axvline(a[f"{n}_min_cos"][:, -1].min(), color="k", ls=":", lw=1,
               label=f"min {a[f'{n}_min_cos'][:, -1].min():.3f}")
    ax.set(xlim=(-1, 1), title=f"{n}: final embedding", xlabel="cosine",
           ylabel="fraction of pairs")
    ax.legend(fontsize=7)
    ax = axes[1][i]
    layers = run.meta["encoders"][n]["layers"]
    m = a[f"{n}_mean_cos"]
    mu, sd = m.mean(0), (m.std(0, ddof=1) if m.shape[0] > 1 else np.zeros(m.shape[1]))
    xs = np.arange(len(layers))
    ax.plot(xs, mu, ".-", color="C0")
    ax.fill_between(xs, mu - sd, mu + sd, color="C0", alpha=0.2, lw=0)
    ax.set_xticks(xs, layers, rotation=60, fontsize=7)
    ax.set(ylim=(-0.05, 1.05), ylabel="mean cosine (distinct pairs)",
           title=f"{n}: per layer")
    ax.grid(alpha=0.3)
  fig.suptitle(f"Random-init encoders on noise inputs ({cfg['seeds']} seeds, "
               f"{cfg['n_inputs']} inputs, {cfg['sizes']} sizes)", fontsize=9)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)


def plot_landscape(run, fig_dir: str, name: str = "landscape") -> list[str]:
  """Fig 3(b-d) analogue: loss vs signed gap, one curve per logit scale, the
  original gap marked (each curve shifted to its own minimum)."""
  a = run.arrays
  scales = a["logit_scales"]
  colors = style.colors(len(scales))
  fig, ax = style.subplots(figsize=(6.4, 4.4))
  for j, s in enumerate(scales):
    loss = a["loss"][:, j]
    ax.plot(a["signed_gap"], loss - loss.min(), color=colors[j], lw=1.2,
            label=f"logit scale {s:g} (τ = {1 / s:.3g})")
    i = int(np.argmin(loss))
    ax.plot(a["signed_gap"][i], 0, "o", color=colors[j], ms=4)
  ax.axvline(float(a["original_gap"]), color="k", ls="--", lw=1, label="original gap")
  ax.axvline(0, color="gray", lw=0.8)
  ax.set(xlabel="signed gap (mean x′ − mean y′)·Δ̂ after the shift",
         ylabel="loss − its minimum (per τ)",
         title=f"Contrastive loss vs gap ({int(a['n_batches'])} batches); dots: minima")
  ax.legend(fontsize=7)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)
