"""Mismatched pairs make a gap the loss minimum: the paper's two sphere toys, generalised.

Exact command (full preset; about 15 s on a 2-core CPU, 3 s of it compiling; the
mirror toy adds under a second):

    python simulations/sphere_mismatch.py --out runs/sphere_mismatch

Quick / tiny (``--quick`` / ``--tiny``): a few seconds, nearly all of it JIT
compilation. Override any preset key, unknown keys rejected:
``--set seeds=32 ps=[0,0.1]``. Three parts: the paper toy, the
generalisation, the mirror toy.

Setting (``gaplab.contrastive.sphere``): images x_i on the equator of S^{D-1}, texts
y_i(theta) = cos(theta) x_sigma(i) + sin(theta) e_D, sigma a permutation of the
pairs. Paper toy: D = 3, six images at longitudes -20..80 by 20 degrees, theta
= delta_theta from -90 to 90 by 1 degree, sigma = identity or the swap of texts 0
and 1; logit scales 1, 5, 35, 50, 100. Generalisation: n = 64 images uniform on
the equator S^14 (D = 16), a fraction p in {0, .05, .1, .2, .3, .5} of pairs
(m = round(p n), chosen by the key) cycled among themselves (a derangement),
12 logit scales log-spaced 1..100, theta 0..90 by 0.25 degrees (loss and gap
are even in theta), 16 seeds (points and mismatched set drawn anew; the sets
are nested across p within a seed). Exact gap:
gap(theta) = sqrt(sin^2 theta + (1 - cos theta)^2 |mean x|^2). The loss is the
symmetric CLIP loss (both directions) of the whole batch.

Because x_i.y_j = cos(theta) x_i.x_sigma(j), the loss at scale s is L_C(s cos
theta), a convex function of the effective scale t = s cos theta with one
minimiser t*: the optimum is |theta*| = arccos(min(1, t*/s)), and theta = 0 is a
local maximum exactly when s > t* (the run computes t* by bisection as a
check on the grid minimum).

Mirror toy (``gaplab.contrastive.mirror_toy``; the paper's second mismatch toy, the authors'
``Figure_3_Contrastive_Learning/mismatched_simulation.ipynb``): nine unit
vectors u_i in the plane (every 45 degrees from 0, in the notebook's order, and
a ninth at 275.4 degrees, 5.4 from the fourth); images x_i = (a u_i, z), texts
y_i = (a u_i, -z), a = sqrt(1 - z^2), z from -1 to 1 by 0.005 (``mirror_z_step``;
the notebook's 100-point linspace misses z = 0); the gap is exactly 2|z|. Loss:
CE(S, l) + CE(S^T, l) halved, S = s X Y^T, the same labels l both ways, as the
notebook; logit scales 1, 5, 10, 50, 100, 500, 1000 (``mirror_logit_scales``).
Labels: matched (arange 9), a true swap of pairs 3 and 8, and [0,1,2,8,4,5,6,7,8],
what the notebook's ``labels[3], labels[8] = labels[8], labels[3]`` computes on a
torch tensor (0-d views: pytorch issue #17008). Here x_i.y_j = (1 - z^2) C_ij - z^2
and the -z^2 cancels in both softmaxes, so loss(z, s) = L(s(1 - z^2)), convex in
the effective scale with one minimiser t*, and |z*| = sqrt(max(0, 1 - t*/s)).

Expected result (full preset): without the swap the minimum is at
delta_theta = 0 for every scale (t* = inf: the loss falls as the scale grows).
With the swap t* = 21.2: at scales 1 and 5 the minimum stays at delta_theta = 0;
at 35, 50 and 100 delta_theta = 0 is a local maximum and the minima sit at
+-53, +-65, +-78 degrees (exact arccos(21.2/s) = 52.7, 64.9, 77.8), gap 0.87,
1.03, 1.18 there (|mean x| = 0.83 adds to sin delta_theta), beating
delta_theta = 0 by 0.077, 0.27 and 1.20 nats. The paper's claim holds as stated:
the repulsion needs both the mismatch and a low temperature (tau < 1/21.2).
Generalisation: p = 0 keeps the optimum at theta = 0 for every scale and seed;
any mismatch gives a finite t* (median over seeds 8.7, 7.5, 6.1, 5.2, 3.9 for
p = .05, .1, .2, .3, .5; spread across seeds about +-0.4), so the optimal gap
is 0 for s < t* and opens quickly above it (p = .05: 0 at s = 8.1, 0.71 at
12.3, 0.96 at 28.5, 1.00 at 100). More mismatch lowers the threshold, not the
ceiling. Grid optimum and exact arccos(t*/s) agree within 0.002 in gap.
Mirror toy: matched labels keep z = 0 at every scale (t* = inf); t* = 24.51 for
the true swap and 34.20 as executed, so z = 0 is the minimum for s = 1, 5, 10 and
a local maximum for s = 50, 100, 500, 1000, with exact |z*| = 0.714, 0.869,
0.975, 0.988 (true swap) and 0.562, 0.811, 0.965, 0.983 (as executed): gaps up
to 2|z*| = 1.98, beating z = 0 by 0.012, 0.040, 0.35, 0.82 nats (true swap;
0.0006, 0.0046, 0.11, 0.34 as executed). Grid argmin within 0.003 of |z*|. Both
toys agree: the gap opens exactly when s exceeds t* (21.2 first toy; 24.5 / 34.2
mirror), never without the mismatch; only the ceiling differs (both modalities
move in the mirror toy, gap -> 2; only the texts in the first, gap ->
sqrt(1 + |mean x|^2) = 1.30).
"""
from __future__ import annotations

