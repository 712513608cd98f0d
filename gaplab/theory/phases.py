"""Phases of the cone over a (sigma_w^2, sigma_b^2) grid, from the mean-field
fixed point: the grid's config, each cell's regime, and the summary's arrays.

A cell's *phase* is ``propagation.fixed_point``'s (the slope at c = 1 of the
length-normalised correlation map); its *regime* is what the cone does at depth
L (``classify``): *chaotic* when the cosine fixed point c* < 1 - ``COS_TOL``
(the cone never closes), *ordered* when 0 < q* < inf and chi_1 < e^(-1/L) (it
closes exponentially within L), *critical* otherwise (chi_1 near 1, or a length
map that explodes or vanishes: no exponential closing).

Used by simulations/phase_diagram.py (the experiment) and
gaplab/plotting/phase.py (its figure).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import numpy as np

from gaplab.configs import Config, check_int, check_keys
from gaplab.io import tables
from gaplab.nets import activations
from gaplab._errors import ConfigError
from gaplab.cone.config import ConeConfig
from gaplab.theory import meanfield, propagation

# keys of a phase config that are not ConeConfig fields, and the ConeConfig
# fields they replace (the grid is given as variances)
EXTRA = ("sigma_w2", "sigma_b2", "n_pairs", "order")
DERIVED = {"sigma_w": "sigma_w2", "sigma_b": "sigma_b2"}
PAPER_CELL = (1.0, 1 / 512)  # Fig 2b's (sigma_w^2, sigma_b^2)

PHASES = propagation.PHASES  # fixed_point's phase: ordered, critical, chaotic
REGIMES = ("ordered", "critical", "chaotic")  # what the cone does (see docstring)
REASONS = ("χ₁ < e^(−1/L)", "χ₁ ≈ 1", "q* = ∞", "q* = 0", "q* not reached",
           "c* < 1")
COS_TOL = 1e-3  # c* below 1 - COS_TOL: the cone stays open at any depth
Q_TINY = 1e-12  # a converged q* below this is 0 (the signal vanishes)
CLOSED, OPEN = 0.9, 0.5  # report thresholds on the measured cosine at layer L
AGREE = 0.03  # |measured - predicted| allowed on top of the seed band

# the summary's arrays: per cell and layer, per cell (the fixed point), and its
# results.csv header
CELL = ("activation", "sigma_w2", "sigma_b2")
FIXED = ("q_star", "chi1", "chi_c", "xi_c", "c_star", "cos_star")
CELL_ARRAYS = ("measured_mean_cos", "measured_lo", "measured_hi", "measured_sd",
               "measured_one_minus", "predicted_mean_cos", "predicted_one_minus",
               "predicted_se")
CODES = ("phase", "regime", "reason")
HEADER = (list(CELL) + ["sigma_w", "sigma_b", "layer"] + list(CELL_ARRAYS)
          + list(FIXED) + list(CODES))


# -- config -----------------------------------------------------------------------
def check_grid(field: str, values, positive: bool) -> tuple[float, ...]:
  """An increasing, non-empty grid of finite numbers >= 0 (> 0 if ``positive``);
  a single number is a grid of one."""
  if isinstance(values, (int, float)) and not isinstance(values, bool):
    values = [values]
  if not isinstance(values, (list, tuple)) or not values:
    raise ConfigError(field, f"expected a non-empty list of numbers, got {values!r}")
  for v in values:
    if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
        or v < 0 or (positive and v == 0)):
      bound = "> 0" if positive else ">= 0"
      raise ConfigError(field, f"expected finite numbers {bound}, got {v!r}")
  if any(b <= a for a, b in zip(values, values[1:])):
    raise ConfigError(field, f"expected increasing values, got {list(values)}")
  return tuple(float(v) for v in values)


@dataclasses.dataclass(frozen=True)
class PhaseConfig(Config):
  """A ConeConfig whose sigma grids are given as variances, plus the theory's
  pair count and quadrature order."""
  cone: ConeConfig
  sigma_w2: tuple[float, ...]
  sigma_b2: tuple[float, ...]
  n_pairs: int
  order: int
  # validated once at the edge, like its ConeConfig (it may read a user file)
  VALIDATE_ON_INIT = False

  @classmethod
  def from_dict(cls, d: Mapping[str, Any]) -> "PhaseConfig":
    cone_fields = [f.name for f in dataclasses.fields(ConeConfig)]
    allowed = [k for k in cone_fields if k not in DERIVED] + list(EXTRA)
    for key in d:
      if key in DERIVED:
        raise ConfigError(key, f"set by {DERIVED[key]} here (the grid of "
                          f"variances; {key} = its square root)")
      check_keys([key], allowed)
    missing = [k for k in EXTRA if k not in d]
    if missing:
      raise ConfigError(missing[0], "expected a value (no default)")
    sw2 = check_grid("sigma_w2", d["sigma_w2"], positive=True)
    sb2 = check_grid("sigma_b2", d["sigma_b2"], positive=False)
    rest = {k: v for k, v in d.items() if k not in EXTRA}
    cfg = ConeConfig.from_dict(dict(rest, sigma_w=[math.sqrt(x) for x in sw2],
                                    sigma_b=[math.sqrt(x) for x in sb2]))
    return cls(cfg, sw2, sb2, d["n_pairs"], d["order"])

  def validate(self) -> "PhaseConfig":
    """Checks everything before any work; returns self."""
    self.cone.validate()
    check_int("n_pairs", self.n_pairs, lo=2)
    check_int("order", self.order, lo=4)
    if len(self.cone.widths) != 1:
      raise ConfigError("widths", f"expected one width (one phase diagram), got "
                        f"{list(self.cone.widths)}")
    if len(self.cone.inits) != 1:
      raise ConfigError("inits", f"expected one init scheme (the grid's axes are "
                        f"its gain² and σ_b²), got {list(self.cone.inits)}")
    for a in self.cone.activations:
      meanfield.functions(a)  # maxout has no theory: ConfigError("activations")
    return self

  def to_dict(self) -> dict:
    d = {k: v for k, v in self.cone.to_dict().items() if k not in DERIVED}
    return dict(d, sigma_w2=list(self.sigma_w2), sigma_b2=list(self.sigma_b2),
                n_pairs=self.n_pairs, order=self.order)


# -- classification -------------------------------------------------------------
def classify(fp: Mapping[str, Any], depth: int) -> tuple[str, str]:
  """(regime, reason) of one cell from its fixed point (``FixedPoint.as_dict``)."""
  q = fp["q_star"]
  if fp["cos_star"] < 1 - COS_TOL:
    return "chaotic", "c* < 1"
  if not math.isfinite(q):
    return "critical", "q* = ∞"
  if q < Q_TINY or (not fp["q_converged"] and q < 1e-3):
    return "critical", "q* = 0"
  if fp["chi1"] >= math.exp(-1 / depth):
    return "critical", "χ₁ ≈ 1"
  if not fp["q_converged"]:
    return "critical", "q* not reached"
  return "ordered", "χ₁ < e^(−1/L)"


def fixed_point_arrays(fps, depth: int, shape) -> dict[str, np.ndarray]:
  """The FIXED values and the phase, regime and reason codes (indices into
  PHASES, REGIMES, REASONS) of cells given by their fixed points (``as_dict``),
  in row-major order of ``shape``."""
  arrays = {key: np.array([fp[key] for fp in fps], np.float64).reshape(shape)
            for key in FIXED}
  cls = [classify(fp, depth) for fp in fps]
  arrays["phase"] = np.array([PHASES.index(fp["phase"]) for fp in fps]).reshape(shape)
  arrays["regime"] = np.array([REGIMES.index(r) for r, _ in cls]).reshape(shape)
  arrays["reason"] = np.array([REASONS.index(w) for _, w in cls]).reshape(shape)
  return arrays


# -- the summary ------------------------------------------------------------------
def cell_index(cfg: PhaseConfig, variants) -> np.ndarray:
  """(activation, sigma_w2, sigma_b2) -> variant index, checked against the
  saved variants' own sigma values."""
  n_a, n_w, n_b = len(cfg.cone.activations), len(cfg.sigma_w2), len(cfg.sigma_b2)
  idx = np.arange(n_a * n_w * n_b).reshape(n_a, n_w, n_b)
  for (a, w, b), v in np.ndenumerate(idx):
    var = variants[v]
    if not (math.isclose(var["sigma_w"] ** 2, cfg.sigma_w2[w], rel_tol=1e-12)
            and math.isclose(var["sigma_b"] ** 2, cfg.sigma_b2[b], rel_tol=1e-12,
                             abs_tol=1e-300)
            and var["activation"] == activations.parse(cfg.cone.activations[a]).name):
      raise AssertionError(f"variant {v} is not cell {(a, w, b)}: {var['label']}")
  return idx


