"""``REPORT.md`` of ``gaplab analyze``: what a person reads first.

Plain Markdown from the run's record (``analyze.measure``'s keys): the
headline gap metrics with one line on what each means, per-modality geometry,
the gap's concentration and subspaces, each intervention's metrics next to the
original's, and ``--compare``'s model in a second column.
"""
from __future__ import annotations

import math

from gaplab.io import tables

# (label, getter, what it means) for the headline table
HEADLINE = (
    ("l2m  |μ_A − μ_B|", lambda r: r["l2m"], "centroid distance (Liang et al. 2022): 0 = no gap, at most 2"),
    ("l2i  mean |a_i − b_i|", lambda r: r["l2i"], "mean distance of paired rows (Schrodi et al. 2025)"),
    ("rmg", lambda r: r["rmg"], "relative modality gap (Schrodi et al. 2025; variant in config)"),
    ("paired cos", lambda r: r["paired_cos"]["mean"], "mean cosine of paired rows"),
    ("alignment", lambda r: r["alignment"], "Wang & Isola: mean |a_i − b_i|² (α = 2)"),
    ("separability", lambda r: r["separability"]["accuracy"],
     "held-out accuracy of a linear classifier A vs B (0.5 = inseparable)"),
    ("centroid cos", lambda r: r["l2m_decomposition"]["centroid_cos"],
     "cosine between the two centroids"),
    ("gap stability", lambda r: r["gap_stability"]["mean_cos"],
     "cos between gap directions of random halves (1 = stable)"),
)


def _f(x) -> str:
  if x is None:
    return "–"
  x = float(x)
  if math.isnan(x):
    return "nan"
  return f"{x:.4g}" if abs(x) < 1e4 else f"{x:.3e}"


def _pm(d: dict, key: str = "value") -> str:
  se = d.get("stderr", 0.0)
  return _f(d[key]) + (f" ± {_f(se)} (subset of {d.get('n_used')})" if se else "")


def _separability(s: dict) -> str:
  return (f"Separability: held-out accuracy {_f(s['accuracy'])} ± {_f(s['stderr'])} "
          f"(binomial) on {s['n_test']} rows of {s['n_test'] // 2} held-out pairs, "
          f"trained on {s['n_train']} rows ({s['n_pairs']} pairs used).")


def _headline(models: dict) -> str:
  names = list(models)
  rows = [[label] + [_f(get(models[n])) for n in names] + [what]
          for label, get, what in HEADLINE]
  return tables.table(["metric"] + names + ["meaning"], rows)


def _per_modality(r: dict) -> str:
  a, b = r["modalities"]
  rows = []
  for tag, name in (("a", a), ("b", b)):
    c, e, u = r["cone"][tag], r["effective_dimension"][tag], r["uniformity"][tag]
    rows.append([name, _f(c["mean_cos"]), _f(c["min_cos"]), _f(c["cone_radius_deg"]),
                 _f(e["participation_ratio"]), str(e["dim99"]), _pm(u)])
  return tables.table(["modality", "mean cos", "min cos", "cone radius (deg)",
                       "participation ratio", "dims for 99% var", "uniformity (t=2)"], rows)


def _concentration(r: dict) -> str:
  g = r["gap_concentration"]
  rows = [[str(k), _f(c), _f(p)] for k, c, p in zip(g["ks"], g["coordinates"], g["principal"])]
  return tables.table(["k", "share of |Δμ|² in top-k coordinates",
                       "in top-k within-modality principal directions"], rows)


def _interventions(r: dict) -> str:
  models = {"original": r}
  models.update({name: rec for name, rec in r.get("interventions", {}).items()})
  return _headline(models)


def _figures(meta: dict, r: dict) -> str:
  figs = ["`figures/pca.png` (2-D PCA of both modalities, lines join pairs: the paper's "
          "Fig 1 view)"]
  if r.get("umap"):
    figs.append("`figures/umap.png` (a UMAP of the same pairs)")
  figs += ["`figures/cosines.png` (cosine histograms within and across modalities)",
           "`figures/gap_profile.png` (per-coordinate gap)"]
  land = meta.get("landscape")
  if land == "drawn":
    figs.append("`landscape/figures/landscape.png` (contrastive loss as the embeddings are "
                "shifted along the gap; `gaplab landscape` on a random subset of pairs)")
  elif land:
    figs.append(f"no loss landscape: {land}")
  return "; ".join(figs) + "."


def render(meta: dict, r: dict) -> str:
  a, b = r["modalities"]
  src = meta["inputs"]
  prov = meta["provenance"]
  out = [f"# Modality gap report: {a} vs {b}", "",
         f"{r['n_pairs']} pairs, {r['dim']} dimensions, input dtype {src.get('dtype')}, "
         f"from {', '.join(map(str, src.get('paths', [])))}. Rows are L2-normalised once; "
         f"sums are float64. Subsets drawn with seed {meta['config']['seed']}.", "",
         "## Headline", ""]
  models = {"this model": r}
  if "compare" in r:
    models["compare"] = r["compare"]
  out += [_headline(models), "",
          f"l2m² = |μ_A|² + |μ_B|² − 2 μ_A·μ_B = {_f(r['l2m_decomposition']['mu_a_sq'])} + "
          f"{_f(r['l2m_decomposition']['mu_b_sq'])} − 2·{_f(r['l2m_decomposition']['cross'])}.",
          _separability(r["separability"]), "",
          "## Each modality", "", _per_modality(r), "",
          "## Where the gap lives", "", _concentration(r), "",
          "Principal angles between the modalities' top principal subspaces (degrees): "
          + ", ".join(f"{x:.1f}" for x in r["principal_angles_deg"]) + "."]
  if "gap_matrix" in r:
    g = r["gap_matrix"]
    out += ["", "## Gaps between every two modalities (l2m)", "",
            tables.table([""] + g["names"], [[n] + [_f(x) for x in row]
                                             for n, row in zip(g["names"], g["l2m"])])]
  if r.get("interventions"):
    out += ["", "## After each intervention", "", _interventions(r)]
  out += ["", "## Figures", "", _figures(meta, r), "",
          "## Provenance", "",
          f"gaplab {prov.get('gaplab')}, jax {prov.get('jax')}, numpy {prov.get('numpy')}, "
          f"device {prov.get('device', {}).get('kind')}, x64 {prov.get('x64')}, "
          f"{prov.get('elapsed_s', 0):.1f} s. All numbers are in `metrics.json`."]
  return "\n".join(out) + "\n"