import sys
import time

import numpy as np

from gaplab.harness import checks
from gaplab.contrastive import mirror_toy
from gaplab.io import provenance
from gaplab.io import results
from gaplab.io import tables
from gaplab.contrastive import sphere
from gaplab._errors import ConfigError
from gaplab.harness import experiment
from gaplab.harness.experiment import experiment_main

NAME = "sphere_mismatch"
TITLE = "Mismatched pairs on a sphere: when the gap is the loss minimum"
SWAPS = (False, True)

PRESET = dict(
    delta_step=1.0, toy_logit_scales=list(sphere.PAPER_LOGIT_SCALES),
    n=64, d=16, ps=[0.0, 0.05, 0.1, 0.2, 0.3, 0.5], scale_min=1.0, scale_max=100.0,
    n_scales=12, theta_step=0.25, seeds=16, seed=0, dtype="float64",
    mirror_logit_scales=list(mirror_toy.MIRROR_LOGIT_SCALES), mirror_z_step=0.005,
)
SIZES = {
    "full": {},
    "quick": {"theta_step": 1.0, "seeds": 4, "mirror_z_step": 0.01},
    "tiny": {"delta_step": 5.0, "n": 16, "d": 6, "ps": [0.0, 0.25, 0.5], "n_scales": 4,
             "theta_step": 2.0, "seeds": 2, "mirror_z_step": 0.05},
}


def _step_grid(name, step, lo):
  """lo..90 by ``step``, which must divide 90 (so 0 and +-90 are on it)."""
  k = 90.0 / step if step > 0 else 0.0
  if not (step > 0 and abs(k - round(k)) < 1e-9):
    raise ConfigError(name, f"expected a step > 0 dividing 90 degrees, got {step!r}")
  return np.linspace(lo, 90.0, int(round(k * (90.0 - lo) / 90.0)) + 1)


def _z_grid(step):
  """-1..1 by ``step``, which must divide 1 (so 0 and +-1 are on it)."""
  k = 1.0 / step if step > 0 else 0.0
  if not (step > 0 and abs(k - round(k)) < 1e-9):
    raise ConfigError("mirror_z_step", f"expected a step > 0 dividing 1, got {step!r}")
  k = int(round(k))
  return np.arange(-k, k + 1) / k  # i / k: 0 and +-1 exactly


