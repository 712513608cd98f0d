"""Fig 2b of Liang et al. (2022): the cone effect in random MLPs, by depth.

Exact command (full preset; about a minute on a 2-core CPU):

    gaplab reproduce --only cone_depth --out figures --overwrite
    # or, this file alone:  python simulations/cone_depth.py --out runs/fig2b

Tiny mode (seconds): ``python simulations/cone_depth.py --tiny --out /tmp/cone``.
Override any preset key, unknown keys rejected:
``python simulations/cone_depth.py --out runs/x --set seeds=20 depth=40``.

Preset: N = 1024 inputs ~ N(0, I_512); 25 layers of width 512, linear then
activation; W ~ N(0, 1/fan_in), b ~ N(0, 1/512) (sigma_w = 1, sigma_b = 1/sqrt(512)),
10 seeds; activations linear, relu, leaky_relu (0.01), sigmoid, tanh, gelu
(exact), elu.

Expected result (mean over 10 seeds; the paper's statistic, all N^2 pairs with
the diagonal, which reads 1/N at layer 0): ReLU 0.32, 0.50, 0.74, 0.95, 0.998 at
layers 1, 2, 5, 10, 15 (paper, one run: 0.319, 0.494, 0.754, 0.948, 0.998,
printed by its notebook); sigmoid 0.85 at layer 1 and 0.99 at layer 2 (paper:
0.99 in its text, 0.85 read off its figure); tanh about 0.57 at layer 25 (the
published figure reads about 0.5 by eye, the notebook's stored plot about
0.57); linear about 0.05 at layer 25 (figure, by eye). Sources:
``gaplab.paper``. Every nonlinearity narrows the cone
with depth; the linear network barely does. The mean-field prediction (saved in
RUN/theory, dashed in the figures) lies on every measured curve (ReLU 0.320,
0.497, 0.748, 0.950 at layers 1, 2, 5, 10), down to the float32 floor of
1 - cos (about 1e-10) that sigmoid and GELU reach.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from gaplab.analysis import bands
from gaplab.harness import checks
from gaplab.cone import presets
from gaplab.cone import store as cone
from gaplab.plotting import cone as plotting
from gaplab.io import results
from gaplab.io import tables
from gaplab.theory import predictions as theory
from gaplab import paper as gpaper
from gaplab.cone.config import ConeConfig
from gaplab.harness.experiment import experiment_main

NAME = "cone_depth"
TITLE = "Fig 2b: the cone effect in random MLPs, by depth"

PRESET, SIZES = presets.FIG2B, presets.FIG2B_SIZES

# (activation, layer) -> the key of the paper's value in gaplab.paper (one run,
# diagonal included, N = 1024; each with its source)
PAPER = {("relu", 1): "fig2b_relu_1", ("relu", 2): "fig2b_relu_2",
         ("relu", 5): "fig2b_relu_5", ("relu", 10): "fig2b_relu_10",
         ("relu", 15): "fig2b_relu_15", ("sigmoid", 1): "fig2b_sigmoid_1",
         ("sigmoid", 2): "fig2b_sigmoid_2", ("tanh", 25): "fig2b_tanh_25",
         ("linear", 25): "fig2b_linear_25"}


def config(size: str = "full", **overrides) -> ConeConfig:
  return presets.fig2b(size, **overrides)


THEORY_PAIRS = 256  # input pairs the mean-field prediction averages over


def run(out: str, size: str = "full", overwrite: bool = False, **overrides) -> str:
  """The sweep, then its mean-field prediction in RUN/theory."""
  cfg = config(size, **overrides)
  if cfg.dtype == "float64":
    checks.enable_x64()
  path = cone.run_and_save(cfg, out, overwrite)
  theory.run_and_save(cfg, os.path.join(path, "theory"), n_pairs=THEORY_PAIRS)
  return path


def _theory(run_dir):
  path = os.path.join(run_dir, "theory")
  return path if os.path.isdir(path) else None


def figures(run_dir: str, fig_dir: str) -> list[str]:
  th = _theory(run_dir)
  return (plotting.plot_cone(run_dir, fig_dir, stat="mean_cos_diag", name=NAME,
                             theory_dir=th)
          + plotting.plot_cone(run_dir, fig_dir, stat="mean_cos",
                               name=f"{NAME}_distinct", theory_dir=th)
          + plotting.plot_cone(run_dir, fig_dir, stat="one_minus_mean_cos",
                               name=f"{NAME}_one_minus", theory_dir=th))


def report(run_dir: str) -> str:
  run = results.load_run(run_dir)
  names = [v["activation"] for v in run.meta["variants"]]
  depth = run.meta["config"]["depth"]
  n_seeds = len(run.meta["coords"]["seed"])
  prov = run.meta["provenance"]
  lines = [
      f"## {TITLE}", "",
      f"N = {run.meta['resolved']['n_samples']}, width "
      f"{run.meta['config']['widths'][0]}, {n_seeds} seeds, "
      f"{prov['dtype']}, matmul precision {prov['matmul_precision']}, "
      f"{prov['device']['platform']} ({prov['device']['kind']}), "
      f"{prov['elapsed_s']:.1f} s. Mean over seeds with 95% t-interval. "
      "'diag' is the paper's statistic (all N² pairs, diagonal included); "
      "'distinct' excludes the diagonal. 'seed sd' is the spread of single "
      "runs: the paper's numbers come from one run. The paper column names each "
      "number's source (footnotes below the table).", "",
  ]
  th = _theory(run_dir)
  pred = results.load_run(th).arrays["mean_cos_diag"] if th else None
  cited, rows = [], []
  for (act, layer), key in PAPER.items():
    if act not in names or layer > depth:
      continue
    cited.append(key)
    vi = names.index(act)
    cells = []
    for stat in ("mean_cos_diag", "mean_cos"):
      m, lo, hi = bands.mean_band(run.arrays[stat][0, vi, :, layer])
      cells.append(f"{m:.3f} [{lo:.3f}, {hi:.3f}]")
    sd = np.std(run.arrays["mean_cos_diag"][0, vi, :, layer], ddof=1) \
        if n_seeds > 1 else float("nan")
    mf = f"{pred[0, vi, layer]:.3f}" if pred is not None else "–"
    rows.append((act, layer, gpaper.cite(key), cells[0], f"{sd:.3f}", cells[1], mf))
  lines += [tables.table(["activation", "layer", "paper (one run; source)", "gaplab (diag)",
                          "seed sd", "gaplab (distinct)", "mean-field (diag)"], rows),
            ""] + gpaper.footnotes(cited)
  final = run.arrays["mean_cos"][0, :, :, depth].mean(axis=1)
  gap = run.arrays["one_minus_mean_cos"][0, :, :, depth].mean(axis=1)
  lines += ["", f"Layer {depth}, distinct pairs, mean cos (1 − mean cos, "
            "computed stably): " + ", ".join(
                f"{a} {c:.3f} ({g:.2g})" for a, c, g in zip(names, final, gap))
            + (". In float32, 1 − cos below about 1e-13 is at the resolution "
               "of the forward pass itself." if prov["dtype"] == "float32" else "")]
  if th:
    tmeta = results.load_run(th).meta
    lines += ["", f"Mean-field prediction (dashed in the figures; infinite width, "
              f"averaged over {tmeta['resolved']['pairs']} pairs of the sweep's "
              "inputs, `gaplab theory`): phase and depth scale ξc per activation: "
              + ", ".join(f"{v['activation']} {v['fixed_point'][0]['phase']} "
                          f"(ξc {v['fixed_point'][0]['xi_c']:.3g})"
                          for v in tmeta["variants"]) + "."]
  return "\n".join(lines) + "\n"


def main(argv=None) -> int:
  return experiment_main(sys.modules[__name__], argv)


if __name__ == "__main__":
  sys.exit(main())
