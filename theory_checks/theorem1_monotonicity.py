"""Theorem 1 of Liang et al. (2022): below c = 2r/(1+r²) a random ReLU layer raises the cosine of a pair, except with probability O(1/d_out).

Exact command (quick sizes, about 15 s on a 2-core CPU; full preset, d_out
8..4096 and 10000 draws, about a minute: drop --quick):

    python theory_checks/theorem1_monotonicity.py --quick --out runs/theorem1

Setting (the paper's Theorem 1, Sec 3; docs/science.md): φ = ReLU,
W_kl ~ N(0, 1/d_out), b_k ~ N(0, 1/d_out), ‖v‖ = v_norm (default 1: b does not scale with the input,
so the absolute norm matters), ‖u‖ = r‖v‖, cos(u, v) = c. A draw of (W, b)
violates the theorem when cos(φ(Wu+b), φ(Wv+b)) ≤ c; a zero feature vector
(cosine undefined) counts as a violation. One draw serves every (r, c) cell.

Expected result: the theorem holds on the whole grid, every claim passes.
Below the bound P[violation] is not a power law: it sits on a plateau (0.1 to
0.3 at d_out = 8, even rising with d_out near the bound), then falls faster than
any power as the cosine concentrates around its infinite-width limit (the
arc-cosine kernel). Tail slopes (last 3 resolved d_out) are -1.4 to -4.5 (full
preset); fits over every resolved d_out are shallower than -1 near the bound
(r = 1.5, c = 0.9: -0.49), and max d·P, the O(1/d_out) constant, reaches 8.5
there. Above the bound the theorem is silent: P → 1 where the limit cosine is
below c (r = 2, c = 0.9: 0.77 at d_out 4096) and → 0 elsewhere (r = 2,
c = 0.85): the infinite-width threshold c*(r) lies above the bound for every r
and ‖v‖ (0.894 vs 0.8 at r = 2), so the bound is sufficient, not sharp.
"""
from __future__ import annotations

import functools
import math
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from gaplab.harness import checks
from gaplab.analysis import fits
from gaplab.theory import meanfield
from gaplab.io import provenance
from gaplab.io import results
from gaplab.io import tables
from gaplab._errors import ConfigError

NAME = "theorem1_monotonicity"
TITLE = "Theorem 1: a random ReLU layer raises the cosine below the bound"

PRESET = dict(
    d_out=[2 ** k for k in range(3, 13)], r=[1.0, 1.5, 2.0, 3.0, 5.0],
    c=[-0.5, 0.0, 0.3, 0.5, 0.7, 0.75, 0.85, 0.9, 0.95, 0.99],
    v_norm=1.0, draws=10000, seed=0,
    # p is resolved at >= min_count violations: relative error <= 1/sqrt(10),
    # where the delta-method error of log p that the fit uses is still fair
    min_count=10,
    fit_points=3,     # the slope is fitted on the last fit_points resolved d_out
    n_se=3.0,         # pass: slope <= -1 + n_se * (its standard error)
    margin=0.0,       # assert on cells with c < bound - margin
    batch_elems=2 ** 22,  # draws per vmapped batch = batch_elems // (width * cells)
    # d_out < pad_to is drawn as the first d_out of pad_to rows (one compiled
    # program for all of them); with JAX's partitionable threefry these are
    # the very numbers of an unpadded draw (tests/theory_checks/test_theorem1_monotonicity.py checks it)
    pad_to=256,
)
SIZES = {
    "full": {},
    "quick": {"d_out": [2 ** k for k in range(3, 11)], "draws": 3000,
              "c": [0.0, 0.5, 0.7, 0.75, 0.85, 0.9, 0.95, 0.99]},
    "tiny": {"d_out": [8, 16, 32, 64, 128], "draws": 400, "r": [1.0, 2.0, 5.0],
             "c": [0.0, 0.5, 0.9]},
}


def _int(lo):
  return lambda x: isinstance(x, int) and not isinstance(x, bool) and x >= lo


def _num(ok):
  return lambda x: (isinstance(x, (int, float)) and not isinstance(x, bool)
                    and math.isfinite(x) and ok(x))