def config(size: str = "full", **overrides) -> dict:
  cfg = checks.resolve(PRESET, SIZES, size, overrides)
  _step_grid("delta_step", cfg["delta_step"], -90.0)
  _step_grid("theta_step", cfg["theta_step"], 0.0)
  _z_grid(cfg["mirror_z_step"])
  sphere.check_grid("toy_logit_scales", cfg["toy_logit_scales"], positive=True)
  sphere.check_grid("mirror_logit_scales", cfg["mirror_logit_scales"], positive=True)
  for key in ("n", "d"):
    sphere.check_int(key, cfg[key], 2)
  sphere.check_int("seeds", cfg["seeds"], 1)
  sphere.check_int("n_scales", cfg["n_scales"], 1)
  sphere.mismatch_counts(cfg["ps"], cfg["n"])
  if not 0 < cfg["scale_min"] <= cfg["scale_max"] < float("inf"):
    raise ConfigError("scale_min", f"expected 0 < scale_min <= scale_max, got "
                      f"{cfg['scale_min']!r} and {cfg['scale_max']!r}")
  if cfg["dtype"] not in ("float32", "float64"):
    raise ConfigError("dtype", f"expected float32 or float64, got {cfg['dtype']!r}")
  return cfg


def _optima(loss, gap, thetas, loss_zero):
  """Grid minimum over the last axis: (|theta| there, gap there, loss at 0 -
  min). ``gap`` broadcasts against ``loss`` with the theta axis last."""
  i = np.argmin(loss, axis=-1)
  g = np.take_along_axis(np.broadcast_to(gap, loss.shape), i[..., None], -1)[..., 0]
  return np.abs(thetas[i]), g, loss_zero - loss.min(-1)