def predicted_arrays(theory_arrays, idx: np.ndarray, layers) -> dict[str, np.ndarray]:
  """The theory sub-run's arrays per cell (and layer)."""
  t = theory_arrays
  return {
      "predicted_mean_cos": t["mean_cos"][0][idx][..., layers],
      "predicted_one_minus": t["one_minus_mean_cos"][0][idx][..., layers],
      "predicted_se": t["mean_cos_se"][0][idx][..., layers],
      "quadrature_error": t["quadrature_error"][0][idx],
  }


def describe(cfg: PhaseConfig, layers, seeds: int) -> dict:
  """The summary meta's axes, coords, codes, classification and statistics."""
  depth, cell = cfg.cone.depth, list(CELL)
  names = [activations.parse(a).label for a in cfg.cone.activations]
  return {
      "axes": dict({k: cell + ["layer"] for k in CELL_ARRAYS},
                   measured_mean_cos_seeds=cell + ["seed", "layer"],
                   **{k: cell for k in FIXED + CODES + ("quadrature_error",)}),
      "coords": {"activation": names, "sigma_w2": list(cfg.sigma_w2),
                 "sigma_b2": list(cfg.sigma_b2), "layer": layers,
                 "seed": list(range(seeds)), "width": cfg.cone.widths[0]},
      "codes": {"phase": list(PHASES), "regime": list(REGIMES),
                "reason": list(REASONS)},
      "classification": {
          "cos_tol": COS_TOL, "q_tiny": Q_TINY,
          "ordered_if_chi1_below": math.exp(-1 / depth),
          "phase": "propagation.fixed_point's phase of the cosine: slope at c = 1 "
                   "of the length-normalised correlation map (chi_1 at a finite "
                   "q*) below, at, or above 1",
          "regime": "chaotic: c* < 1 - cos_tol; else critical if q* is infinite, "
                    "0 or not reached, or chi_1 >= e^(-1/depth); else ordered"},
      "statistics": {
          "measured_mean_cos": "mean over seeds of the mean cosine over distinct "
                               "pairs (band: 95% t-interval over seeds)",
          "measured_one_minus": "mean over seeds of 1 - mean cos (computed stably)",
          "predicted_mean_cos": "mean-field (infinite-width) mean cosine over "
                                "distinct pairs of the same inputs",
          "predicted_se": "standard error of the prediction from sampling pairs",
          "cos_star": "post-activation cosine at the correlation fixed point "
                      "(the infinite-depth limit where q* is finite and > 0)"},
  }


