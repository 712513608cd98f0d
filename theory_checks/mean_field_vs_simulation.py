"""Mean-field theory vs finite-width random MLPs: the deviation shrinks like width^(-1/2).

Exact command (quick sizes, about a minute on a 2-core CPU; the full preset,
widths 64..4096, takes about 6 minutes):

    python theory_checks/mean_field_vs_simulation.py --quick --out runs/mf_check

Setting: the Fig 2b preset (7 activations, W ~ N(0, 1/fan_in), sigma_b =
1/sqrt(512), 25 layers, linear then activation) in float64 with highest matmul
precision, at widths 64..4096. One input array of N Gaussian vectors in 512
dimensions is drawn once (key ``input_seed``) and shared by every seed and
width, so seeds differ only in their weights and the prediction is the
mean-field map averaged over exactly these inputs' pairs (``gaplab.theory.predictions``).

What theory says about the deviation measured - predicted of one network's
mean cosine: each layer's kernel is an average over `width` units, so it
fluctuates around its infinite-width value by O(width^(-1/2)) (central limit
theorem) and its expectation is off by O(1/width) (the fluctuations enter the
next layer's nonlinear map at second order). The root-mean-square deviation
over seeds is therefore ~ width^(-1/2) once the fluctuation dominates, and
never falls slower; the O(1/width) bias can only steepen it toward -1 at small
widths. Asserted per activation: the log-log slope of the RMS deviation
(pooled over layers 1..L and seeds) against width lies in [-1, -1/2], widened
by the 99% t-quantile times the fit's standard error (residual scatter). And at
the largest width the prediction lies inside the seed band of every activation
and layer: a simultaneous 95% band (Student t, Bonferroni over all cells) for
the mean of 1 - cos over seeds, widened by the prediction's own pair-sampling
error. Where 1 - cos falls below ``floor`` the float64 forward pass cannot
resolve it (rounding of each coordinate, ~1e-16 sqrt(fan_in) relative, enters
squared); there both values must be below the floor.

Expected result (quick): slopes -0.45 to -0.6; every cell inside the band at
width 1024 except those below the floor (deep sigmoid and GELU layers).
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from gaplab.analysis import bands
from gaplab.harness import checks
from gaplab.analysis import fits
from gaplab.harness import experiment
from gaplab.io import provenance
from gaplab.io import results
from gaplab.io import tables

NAME = "mean_field_vs_simulation"
TITLE = "Mean-field theory vs finite-width networks: deviation against width"

PRESET = dict(
    activations=["linear", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "elu"],
    sigma_w=1.0, sigma_b=1 / math.sqrt(512), depth=25,
    widths=[64, 128, 256, 512, 1024, 2048, 4096], input_dim=512, n_samples=128,
    seeds=12, seed=0, input_seed=1234, pairs=512, order=32, floor=1e-26,
    level=0.95,
)
SIZES = {
    "full": {},
    "quick": {"widths": [64, 128, 256, 512, 1024], "n_samples": 64, "seeds": 16,
              "pairs": 256},
    "tiny": {"activations": ["relu", "tanh"], "widths": [16, 64, 256], "depth": 4,
             "input_dim": 16, "n_samples": 16, "seeds": 8, "pairs": 120},
}


def cone_config(cfg: dict, inputs: str):
  from gaplab.cone.config import ConeConfig
  return ConeConfig(activations=tuple(cfg["activations"]), inits=("gaussian",),
                    sigma_w=(cfg["sigma_w"],), sigma_b=(cfg["sigma_b"],),
                    depth=cfg["depth"], widths=tuple(cfg["widths"]), inputs=inputs,
                    seeds=cfg["seeds"], seed=cfg["seed"], pairwise=False,
                    dtype="float64", precision="highest")


def _validate(cfg):
  from gaplab._errors import ConfigError
  if len(cfg["widths"]) < 3:
    raise ConfigError("widths", f"expected at least 3 widths for a slope, got {cfg['widths']!r}")
  if cfg["seeds"] < 3:
    raise ConfigError("seeds", f"expected at least 3 seeds for a band, got {cfg['seeds']!r}")
  for key in ("n_samples", "input_dim"):
    if cfg[key] < 2:
      raise ConfigError(key, f"expected an integer >= 2, got {cfg[key]!r}")
  if not (cfg["floor"] >= 0 and 0 < cfg["level"] < 1):
    bad = "floor" if not cfg["floor"] >= 0 else "level"
    raise ConfigError(bad, f"expected floor >= 0 and 0 < level < 1, got {cfg[bad]!r}")


def run(out: str, size: str = "full", overwrite: bool = False, **overrides) -> str:
  from gaplab.cone import engine
  from gaplab.theory import predictions as theory
  cfg = checks.start(sys.modules[__name__], out, size, overwrite, overrides, _validate)
  t0 = time.perf_counter()
  with experiment.shared_inputs(cfg, "float64") as (x, path):
    cone_cfg = cone_config(cfg, path)
    cone_cfg.validate()  # bad activation names etc. fail before any work
    measured = engine.run(cone_cfg)
    # gaussian init: Var W = sigma_w^2 / fan_in at every width, so the
    # mean-field prediction does not depend on width (one is enough)
    pred = theory.predict(cone_cfg.replace(widths=(cone_cfg.widths[0],)),
                          n_pairs=cfg["pairs"], order=cfg["order"])
  arrays = {
      "width": np.asarray(cfg["widths"]), "layer": np.arange(cfg["depth"] + 1),
      "measured_omc": measured.arrays["one_minus_mean_cos"],  # (w, v, s, l)
      "measured_cos": measured.arrays["mean_cos"],
      "predicted_omc": pred.arrays["one_minus_mean_cos"][0],  # (v, l)
      "predicted_se": pred.arrays["mean_cos_se"][0],
      "quadrature_error": pred.arrays["quadrature_error"][0], "inputs": x,
  }
  fixed = [dict(pred.fixed_points[0][i].as_dict(), activation=a)
           for i, a in enumerate(cfg["activations"])]
  meta = {
      "kind": "check", "check": NAME, "title": TITLE, "config": cfg,
      "fixed_points": fixed,
      "pairs": {"used": int(len(pred.pairs["q1"])), "exhaustive": pred.pairs["exhaustive"]},
      "inputs": {"law": "N(0, I)", "key": f"jax.random.key({cfg['input_seed']})",
                 "shared_by": "every seed and width"},
      "axes": {"measured_omc": ["width", "activation", "seed", "layer"],
               "measured_cos": ["width", "activation", "seed", "layer"],
               "predicted_omc": ["activation", "layer"],
               "predicted_se": ["activation", "layer"],
               "quadrature_error": ["activation"], "inputs": ["sample", "dim"]},
      "coords": {"width": cfg["widths"], "activation": cfg["activations"],
                 "seed": list(range(cfg["seeds"])), "layer": list(range(cfg["depth"] + 1))},
      "provenance": dict(provenance.collect(precision="highest", dtype="float64"),
                         elapsed_s=time.perf_counter() - t0),
  }
  summary = analyse(arrays, cfg)
  meta["claims"] = checks.save_claims(_claims(summary, cfg))
  header = ["width", "activation", "layer", "measured_omc_mean", "predicted_omc",
            "rms_deviation", "mean_deviation", "seed_se"]
  rows = [(w, a, layer, summary["mean"][wi, vi, layer], arrays["predicted_omc"][vi, layer],
           summary["rms_cell"][wi, vi, layer], summary["bias"][wi, vi, layer],
           summary["se"][wi, vi, layer])
          for wi, w in enumerate(cfg["widths"]) for vi, a in enumerate(cfg["activations"])
          for layer in range(cfg["depth"] + 1)]
  return results.save_run(out, meta=meta, arrays=arrays, header=header, rows=rows,
                          overwrite=overwrite)


def analyse(a: dict, cfg: dict) -> dict:
  """Deviations, RMS per activation, slopes, and the band at the largest width."""
  m, p = a["measured_omc"], a["predicted_omc"]
  dev = m - p[None, :, None, :]  # (w, v, s, l); 1 - cos and cos deviate alike
  n_w, n_v, n_s, n_l = m.shape
  rms = np.sqrt(np.mean(dev[..., 1:] ** 2, axis=(2, 3)))  # (w, v)
  slopes = [fits.loglog_slope(a["width"], rms[:, v]) for v in range(n_v)]
  cells = n_v * (n_l - 1)
  # simultaneous band: Bonferroni over every (activation, layer >= 1) cell
  t = bands.t_quantile(1 - (1 - cfg["level"]) / (2 * cells), n_s - 1)
  mean = m.mean(axis=2)
  se = m.std(axis=2, ddof=1) / math.sqrt(n_s)
  half = t * np.sqrt(se[-1] ** 2 + a["predicted_se"] ** 2)
  below = (p < cfg["floor"]) & (mean[-1] < cfg["floor"])
  inside = (np.abs(mean[-1] - p) <= half) | below
  return {"rms": rms, "slopes": slopes, "mean": mean, "se": se, "t": t,
          "bias": dev.mean(axis=2), "rms_cell": np.sqrt(np.mean(dev ** 2, axis=2)),
          "inside": inside[:, 1:], "below": below[:, 1:], "half": half,
          "t_fit": bands.t_quantile(0.995, max(n_w - 2, 1))}


def _claims(s: dict, cfg: dict) -> list:
  out = []
  for v, act in enumerate(cfg["activations"]):
    f = s["slopes"][v]
    tol = s["t_fit"] * (f.slope_se if math.isfinite(f.slope_se) else 0.0)
    out.append(checks.Claim(
        f"{act}: RMS deviation ~ width^slope",
        f"slope {f.slope:.2f} ± {f.slope_se:.2f} (RMS {s['rms'][0, v]:.2g} → "
        f"{s['rms'][-1, v]:.2g})",
        f"in [-1, -1/2] ± {tol:.2f}", bool(-1 - tol <= f.slope <= -0.5 + tol)))
  inside, below = s["inside"], s["below"]
  out.append(checks.Claim(
      f"width {cfg['widths'][-1]}: prediction inside the seed band, every activation "
      "and layer",
      f"{int(inside.sum())} of {inside.size} cells ({int(below.sum())} below the "
      f"float64 floor {cfg['floor']:g})",
      f"all, simultaneous {cfg['level']:.0%} band (t = {s['t']:.2f})",
      bool(inside.all())))
  return out


def claims(run_dir: str) -> list:
  run = checks.load(run_dir, NAME)
  return _claims(analyse(run.arrays, run.meta["config"]), run.meta["config"])


def figures(run_dir: str, fig_dir: str) -> list[str]:
  from gaplab.plotting import checks as plot_checks
  run = checks.load(run_dir, NAME)
  s = analyse(run.arrays, run.meta["config"])
  return plot_checks.plot_mean_field_check(run, s, fig_dir)


def report(run_dir: str) -> str:
  run = checks.load(run_dir, NAME)
  cfg, a, prov = run.meta["config"], run.arrays, run.meta["provenance"]
  s = analyse(a, cfg)
  widths = cfg["widths"]
  lines = [f"## {TITLE}", "",
           f"{len(cfg['activations'])} activations, depth {cfg['depth']}, widths "
           f"{widths[0]}..{widths[-1]}, {cfg['seeds']} seeds, one input array of "
           f"{cfg['n_samples']} x {cfg['input_dim']}, float64, "
           f"{prov['device']['platform']}, {prov['elapsed_s']:.0f} s. Deviation = "
           "measured - predicted 1 - mean cos (distinct pairs), RMS over seeds "
           "and layers 1..L; theory: slope -1/2 (fluctuations), bias O(1/width).", ""]
  rows = []
  for v, act in enumerate(cfg["activations"]):
    fp = run.meta["fixed_points"][v]
    ratio = np.abs(s["mean"][-1, v, 1:] - a["predicted_omc"][v, 1:]) / np.maximum(
        s["half"][v, 1:], 1e-300)
    ratio = np.where(s["below"][v], 0, ratio)
    worst = int(np.argmax(ratio)) + 1
    f = s["slopes"][v]
    rows.append((act, f"{fp['phase']} ({fp['xi_c']:.3g})", *(f"{r:.2g}" for r in s["rms"][:, v]),
                 f"{f.slope:.2f} ± {f.slope_se:.2f}", f"layer {worst}: {ratio[worst - 1]:.2f}"))
  header = ["activation", "phase (ξc)", f"RMS dev. w={widths[0]}",
            *(f"w={w}" for w in widths[1:]), "slope",
            "worst layer at largest width: |mean − pred| / band"]
  lines.append(tables.table(header, rows))
  return "\n".join(lines) + "\n"


def main(argv=None) -> int:
  return checks.check_main(sys.modules[__name__], argv)


if __name__ == "__main__":
  sys.exit(main())