def run(out: str, size: str = "full", overwrite: bool = False, **overrides) -> str:
  cfg = config(size, **overrides)
  experiment.start(cfg, out, overwrite)
  import jax.numpy as jnp
  dtype = jnp.dtype(cfg["dtype"])
  t0 = time.perf_counter()
  deltas = _step_grid("delta_step", cfg["delta_step"], -90.0)
  toy_scales = np.asarray(cfg["toy_logit_scales"], np.float64)
  toy = [sphere.toy_curves(jnp.asarray(deltas, dtype), jnp.asarray(toy_scales, dtype), s)
         for s in SWAPS]
  toy_loss, toy_gap, toy_t = (np.stack([np.asarray(t[k], np.float64) for t in toy])
                              for k in range(3))
  half = deltas >= 0  # the loss is even in delta: minima come as +-pairs
  zero = toy_loss[:, deltas == 0, :][:, 0]
  toy_argmin, toy_gap_min, toy_excess = _optima(
      np.moveaxis(toy_loss[:, half], 1, -1), toy_gap[:, None, half], deltas[half], zero)
  scales = np.geomspace(cfg["scale_min"], cfg["scale_max"], cfg["n_scales"])
  thetas = _step_grid("theta_step", cfg["theta_step"], 0.0)
  g = sphere.generalised(cfg["seed"], n=cfg["n"], d=cfg["d"], ps=cfg["ps"],
                         logit_scales=scales, thetas_deg=thetas, seeds=cfg["seeds"],
                         dtype=dtype)
  argmin, opt_gap, excess = _optima(g.loss, g.gap[:, :, None], thetas, g.loss_at_zero)
  ratio = np.minimum(1.0, g.t_star[..., None] / scales)
  theta_star = np.rad2deg(np.arccos(ratio))
  gap_star = np.sqrt(1 - ratio ** 2 + (1 - ratio) ** 2 * g.xbar_norm[:, None, None] ** 2)
  zs = _z_grid(cfg["mirror_z_step"])
  mir_scales = np.asarray(cfg["mirror_logit_scales"], np.float64)
  mir = mirror_toy.mirror_curves(jnp.asarray(zs, dtype), jnp.asarray(mir_scales, dtype))
  mir_loss, mir_gap, mir_t, mir_best = (np.asarray(v, np.float64) for v in mir)
  up = zs >= 0  # the loss is even in z: minima come as +-pairs
  mir_argmin, mir_gap_min, mir_excess = _optima(
      np.moveaxis(mir_loss[:, up], 1, -1), mir_gap[up], zs[up], mir_loss[:, zs == 0][:, 0])
  mir_z_star = np.asarray(mirror_toy.optimal_shift(mir_t[:, None], mir_scales), np.float64)
  mir_labels = np.asarray([mirror_toy.LABELS[k] for k in mirror_toy.SETTINGS])
  arrays = dict(
      delta_theta_deg=deltas, toy_logit_scales=toy_scales, toy_loss=toy_loss, toy_gap=toy_gap,
      toy_t_star=toy_t, toy_argmin_deg=toy_argmin, toy_gap_at_min=toy_gap_min,
      toy_excess=toy_excess, toy_points=np.asarray(sphere.paper_images()),
      ps=g.ps, counts=g.counts, logit_scales=scales, thetas_deg=thetas, gen_loss=g.loss,
      gen_gap=g.gap, gen_gap_formula=g.gap_formula, gen_xbar_norm=g.xbar_norm,
      gen_n_moved=g.n_moved, gen_loss_at_zero=g.loss_at_zero, gen_t_star=g.t_star,
      gen_argmin_deg=argmin, gen_optimal_gap=opt_gap, gen_excess=excess,
      gen_theta_star_deg=theta_star, gen_gap_star=gap_star,
      mirror_z=zs, mirror_logit_scales=mir_scales, mirror_labels=mir_labels,
      mirror_circle=np.asarray(mirror_toy.CIRCLE), mirror_loss=mir_loss, mirror_gap=mir_gap,
      mirror_t_star=mir_t, mirror_argmin_z=mir_argmin, mirror_gap_at_min=mir_gap_min,
      mirror_excess=mir_excess, mirror_z_star=mir_z_star, mirror_gap_star=2 * mir_z_star,
      mirror_loss_star=mir_best)
  per = ["seed", "p", "scale"]
  axes = dict(toy_loss=["swap", "delta_theta", "toy_scale"], toy_gap=["swap", "delta_theta"],
              toy_t_star=["swap"], gen_loss=per + ["theta"], gen_gap=["seed", "p", "theta"],
              gen_gap_formula=["seed", "theta"], gen_xbar_norm=["seed"],
              gen_n_moved=["seed", "p"], gen_t_star=["seed", "p"])
  axes |= {k: ["swap", "toy_scale"] for k in ("toy_argmin_deg", "toy_gap_at_min", "toy_excess")}
  axes |= {f"gen_{k}": per for k in ("loss_at_zero", "argmin_deg", "optimal_gap", "excess",
                                     "theta_star_deg", "gap_star")}
  axes |= dict(mirror_loss=["labels", "z", "mirror_scale"], mirror_gap=["z"],
               mirror_t_star=["labels"], mirror_labels=["labels", "pair"],
               mirror_circle=["pair", "xy"])
  axes |= {f"mirror_{k}": ["labels", "mirror_scale"]
           for k in ("argmin_z", "gap_at_min", "excess", "z_star", "gap_star", "loss_star")}
  meta = {
      "kind": NAME, "config": cfg, "axes": axes,
      "coords": {"swap": list(SWAPS), "delta_theta": deltas, "toy_scale": toy_scales,
                 "seed": list(range(cfg["seeds"])), "p": cfg["ps"], "scale": scales,
                 "theta": thetas, "labels": list(mirror_toy.SETTINGS), "z": zs,
                 "mirror_scale": mir_scales, "pair": list(range(9)), "xy": ["x", "y"]},
      "notes": {"toy_argmin_deg": "|delta_theta| of the grid minimum (loss even: +- pair)",
                "toy_excess": "loss at delta_theta = 0 minus the minimum",
                "gen_t_star": "argmin of the convex loss over effective scale s cos theta "
                              "(bisection; inf = none)",
                "gen_theta_star_deg": "arccos(min(1, t*/s)), the exact optimum",
                "gen_optimal_gap": "measured gap at the grid minimum",
                "mirror_labels": "target of image i (row) and of text i (column), the "
                                 "same vector both ways, as the notebook",
                "mirror_t_star": "argmin of the convex loss over effective scale "
                                 "s (1 - z^2) (bisection; inf = none)",
                "mirror_argmin_z": "|z| of the grid minimum (loss even: +- pair)",
                "mirror_z_star": "sqrt(max(0, 1 - t*/s)), the exact optimum; gap 2|z*|",
                "mirror_loss_star": "L(min(t*, s)), the exact minimum over z"},
      "provenance": dict(provenance.collect(precision="highest", dtype=cfg["dtype"]),
                         elapsed_s=time.perf_counter() - t0),
  }
  rows = [("toy", sw, 2 / 6 if sw else 0.0, 2 if sw else 0, s, "", toy_argmin[w, j],
           toy_gap_min[w, j], toy_excess[w, j], toy_t[w], np.rad2deg(np.arccos(
               min(1.0, toy_t[w] / s))), "")
          for w, sw in enumerate(SWAPS) for j, s in enumerate(toy_scales)]
  rows += [("general", "", p, g.counts[k], s, i, argmin[i, k, j], opt_gap[i, k, j],
            excess[i, k, j], g.t_star[i, k], theta_star[i, k, j], gap_star[i, k, j])
           for i in range(cfg["seeds"]) for k, p in enumerate(g.ps)
           for j, s in enumerate(scales)]
  moved = np.sum(mir_labels != np.arange(mir_labels.shape[1]), axis=1)
  rows += [("mirror", "", moved[k] / 9, moved[k], s, "", "", mir_gap_min[k, j],
            mir_excess[k, j], mir_t[k], "", 2 * mir_z_star[k, j], name, mir_argmin[k, j],
            mir_z_star[k, j])
           for k, name in enumerate(mirror_toy.SETTINGS) for j, s in enumerate(mir_scales)]
  header = ["part", "swap", "p", "n_mismatched", "logit_scale", "seed", "argmin_theta_deg",
            "gap_at_min", "loss_at_0_minus_min", "t_star", "theta_star_deg", "gap_star",
            "labels", "argmin_abs_z", "abs_z_star"]
  rows = [r + ("",) * (len(header) - len(r)) for r in rows]  # the mirror columns
  return results.save_run(out, meta=meta, arrays=arrays, header=header, rows=rows,
                          overwrite=overwrite)