def rows(cfg: PhaseConfig, arrays: Mapping[str, np.ndarray], layers):
  """The results.csv rows (columns HEADER): one per cell and layer."""
  names = [activations.parse(a).label for a in cfg.cone.activations]
  for (a, w, b), _ in np.ndenumerate(arrays["phase"]):
    for li, layer in enumerate(layers):
      yield ([names[a], cfg.sigma_w2[w], cfg.sigma_b2[b], cfg.cone.sigma_w[w],
              cfg.cone.sigma_b[b], layer]
             + [arrays[k][a, w, b, li] for k in CELL_ARRAYS]
             + [arrays[k][a, w, b] for k in FIXED]
             + [PHASES[arrays["phase"][a, w, b]], REGIMES[arrays["regime"][a, w, b]],
                REASONS[arrays["reason"][a, w, b]]])


# -- text -------------------------------------------------------------------------
def fmt_b2(x: float) -> str:
  """A sigma_b^2 value: the paper's 1/512 by name."""
  return "1/512" if math.isclose(x, 1 / 512, rel_tol=1e-9) else f"{x:g}"


def _f(x: float) -> str:
  return f"{x:.3f}" if abs(x) >= 5e-4 else "0.000"  # no "-0.000"


def fmt_range(v) -> str:
  """'lo to hi' of the finite values (3 decimals), one value if they agree,
  '–' if there are none."""
  v = np.asarray(v, np.float64)
  v = v[np.isfinite(v)]
  if not v.size:
    return "–"
  lo, hi = _f(v.min()), _f(v.max())
  return lo if lo == hi else f"{lo} to {hi}"