RULES = {  # key -> (test of each value, what is expected); lists must increase
    "d_out": (_int(1), "increasing integers >= 1"),
    "r": (_num(lambda x: x > 0), "increasing ratios ‖u‖/‖v‖ > 0"),
    "c": (_num(lambda x: -1 < x < 1), "increasing cosines in (-1, 1)"),
    "v_norm": (_num(lambda x: x > 0), "a norm > 0"), "draws": (_int(1), "an integer >= 1"),
    "seed": (_int(0), "an integer >= 0"), "min_count": (_int(1), "an integer >= 1"),
    "fit_points": (_int(2), "an integer >= 2"), "pad_to": (_int(1), "an integer >= 1"),
    "n_se": (_num(lambda x: x >= 0), "a number >= 0"),
    "margin": (_num(lambda x: x >= 0), "a number >= 0"),
    "batch_elems": (_int(1), "an integer >= 1"),
}


def _validate(cfg):
  for key, (ok, what) in RULES.items():
    v = cfg[key]
    many = isinstance(v, (list, tuple))
    if not all(ok(x) for x in (v if many else [v])) or (
        many and list(v) != sorted(set(v))):
      raise ConfigError(key, f"expected {what}, got {v!r}")


def bound(r):
  """The theorem's threshold (½(r + 1/r))⁻¹ = 2r/(1 + r²)."""
  r = np.asarray(r, np.float64)
  return 2 * r / (1 + r * r)


def limit_cos(r, c, s):
  """d_out → ∞: each row's (z_u, z_v) is Gaussian with covariance
  [[r²s²+1, rcs²+1], [rcs²+1, s²+1]] / d_out and the cosine is the
  arc-cosine-kernel ratio (the 1/d_out cancels)."""
  r, c = np.asarray(r, np.float64), np.asarray(c, np.float64)
  return meanfield.post_cosine("relu", r * r * s * s + 1, s * s + 1, r * c * s * s + 1)


def limit_threshold(r, s):
  """The smallest c in (-1, 1) with limit_cos <= c (1 where there is none)."""
  grid = np.linspace(-1, 1, 4001)[1:-1]
  bad = np.nonzero(limit_cos(r, grid, s) <= grid)[0]
  if not len(bad):
    return 1.0
  lo, hi = (grid[bad[0] - 1] if bad[0] else -1.0), grid[bad[0]]
  for _ in range(60):
    mid = 0.5 * (lo + hi)
    lo, hi = (lo, mid) if limit_cos(r, mid, s) <= mid else (mid, hi)
  return hi


def draw_weights(key, d_out, width=None):
  """W (width, 2) and b (width,), i.i.d. N(0, 1/d_out) in the first d_out rows
  and 0 in the rest (zero rows add nothing to a ReLU cosine), float64.

  (Wu, Wv) for W ~ N(0, 1/d_out) of any width d_in >= 2 has a law that depends
  only on the Gram matrix of (u, v), and W Q for an orthonormal Q (d_in, 2) is
  again i.i.d. N(0, 1/d_out): embedding u, v in 2 dimensions is exact, not an
  approximation, and d_in drops out.
  """
  width = d_out if width is None else width
  z = jax.random.normal(key, (width, 3), jnp.float64)
  z = jnp.where(jnp.arange(width)[:, None] < d_out, z, 0.0) / jnp.sqrt(d_out)
  return z[:, :2], z[:, 2]


def relu_cosines(w, b, us, v):
  """cos(φ(Wu+b), φ(Wv+b)) for every row u of ``us``; NaN if a vector is 0."""
  hu = jax.nn.relu(us @ w.T + b)  # (cells, d_out)
  hv = jax.nn.relu(w @ v + b)
  nu, nv = jnp.sqrt(jnp.sum(hu * hu, -1)), jnp.sqrt(hv @ hv)
  ok = (nu > 0) & (nv > 0)
  return jnp.where(ok, (hu @ hv) / jnp.where(ok, nu * nv, 1.0), jnp.nan)