def figures(run_dir: str, fig_dir: str) -> list[str]:
  from gaplab.plotting import sphere as plot_sphere
  return plot_sphere.plot_sphere_mismatch(results.load_run(run_dir), fig_dir, NAME)


def _fmt_t(t) -> str:
  return "∞" if not np.isfinite(t) else f"{t:.2f}"


def report(run_dir: str) -> str:
  run = results.load_run(run_dir)
  cfg, a = run.meta["config"], run.arrays
  lines = [f"## {TITLE}", "",
           f"Paper toy (6 pairs on S², Δθ step {cfg['delta_step']:g}°): |Δθ| of the loss "
           "minimum (the loss is even in Δθ), the gap there, loss(Δθ = 0) − min, and the "
           "exact optimum arccos(min(1, t*/s)).", ""]
  rows = []
  for w, sw in enumerate(SWAPS):
    for j, s in enumerate(a["toy_logit_scales"]):
      exact = np.rad2deg(np.arccos(min(1.0, a["toy_t_star"][w] / s)))
      rows.append((f"{'swapped' if sw else 'matched'} (t* = {_fmt_t(a['toy_t_star'][w])})",
                   f"{s:g}", f"{a['toy_argmin_deg'][w, j]:g}°", f"{a['toy_gap_at_min'][w, j]:.3f}",
                   f"{a['toy_excess'][w, j]:.4g}", f"{exact:.1f}°"))
  lines.append(tables.table(["texts", "logit scale", "argmin \\|Δθ\\|", "gap at min",
                             "loss(0) − min", "exact"], rows))
  t = a["gen_t_star"]
  lines += ["", f"Generalisation: n = {cfg['n']} pairs in D = {cfg['d']}, {cfg['seeds']} seeds, "
            f"θ step {cfg['theta_step']:g}°, {run.meta['provenance']['elapsed_s']:.1f} s in all. "
            "Median over seeds of the optimal gap (measured at the grid minimum); "
            "the effective-scale minimiser t* (median [min, max]): the gap opens for "
            "scales above t*.", ""]
  med = np.median(a["gen_optimal_gap"], axis=0)
  rows = [(f"{p:g} ({a['counts'][k]})",
           f"{_fmt_t(np.median(t[:, k]))} [{_fmt_t(t[:, k].min())}, {_fmt_t(t[:, k].max())}]",
           *(f"{v:.3f}" for v in med[k])) for k, p in enumerate(a["ps"])]
  lines.append(tables.table(["p (m)", "t*", *(f"s={s:.3g}" for s in a["logit_scales"])], rows))
  dev = np.max(np.abs(a["gen_optimal_gap"] - a["gen_gap_star"]))
  lines += ["", f"Largest |grid optimal gap − exact gap(arccos(t*/s))| over all cells: "
            f"{dev:.2g}; largest excess loss(0) − min: {a['gen_excess'].max():.3g} nats."]
  return "\n".join(lines + _mirror_report(run)) + "\n"


