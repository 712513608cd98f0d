"""The cone figure (Fig 2b analogue), drawn only from saved runs."""
from __future__ import annotations

import math
import os

import numpy as np

from gaplab._errors import ConfigError
from gaplab.analysis import bands
from gaplab.io import results
from gaplab.nets import activations
from gaplab.plotting import style

CONE_STATS = {
    "mean_cos": "mean cosine over distinct pairs (i != j)",
    "mean_cos_diag": "mean cosine over all N² pairs, diagonal included "
                     "(the paper's Fig 2b convention)",
    "one_minus_mean_cos": "1 − mean cosine over distinct pairs (log scale: how "
                          "fast the cone closes)",
}
LOG_STATS = ("one_minus_mean_cos",)


def _labels(variants):
  """Short legend labels: only the fields that vary across variants."""
  fields = [("activation", lambda v: activations.ActivationSpec(
      v["activation"], v["act_param"]).label),
            ("init", lambda v: v["init"]),
            ("sigma_w", lambda v: f"σw={v['sigma_w']:g}"),
            ("sigma_b", lambda v: f"σb={v['sigma_b']:.3g}")]
  varying = [f for name, f in fields if len({f(v) for v in variants}) > 1]
  varying = varying or [fields[0][1]]
  return [" ".join(f(v) for f in varying) for v in variants]


def _phase_label(fp: dict) -> str:
  xi = fp["xi_c"]
  return f"{fp['phase']}, ξc={'∞' if not math.isfinite(xi) else f'{xi:.3g}'}"


def plot_cone(run_dir: str, out_dir: str | None = None, stat: str = "mean_cos",
              name: str = "cone", theory_dir: str | None = None) -> list[str]:
  """The Fig 2b analogue: mean and 95% t-band over seeds, per layer, one line
  per variant, one panel per width, with the 1/π reference line. With
  ``theory_dir`` (a saved ``gaplab theory`` run for the same setting) the
  mean-field prediction is drawn dashed and each legend entry names the
  variant's phase and depth scale ξc."""
  if stat not in CONE_STATS:
    raise ConfigError("stat", f"expected one of {', '.join(CONE_STATS)}, got {stat!r}")
  run = results.load_run(run_dir)
  if run.meta.get("kind") != "cone":
    raise ConfigError("run", f"expected a cone run, got kind "
                      f"{run.meta.get('kind')!r} in {run_dir!r}")
  pred = None
  if theory_dir is not None:
    from gaplab.theory import predictions as theory
    pred = results.load_run(theory_dir, field="theory")
    theory.check_matches(run.meta, pred.meta, theory_dir)
  log = stat in LOG_STATS
  values = run.arrays[stat]  # (width, variant, seed, layer)
  widths, layers = run.arrays["width"], run.arrays["layer"]
  labels = _labels(run.meta["variants"])
  if pred is not None:
    labels = [f"{lab} ({_phase_label(v['fixed_point'][0])})"
              for lab, v in zip(labels, pred.meta["variants"])]
  n_seeds = values.shape[2]
  fig, axes = style.subplots(1, len(widths), figsize=(4.6 * len(widths) + 2.6, 4.4),
                             squeeze=False, sharey=True)
  colors = style.colors(len(labels))
  for ax, wi in zip(axes[0], range(len(widths))):
    for vi, label in enumerate(labels):
      mean, lo, hi = bands.mean_band(values[wi, vi], axis=0)
      line, = ax.plot(layers, mean, marker=".", ms=3, label=label, color=colors[vi])
      ax.fill_between(layers, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
      if pred is not None:
        ax.plot(layers, pred.arrays[stat][wi, vi], ls="--", lw=1.2, color=colors[vi])
    if pred is not None:
      ax.plot([], [], ls="--", color="k", lw=1.2, label="mean-field prediction")
    if log:
      ax.set_yscale("log")
    else:
      ax.axhline(1 / math.pi, color="gray", ls="--", lw=1, label="1/π")
      ax.set_ylim(min(-0.05, float(np.nanmin(values[wi])) - 0.05), 1.05)
    ax.set_xlabel("layer")
    ax.set_title(f"width {widths[wi]}")
    ax.grid(alpha=0.3)
  axes[0][0].set_ylabel("1 − mean cosine" if log else "mean cosine")
  axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
  cfg = run.meta["config"]
  band = f"band: 95% t-interval of the mean over {n_seeds} seeds" if n_seeds > 1 \
      else "one seed: no band"
  fig.suptitle(f"Cone effect in random networks\n{CONE_STATS[stat]}\n"
               f"N={run.meta['resolved']['n_samples']}, {cfg['inputs']} inputs, "
               f"block {cfg['block']}; {band}", fontsize=8)
  fig.tight_layout(rect=(0, 0, 1, 0.97))
  return style.save(fig, out_dir or os.path.join(run_dir, "figures"), name)