@functools.partial(jax.jit, static_argnames=("width", "draws", "batch"))
def draw_cosines(key, us, v, d_out, *, width, draws, batch):
  """(draws, cells) cosines at width d_out <= width. Draw i uses
  fold_in(key, i), so the batching (which only bounds memory) does not change
  the numbers; d_out is traced, so one compiled program serves every d_out
  padded to the same width (compiling costs seconds on a CPU)."""
  def one(i):
    w, b = draw_weights(jax.random.fold_in(key, i), d_out, width)
    return relu_cosines(w, b, us, v)
  return jax.lax.map(one, jnp.arange(draws), batch_size=batch)


def run(out: str, size: str = "full", overwrite: bool = False, **overrides) -> str:
  cfg = checks.start(sys.modules[__name__], out, size, overwrite, overrides, _validate)
  start = time.time()
  s, n = float(cfg["v_norm"]), cfg["draws"]
  rr, cc = (np.asarray(cfg[k], np.float64) for k in ("r", "c"))
  R, C = (a.ravel() for a in np.meshgrid(rr, cc, indexing="ij"))
  us = jnp.asarray(np.stack([R * s * C, R * s * np.sqrt(1 - C * C)], 1))
  v = jnp.asarray([s, 0.0])
  shape = (len(cfg["d_out"]), len(rr), len(cc))
  viol, degen = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
  mean_cos = np.zeros(shape)
  root = jax.random.key(cfg["seed"])
  for i, d in enumerate(cfg["d_out"]):
    width = max(d, cfg["pad_to"])
    batch = max(1, min(n, cfg["batch_elems"] // (width * len(R))))
    cos = np.asarray(draw_cosines(jax.random.fold_in(root, d), us, v, d,
                                  width=width, draws=n, batch=batch))
    viol[i] = (~(cos > C)).sum(0).reshape(shape[1:])  # NaN counts as violating
    degen[i] = np.isnan(cos).sum(0).reshape(shape[1:])
    with np.errstate(invalid="ignore"):  # a column of NaNs gives NaN
      mean_cos[i] = (np.nansum(cos, 0) / (n - np.isnan(cos).sum(0))).reshape(shape[1:])
  norms = np.geomspace(1e-2, 1e2, 81)
  r_dense = np.geomspace(rr.min(), rr.max(), 60) if rr.max() > rr.min() else rr
  arrays = dict(
      d_out=np.asarray(cfg["d_out"]), r=rr, c=cc, violations=viol,
      degenerate=degen, mean_cos=mean_cos, bound=bound(rr),
      limit_cos=limit_cos(rr[:, None], cc[None, :], s),
      threshold=np.array([limit_threshold(x, s) for x in rr]),
      threshold_worst=np.array([min(limit_threshold(x, t) for t in norms) for x in rr]),
      r_dense=r_dense, threshold_dense=np.array([limit_threshold(x, s) for x in r_dense]))
  prov = provenance.collect(precision="highest", dtype="float64")
  prov["elapsed_s"] = time.time() - start
  meta = {"kind": "check", "check": NAME, "title": TITLE, "config": cfg,
          "provenance": prov,
          "axes": {"violations": ["d_out", "r", "c"], "degenerate": ["d_out", "r", "c"],
                   "mean_cos": ["d_out", "r", "c"], "limit_cos": ["r", "c"],
                   "bound": ["r"], "threshold": ["r"], "threshold_worst": ["r"],
                   "threshold_dense": ["r_dense"]},
          "coords": {"d_out": cfg["d_out"], "r": rr.tolist(), "c": cc.tolist(),
                     "norms_for_threshold_worst": norms.tolist()}}
  meta["claims"] = checks.save_claims(_claims(arrays, cfg))
  rows = [(d, r, c, arrays["bound"][j], bool(c < arrays["bound"][j]), n,
           viol[i, j, k], viol[i, j, k] / n,
           math.sqrt(viol[i, j, k] / n * (1 - viol[i, j, k] / n) / n),
           degen[i, j, k], mean_cos[i, j, k], arrays["limit_cos"][j, k])
          for i, d in enumerate(cfg["d_out"]) for j, r in enumerate(rr)
          for k, c in enumerate(cc)]
  header = ["d_out", "r", "c", "bound", "below_bound", "draws", "violations",
            "p_violation", "p_se", "degenerate", "mean_cos", "limit_cos"]
  return results.save_run(out, meta=meta, arrays=arrays, header=header, rows=rows,
                          overwrite=overwrite)


def cell_fit(d, counts, n, cfg, points=None):
  """Slope fit of one cell: None when fewer than 2 d_out are resolved (>=
  min_count violations), else (PowerLaw, d_out used), with binomial standard
  errors sqrt(p(1-p)/n). The claim is asymptotic (O(1/d_out) as d_out → ∞)
  while at small d_out the probability sits on a plateau and then falls
  exponentially (its log-log curve bends down), so a fit over every resolved
  d_out mixes the plateau in: the claim uses the last ``fit_points`` resolved
  d_out (``points``=None), the report shows both."""
  keep = np.nonzero((counts >= cfg["min_count"]) & (counts < n))[0]  # 0 < se
  keep = keep[-(points or cfg["fit_points"]):] if points != 0 else keep
  if len(keep) < 2:
    return None
  p = counts[keep] / n
  return fits.loglog_slope(d[keep], p, np.sqrt(p * (1 - p) / n)), d[keep]


def _claims(a, cfg):
  d, n, out = a["d_out"], cfg["draws"], []
  for j, r in enumerate(a["r"]):
    cells = [k for k, c in enumerate(a["c"]) if c < a["bound"][j] - cfg["margin"]]
    if not cells:
      continue
    worst, ok, unresolved = None, True, 0
    for k in cells:
      counts = a["violations"][:, j, k]
      f = cell_fit(d, counts, n, cfg)
      if f is None:  # below resolution: fine unless resolved at the last d_out
        unresolved += 1
        ok &= counts[-1] < cfg["min_count"]
        continue
      # the slope's sampling error is about its standard error: with n_se = 3
      # a cell whose true tail slope were exactly -1 fails with probability
      # 0.13% (one-sided normal tail); measured tail slopes are far steeper
      allowed = -1 + cfg["n_se"] * f[0].slope_se
      ok &= f[0].slope <= allowed
      if worst is None or f[0].slope - allowed > worst[0]:
        worst = (f[0].slope - allowed, a["c"][k], f[0], f[1], allowed)
    measured = (f"least steep: c={worst[1]:g}, slope {worst[2].slope:.2f} ± "
                f"{worst[2].slope_se:.2f} (d_out {worst[3][0]}–{worst[3][-1]})"
                if worst else "no cell resolved")
    measured += f"; {unresolved} of {len(cells)} cells below resolution"
    expected = (f"slope ≤ -1 + {cfg['n_se']:g} se" + (f" = {worst[4]:.2f}" if worst else "")
                + f"; unresolved: < {cfg['min_count']} of {n} at d_out {d[-1]}")
    margin = f" - {cfg['margin']:g}" if cfg["margin"] else ""
    out.append(checks.Claim(
        f"P[violation] = O(1/d_out) at r={r:g}, {len(cells)} cells c < "
        f"{a['bound'][j]:.3f}{margin}", measured, expected, bool(ok)))
  tight = a["bound"] < 1  # r = 1: bound 1, and the limit cosine exceeds every c < 1
  gap, gap_worst = (a[k] - a["bound"] for k in ("threshold", "threshold_worst"))
  out.append(checks.Claim(
      "d_out → ∞: the limit cosine exceeds c below the bound (threshold c* ≥ bound)",
      (f"min c* - bound over r ≠ 1: {gap[tight].min():.3f} at ‖v‖ = {cfg['v_norm']:g}, "
       f"{gap_worst[tight].min():.3f} over ‖v‖ in [0.01, 100]") if tight.any()
      else "only r = 1 (c* = 1 = bound)",
      "≥ 0", bool(np.all(gap_worst[tight] >= 0) and np.all(gap >= 0))))
  above = a["c"][None, :] >= a["bound"][:, None]
  if above.any():
    p_last = a["violations"][-1] / n
    to_one = above & (a["limit_cos"] < a["c"][None, :])
    rest = above & ~to_one
    out.append(checks.Claim(
        "above the bound (informational: the theorem claims nothing)",
        f"{int(above.sum())} cells at d_out {d[-1]}: p "
        + (f"{p_last[to_one].min():.2f}–{p_last[to_one].max():.2f} where the limit cosine < c "
           f"({int(to_one.sum())} cells)" if to_one.any() else "")
        + (f"; ≤ {p_last[rest].max():.3f} where it is > c ({int(rest.sum())})"
           if rest.any() else ""),
        "p → 1 where the limit cosine < c, else → 0", True))
  return out


def claims(run_dir: str) -> list:
  run = checks.load(run_dir, NAME)
  return _claims(run.arrays, run.meta["config"])


def figures(run_dir: str, fig_dir: str) -> list[str]:
  from gaplab.plotting import theorem1 as plot_theorem1
  checks.load(run_dir, NAME)
  return plot_theorem1.plot_decay(run_dir, fig_dir) + plot_theorem1.plot_map(run_dir, fig_dir)


def _slope(f):
  return f"{f[0].slope:.2f} ± {f[0].slope_se:.2f} ({f[1][0]}–{f[1][-1]})" if f else "–"


def report(run_dir: str) -> str:
  run = checks.load(run_dir, NAME)
  a, cfg, prov = run.arrays, run.meta["config"], run.meta["provenance"]
  d, n, m = a["d_out"], cfg["draws"], cfg["min_count"]
  lines = [f"## {TITLE}", "",
           f"ReLU, W, b ~ N(0, 1/d_out), ‖v‖ = {cfg['v_norm']:g}, ‖u‖ = r‖v‖; "
           f"d_out {d[0]}..{d[-1]}, {n} draws of (W, b) per d_out shared by all "
           f"(r, c) cells, seed {cfg['seed']}, float64, {prov['device']['platform']}, "
           f"{prov['elapsed_s']:.1f} s. Tail slope: weighted log-log fit of "
           f"P[violation] on the last {cfg['fit_points']} d_out with ≥ {m} "
           "violations (binomial errors), the asserted one; 'all' fits every "
           "resolved d_out. max d·p is the empirical O(1/d_out) constant.", ""]
  unresolved, rows = [], []
  for j, r in enumerate(a["r"]):
    for k, c in enumerate(a["c"]):
      counts = a["violations"][:, j, k]
      if c >= a["bound"][j] - cfg["margin"]:
        continue
      f = cell_fit(d, counts, n, cfg)
      if f is None:
        unresolved.append(f"({r:g}, {c:g}) {counts.max()}")
        continue
      dp = d * counts / n
      rows.append((f"{r:g}", f"{a['bound'][j]:.3f}", f"{c:g}", f"{counts[0] / n:.4f}",
                   f"{dp.max():.2f} ({d[np.argmax(dp)]})", f"{counts[-1]}/{n}", _slope(f),
                   _slope(cell_fit(d, counts, n, cfg, points=0))))
  lines.append(tables.table(["r", "bound", "c", f"p(d_out={d[0]})", "max d·p (d_out)",
                             f"p(d_out={d[-1]})", "tail slope (d_out)", "all-resolved slope"],
                            rows))
  if unresolved:
    lines += ["", f"Below the bound, fewer than 2 d_out with ≥ {m} violations (the "
              f"claim holds if the last d_out has < {m}); (r, c) and the largest "
              f"count of {n}: " + ", ".join(unresolved) + "."]
  lines += ["", f"Zero feature vectors (cosine undefined, counted as violations): at most "
            f"{a['degenerate'][0].max()} of {n} draws at d_out {d[0]}.", "",
            "Infinite width (arc-cosine kernel): p → 1 for c > c*(r), → 0 below. " + ", ".join(
                f"r={r:g}: bound {b:.3f}, c* {t:.3f} (worst ‖v‖: {w:.3f})"
                for r, b, t, w in zip(a["r"], a["bound"], a["threshold"],
                                      a["threshold_worst"])) + "."]
  above = [f"({r:g}, {c:g}) {a['violations'][-1, j, k] / n:.3f}"
           for j, r in enumerate(a["r"]) for k, c in enumerate(a["c"]) if c >= a["bound"][j]]
  if above:
    lines += ["", f"Above the bound (no claim), p at d_out {d[-1]} for (r, c): "
              + ", ".join(above) + "."]
  return "\n".join(lines) + "\n"


def main(argv=None) -> int:
  return checks.check_main(sys.modules[__name__], argv)


if __name__ == "__main__":
  sys.exit(main())
