"""Figures of ``gaplab analyze`` (drawn from the saved run only).

``pca``: the paper's Fig 1 view, both modalities in their top two pooled
principal directions with a line joining each pair (``umap``: the same pairs
in a UMAP, when umap-learn was installed); ``cosines``: histograms of
cosines within each modality, across modalities (all i != j) and of matched
pairs; ``gap_profile``: the per-coordinate gap mu_A - mu_B, sorted by size.
With ``--compare`` and ``--intervention`` each figure gets a column per model.
"""
from __future__ import annotations

import json
import os

import numpy as np

from gaplab.plotting import style


def _models(run) -> list[tuple[str, str, dict]]:
  """(prefix, title, record) of each measured model in the run."""
  with open(os.path.join(run.path, "metrics.json")) as f:
    rec = json.load(f)
  out = [("main/", "this model", rec)]
  for spec, r in rec.get("interventions", {}).items():
    out.append((f"after/{spec}/", f"after {spec}", r))
  if "compare" in rec:
    out.append(("compare/", "compare", rec["compare"]))
  return out


def plot_pca(run, fig_dir: str, name: str = "pca", kind: str = "pca") -> list[str]:
  """``kind`` "pca" (the pooled principal plane) or "umap" (umap-learn's 2-D
  embedding of the same pairs, saved when it was installed)."""
  models = _models(run)
  fig, axes = style.subplots(1, len(models), figsize=(5.2 * len(models), 4.8), squeeze=False)
  for ax, (p, title, rec) in zip(axes[0], models):
    a, b = run.arrays[p + kind + "_a"], run.arrays[p + kind + "_b"]
    na, nb = rec["modalities"]
    segs = np.stack([a, b], axis=1)
    for s in segs:
      ax.plot(s[:, 0], s[:, 1], color="0.7", lw=0.3, zorder=1)
    ax.scatter(a[:, 0], a[:, 1], s=5, color="C0", label=na, zorder=2, lw=0)
    ax.scatter(b[:, 0], b[:, 1], s=5, color="C3", label=nb, zorder=2, lw=0)
    ax.set(title=f"{title}: gap {rec['l2m']:.3f} ({len(a)} pairs)")
    if kind == "pca":
      ex = run.arrays[p + "pca_explained"]
      ax.set(xlabel=f"PC 1 ({100 * ex[0]:.0f}% var)", ylabel=f"PC 2 ({100 * ex[1]:.0f}% var)")
    else:
      ax.set(xlabel="UMAP 1", ylabel="UMAP 2")
    ax.title.set_fontsize(9)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=7, markerscale=3)
  fig.suptitle(("2-D PCA of both modalities (pooled)" if kind == "pca" else
                "UMAP of both modalities") + ", lines join pairs", fontsize=9)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)


def plot_cosines(run, fig_dir: str, name: str = "cosines") -> list[str]:
  models = _models(run)
  fig, axes = style.subplots(1, len(models), figsize=(5.2 * len(models), 4), squeeze=False)
  for ax, (p, title, rec) in zip(axes[0], models):
    edges = run.arrays[p + "hist_edges"]
    centres = 0.5 * (edges[1:] + edges[:-1])
    na, nb = rec["modalities"]
    for k, label, c in (("within_a", f"within {na}", "C0"), ("within_b", f"within {nb}", "C3"),
                        ("across", "across (i ≠ j)", "C2"), ("matched", "matched pairs", "k")):
      h = run.arrays[p + "hist_" + k].astype(float)
      if h.sum() > 0:
        ax.plot(centres, h / h.sum() / (edges[1] - edges[0]), color=c, lw=1.2, label=label)
    ax.set(xlim=(-1, 1), xlabel="cosine", ylabel="density",
           title=f"{title} ({rec['histogram_rows']} rows)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)


def plot_gap_profile(run, fig_dir: str, name: str = "gap_profile") -> list[str]:
  models = _models(run)
  fig, axes = style.subplots(1, len(models), figsize=(5.2 * len(models), 4), squeeze=False)
  for ax, (p, title, rec) in zip(axes[0], models):
    g = run.arrays[p + "gap_profile"]
    order = np.argsort(-np.abs(g))
    share = np.cumsum(g[order] ** 2) / max(float(np.sum(g ** 2)), np.finfo(float).tiny)
    ax.bar(np.arange(len(g)), g[order], width=1.0, color="C0")
    ax.set(xlabel="coordinate, by |μ_A − μ_B|", ylabel="μ_A − μ_B",
           title=f"{title}: top 10 coords carry {100 * share[min(9, len(g) - 1)]:.0f}% of |Δμ|²")
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
  fig.tight_layout()
  return style.save(fig, fig_dir, name)


def plot_analysis(run, fig_dir: str) -> list[str]:
  """Every figure of an analyze run."""
  out = plot_pca(run, fig_dir) + plot_cosines(run, fig_dir) + plot_gap_profile(run, fig_dir)
  if all(p + "umap_a" in run.arrays for p, _, _ in _models(run)):
    out += plot_pca(run, fig_dir, "umap", kind="umap")
  return out