def fmt_cells(mask, sw2, sb2, limit=6) -> str:
  """The (sigma_w^2, sigma_b^2) cells where the 2-D ``mask`` holds, at most
  ``limit`` of them and then the count."""
  pts = [f"({sw2[w]:g}, {fmt_b2(sb2[b])})" for w, b in zip(*np.nonzero(mask))]
  more = f", … ({len(pts)} cells)" if len(pts) > limit else ""
  return ", ".join(pts[:limit]) + more


# -- tables of a saved summary (its arrays at layer L, the last layer) -------------
def agreement_table(arrays: Mapping[str, np.ndarray], names, sw2, sb2) -> str:
  """Per activation: cells where |measured - predicted| <= seed half-band +
  AGREE, the median and max |difference|, and the worst cell."""
  a = arrays
  meas, pred = a["measured_mean_cos"][..., 1], a["predicted_mean_cos"][..., 1]
  half = (a["measured_hi"] - a["measured_lo"])[..., 1] / 2
  diff = meas - pred
  agree = np.abs(diff) <= half + AGREE
  rows = []
  for i, name in enumerate(names):
    d = np.abs(diff[i])
    w, b = np.unravel_index(np.nanargmax(d), d.shape)
    rows.append((name, d.size, int(agree[i].sum()), f"{np.nanmedian(d):.3f}",
                 f"{np.nanmax(d):.3f}",
                 f"({sw2[w]:g}, {fmt_b2(sb2[b])}): {meas[i, w, b]:.3f} "
                 f"[{a['measured_lo'][i, w, b, 1]:.3f}, {a['measured_hi'][i, w, b, 1]:.3f}] "
                 f"vs {pred[i, w, b]:.3f}"))
  return tables.table(["activation", "cells", "agree", "median abs diff", "max abs diff",
                       "worst cell (σ_w², σ_b²): measured [band] vs predicted"], rows)


def regime_table(arrays: Mapping[str, np.ndarray], names) -> str:
  """Cells per regime [per phase] and the measured cosine per regime, per
  activation and in all."""
  regime, phase = arrays["regime"], arrays["phase"]
  meas = arrays["measured_mean_cos"][..., 1]
  count = lambda reg, ph: [f"{int((reg == r).sum())} [{int((ph == r).sum())}]" for r in range(3)]
  rows = [[name] + count(regime[i], phase[i]) + [fmt_range(meas[i][regime[i] == r]) for r in range(3)]
          for i, name in enumerate(names)]
  rows.append(["all"] + count(regime, phase) + [fmt_range(meas[regime == r]) for r in range(3)])
  return tables.table(["activation", "ordered", "critical", "chaotic",
                       "measured cos at L: ordered", "critical", "chaotic"], rows)


def reason_table(arrays: Mapping[str, np.ndarray], names, sw2, sb2) -> str:
  """Per reason and activation: the cells, measured and predicted cosines."""
  regime, reason = arrays["regime"], arrays["reason"]
  meas, pred = arrays["measured_mean_cos"][..., 1], arrays["predicted_mean_cos"][..., 1]
  rows = []
  for k, why in enumerate(REASONS):
    for i, name in enumerate(names):
      sel = reason[i] == k
      if sel.any():
        rows.append((REGIMES[regime[i][sel][0]], why, name, int(sel.sum()), fmt_range(meas[i][sel]),
                     fmt_range(pred[i][sel]), fmt_cells(sel, sw2, sb2, limit=4)))
  return tables.table(["regime", "reason", "activation", "cells", "measured cos at L",
                       "predicted", "cells (σ_w², σ_b²)"], rows)