_MIRROR_NAMES = {"matched": "matched", "swap": "true swap 3↔8", "as_executed": "as executed"}


def _mirror_report(run) -> list[str]:
  """The mirror toy's table and its comparison with the first toy."""
  cfg, a, names = run.meta["config"], run.arrays, run.meta["coords"]["labels"]
  t, scales = a["mirror_t_star"], a["mirror_logit_scales"]
  lines = ["", "Mirror toy (the paper's second mismatch toy, `mismatched_simulation.ipynb`): "
           "9 pairs on S², images (a u_i, z) and texts (a u_i, −z), a = √(1 − z²), z step "
           f"{cfg['mirror_z_step']:g} (0 and ±1 on the grid); the same labels for both "
           "directions, as the notebook: matched, a true swap of pairs 3 and 8, and "
           "[0,1,2,8,4,5,6,7,8] (as executed: what the notebook's tuple swap on a torch "
           "tensor computes). |z| of the loss minimum (the loss is even in z), the gap "
           "there (= 2|z|), loss(z = 0) − min, and the exact |z*| = √max(0, 1 − t*/s).", "",
           tables.table(["labels (t*)", "logit scale", "argmin \\|z\\|", "gap at min",
                         "loss(0) − min", "exact \\|z*\\|"],
                        [(f"{_MIRROR_NAMES[name]} (t* = {_fmt_t(t[k])})", f"{s:g}",
                          f"{a['mirror_argmin_z'][k, j]:.3g}",
                          f"{a['mirror_gap_at_min'][k, j]:.3f}",
                          f"{a['mirror_excess'][k, j]:.4g}", f"{a['mirror_z_star'][k, j]:.3f}")
                         for k, name in enumerate(names) for j, s in enumerate(scales)])]
  # the comparison: does the grid minimum have a gap exactly where s > t*?
  toy_open = a["toy_argmin_deg"] > 0
  toy_pred = a["toy_logit_scales"][None] > a["toy_t_star"][:, None]
  mir_open = a["mirror_argmin_z"] > 0
  mir_pred = scales[None] > t[:, None]
  i_sw, i_ex, i_m = (names.index(k) for k in ("swap", "as_executed", "matched"))
  closed = not toy_open[0].any() and not mir_open[i_m].any()  # SWAPS[0]: matched
  xbar = np.linalg.norm(a["toy_points"].mean(0))
  dev = np.max(np.abs(a["mirror_argmin_z"] - a["mirror_z_star"]))
  lines += ["", f"Comparison with the first toy: both open the gap exactly when the logit "
            f"scale exceeds their t* (first toy {_fmt_t(a['toy_t_star'][1])} with texts 0 "
            f"and 1 swapped; mirror toy {_fmt_t(t[i_sw])} with the true swap, "
            f"{_fmt_t(t[i_ex])} as executed; ∞ matched in both). On the grids the minimum "
            f"has a gap in exactly the cells with s > t*: {np.sum(toy_open == toy_pred)}/"
            f"{toy_open.size} (texts, scale) cells of the first toy and "
            f"{np.sum(mir_open == mir_pred)}/{mir_open.size} (labels, scale) cells of the "
            "mirror toy; "
            + ("never without the mismatch (matched: the minimum is at zero gap at every "
               "scale in both toys)." if closed else
               "but a matched setting has a gap at its minimum somewhere: see the tables.")
            + " The mechanism is the same (the gap only lowers the effective scale, "
            "s cos Δθ or s(1 − z²)); the ceilings differ: the mirror's optimal gap 2|z*| "
            f"tends to 2 (both modalities move; {a['mirror_gap_star'][i_sw, -1]:.3f} at "
            f"s = {scales[-1]:g} with the true swap), the first toy's to "
            f"√(1 + |x̄|²) = {np.sqrt(1 + xbar ** 2):.2f} (only the texts move; "
            f"{a['toy_gap_at_min'][1, -1]:.2f} at s = {a['toy_logit_scales'][-1]:g}). "
            f"Largest |grid argmin |z| − exact |z*||: {dev:.2g} (z step "
            f"{cfg['mirror_z_step']:g})."]
  return lines


def main(argv=None) -> int:
  return experiment_main(sys.modules[__name__], argv)


if __name__ == "__main__":
  sys.exit(main())
