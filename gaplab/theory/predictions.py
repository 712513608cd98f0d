"""Mean-field predictions for a cone sweep: its own inputs, inits and blocks.

For every width and variant of a ``ConeConfig`` this predicts, per layer, the
infinite-width mean cosine over distinct pairs that ``gaplab cone`` measures.
The map is nonlinear in the input kernel and Gaussian inputs in d dimensions do
not have cosine 0 or equal norms, so the prediction is the map *averaged over
input pairs*: pairs (i, j), i != j, drawn uniformly with replacement from the
inputs the sweep actually feeds each seed (the same number from every seed), or
all pairs when there are no more than asked for. The sample average is sharpened
by control variates: the input cosine c0 and c0^2, whose averages over *all*
distinct pairs are known exactly from the inputs (via the centroid and the Gram
matrix), so the estimate is the intercept of a regression of the per-pair
prediction on (c0 - mean, c0^2 - mean^2). It estimates the average over all of
the sweep's pairs and seeds (bias O(1/pairs)), with standard error
``mean_cos_se`` = residual sd / sqrt(pairs); at early layers, where the map is
nearly quadratic in c0, this is 10-100x smaller than the plain average's. At infinite width each pair's
cosine converges to its mean-field value, so this average is exactly what the
measured mean cosine tends to as width grows; finite width adds O(1/width) bias
and O(1/sqrt(width)) seed-to-seed scatter.

Each variant's per-map variances come from ``inits.variances`` (the first
layer's fan-in is the input dimension), and 1 - cos is propagated without
cancellation (``propagation.propagate``). In an act-linear block the first
activation acts on the inputs themselves, which are not Gaussian given the
pair: its kernel is computed exactly from phi(x), and theory starts after it.
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from gaplab.cone import engine
from gaplab.nets import inits
from gaplab.theory import meanfield as mf
from gaplab.nets import network
from gaplab.nets.rows import unit_rows_f64
from gaplab.runtime import progress
from gaplab.theory import fixedpoints, propagation
from gaplab.cone.config import ConeConfig, Variant

ARRAYS = ("mean_cos", "mean_cos_diag", "one_minus_mean_cos", "mean_cos_se")


def input_pairs(cfg: ConeConfig, n_pairs: int, seed: int = 0, x_user=None) -> dict:
  """Per-coordinate kernels of input pairs: q1, q2, c12, dist (float64, (M,)).

  ``n_pairs`` are spread evenly over the seeds' input sets (one set for a user
  array); a set with no more distinct pairs than its share contributes all of
  them, once. ``exhaustive`` says whether every pair was used. ``x_user``: the
  loaded user array (loaded here when None and the config names a file).
  """
  x_user = cfg.load_inputs() if x_user is None else x_user
  sets = 1 if x_user is not None else cfg.seeds
  share = -(-n_pairs // sets)
  rng = np.random.default_rng(seed)
  rows, means, exhaustive = [], [], True
  for s in range(sets):
    x = engine.explicit_inputs(cfg, s, x_user)
    n, d = x.shape
    if n * (n - 1) // 2 <= share:
      i, j = np.triu_indices(n, k=1)
    else:
      exhaustive = False
      i = rng.integers(0, n, share)
      j = (i + rng.integers(1, n, share)) % n  # uniform over j != i
    rows.append((x, i, j))
    means.append(_cosine_moments(x))
  out = pair_kernel(rows)
  out["c0"] = out["c12"] / np.sqrt(out["q1"] * out["q2"])
  out.update(rows=rows, c0_means=np.mean(means, axis=0), exhaustive=exhaustive,
             n_inputs=int(n), sets=sets)
  return out


def pair_kernel(rows, phi=None) -> dict:
  """q1, q2, c12, dist per coordinate of the pairs (x_i, x_j) of each input
  set, or of (phi(x_i), phi(x_j)): exact, not a Gaussian approximation (what
  an act-linear block's first activation sees is the inputs themselves)."""
  parts = []
  for x, i, j in rows:
    x = x if phi is None else phi(x)
    d = x.shape[1]
    parts.append((np.sum(x[i] ** 2, 1) / d, np.sum(x[j] ** 2, 1) / d,
                  np.sum(x[i] * x[j], 1) / d, np.sum((x[i] - x[j]) ** 2, 1) / d))
  q1, q2, c12, dist = (np.concatenate(p) for p in zip(*parts))
  return {"q1": q1, "q2": q2, "c12": c12, "dist": dist}


def _cosine_moments(x):
  """Exact means of cos and cos^2 over the distinct pairs of the rows of x."""
  u = unit_rows_f64(x)
  n = len(u)
  s = u.sum(0)
  gram = u.T @ u if u.shape[1] <= n else u @ u.T  # same Frobenius norm
  return ((s @ s - n) / (n * (n - 1)), (np.sum(gram * gram) - n) / (n * (n - 1)))


def pair_average(y, c0, c0_means):
  """(estimate, standard error) of the all-pairs mean of ``y`` (layers, pairs)
  from sampled pairs, with c0 and c0^2 as control variates."""
  m = y.shape[-1]
  x = np.stack([np.ones(m), c0 - c0_means[0], c0 ** 2 - c0_means[1]], axis=1)
  coef, *_ = np.linalg.lstsq(x, y.T, rcond=None)
  resid = y.T - x @ coef
  dof = max(m - x.shape[1], 1)
  return coef[0], np.sqrt(np.sum(resid ** 2, axis=0) / dof / m)


def layer_variances(cfg: ConeConfig, v: Variant, width: int, input_dim: int):
  """(sigma_w^2, sigma_b^2), each (depth, maps per block), for one variant."""
  n_maps = propagation.BLOCK_OPS[cfg.block].count("linear")
  sw2, sb2 = np.zeros((cfg.depth, n_maps)), np.zeros((cfg.depth, n_maps))
  for layer in range(cfg.depth):
    fan_in = input_dim if layer == 0 else width
    fans = [fan_in, network.second_map_fan_in(cfg.block, v.activation, fan_in, width)]
    for m in range(n_maps):
      sw2[layer, m], sb2[layer, m] = inits.variances(
          v.init, v.sigma_w, v.sigma_b, cfg.bias, fans[m], width)
  return sw2, sb2


def _deep_variances(cfg: ConeConfig, v: Variant, width: int):
  """(sigma_w^2, sigma_b^2) of the deep layers' block (width x width maps).

  Two linear maps in a row (linear-act-linear, layer after layer) compose to one
  with sigma_w^2 = s1 s2 and sigma_b^2 = s2 b1 + b2, so that block has the
  phase of linear-act with those variances.
  """
  sw2, sb2 = layer_variances(cfg, v, width, width)
  w, b = sw2[-1], sb2[-1]
  if len(w) == 2:
    return float(w[0] * w[1]), float(w[1] * b[0] + b[1])
  return float(w[0]), float(b[0])


def variant_fixed_points(cfg: ConeConfig, variants, width: int, **kw) -> list:
  """Fixed point and phase of the deep layers of each variant (a list in the
  order of ``variants``): one vectorised ``fixedpoints.fixed_points`` per
  activation."""
  out, groups = [None] * len(variants), {}
  for i, v in enumerate(variants):
    groups.setdefault(_act(v), []).append(i)
  for act, idx in groups.items():
    sw2, sb2 = zip(*(_deep_variances(cfg, variants[i], width) for i in idx))
    for i, fp in zip(idx, fixedpoints.fixed_points(act, np.array(sw2), np.array(sb2), **kw)):
      out[i] = fp
  return out


def variant_fixed_point(cfg: ConeConfig, v: Variant, width: int, **kw):
  """Fixed point and phase of one variant's deep layers (``variant_fixed_points``)."""
  return variant_fixed_points(cfg, [v], width, **kw)[0]


def _act(v: Variant) -> str:
  return v.activation if math.isnan(v.act_param) else f"{v.activation}:{v.act_param!r}"


@dataclasses.dataclass
class Prediction:
  """Arrays (width, variant, layer); per-variant fixed points for each width."""
  config: ConeConfig
  arrays: dict
  variants: list
  fixed_points: list  # [width][variant] -> propagation.FixedPoint
  pairs: dict
  order: int
  seconds: float
  inputs: np.ndarray | None = None  # the user's input array; None when generated


def predict(cfg: ConeConfig, n_pairs: int = 1024, order: int = 32,
            pair_seed: int = 0, check_pairs: int = 8) -> Prediction:
  """Predicted per-layer mean cosine of every (width, variant) of ``cfg``.

  ``order`` is the Gauss-Legendre order for activations without a closed form;
  ``quadrature_error`` holds, per (width, variant), the largest change of the
  predicted 1 - cos (relative) on ``check_pairs`` pairs when the order doubles.
  """
  return _predict(cfg, cfg.resolve_inputs(), n_pairs, order, pair_seed, check_pairs)


def _propagate_group(cfg, act, group, width, d_in, kernel, order, post, check_pairs):
  """1 - cos (layer, variant, pair) of the variants ``group`` (one activation)
  at ``order``, and (layer, variant, check pair) at ``2 * order`` on the first
  ``check_pairs`` pairs: one propagation per order, every variant's per-map
  variances broadcast against the pairs (compiled quadrature, ``fast``)."""
  var = [layer_variances(cfg, v, width, d_in) for v in group]
  sw2 = np.stack([w for w, _ in var], axis=-1)[..., None]  # (depth, maps, variant, 1)
  sb2 = np.stack([b for _, b in var], axis=-1)[..., None]

  def prop(ker, o):
    ker = {k: np.broadcast_to(x, (len(group), len(x))) for k, x in ker.items()}
    return propagation.propagate(act, sigma_w2=sw2, sigma_b2=sb2, depth=cfg.depth,
                                 block=cfg.block, order=o, skip_first_act=post,
                                 fast=True, **ker)["one_minus_cos"]
  omc = prop(kernel, order)
  fine = prop({k: x[:check_pairs] for k, x in kernel.items()}, 2 * order)
  return omc, fine


def _predict(cfg, x_user, n_pairs, order, pair_seed=0, check_pairs=8) -> Prediction:
  """``predict`` of a validated ``cfg`` on its loaded user array (or None)."""
  t0 = time.perf_counter()
  pairs = input_pairs(cfg, n_pairs, pair_seed, x_user)
  d_in = pairs["rows"][0][0].shape[1]  # the inputs' dimension, generated or user
  n, variants = pairs["n_inputs"], cfg.variants()
  shape = (len(cfg.widths), len(variants), cfg.depth + 1)
  arrays = {k: np.zeros(shape) for k in ARRAYS}
  arrays["quadrature_error"] = np.zeros(shape[:2])
  fixed = []  # [width][variant]
  post = cfg.block == "act-linear"  # the first activation acts on the inputs
  keys = ("q1", "q2", "dist")
  kernels = {}  # per activation: the kernel the first map (or phi(x)) starts from
  for v in variants:
    if _act(v) not in kernels:
      ker = pair_kernel(pairs["rows"], mf.functions(_act(v))[0]) if post else pairs
      kernels[_act(v)] = {k: ker[k] for k in keys}
  groups = {}  # activation -> its variants: one propagation for all of them
  for v in variants:
    groups.setdefault(_act(v), []).append(v)
  with progress.current().stage(f"mean-field prediction, {len(variants)} variants",
                                total=len(cfg.widths) * len(variants),
                                unit="variants") as stage:
    for wi, width in enumerate(cfg.widths):
      for act, group in groups.items():
        omc, fine = _propagate_group(cfg, act, group, width, d_in, kernels[act], order,
                                     post, check_pairs)
        for gi, v in enumerate(group):
          o = omc[:, gi]  # (layer, pair)
          if post:  # layer 0 is the inputs, not phi(inputs)
            o[0] = mf.one_minus_cos(pairs["q1"], pairs["q2"], pairs["dist"])
          if pairs["exhaustive"]:  # every pair of every input set: exact
            one_minus, se = o.mean(axis=1), np.zeros(cfg.depth + 1)
          else:
            one_minus, se = pair_average(o, pairs["c0"], pairs["c0_means"])
          # the order-doubling check on the first pairs (their order-``order``
          # values are those of the full propagation)
          f = fine[:, gi]
          err = np.abs(omc[1:, gi, :check_pairs] - f[1:]) / np.maximum(np.abs(f[1:]), 1e-300)
          idx = (wi, v.index)
          arrays["one_minus_mean_cos"][idx] = one_minus
          arrays["mean_cos"][idx] = 1 - one_minus
          arrays["mean_cos_diag"][idx] = 1 - (n - 1) / n * one_minus
          arrays["mean_cos_se"][idx] = se
          arrays["quadrature_error"][idx] = float(np.max(err, initial=0.0))
          stage.advance()
      fixed.append(variant_fixed_points(cfg, variants, width))
  return Prediction(cfg, arrays, variants, fixed, pairs, order,
                    time.perf_counter() - t0, x_user)


# -- results data ---------------------------------------------------------------
# config fields that change the prediction (the rest only change statistics)
PREDICTIVE = ("activations", "inits", "sigma_w", "sigma_b", "bias", "block", "depth",
              "widths", "input_dim", "n_samples", "inputs", "seeds", "seed", "dtype")


def metadata(pred: Prediction) -> dict:
  from gaplab.cone import store as cone
  from gaplab.io import provenance
  cfg = pred.config
  fp = lambda f: dict(f.as_dict())
  return {
      "kind": "theory",
      "config": cfg.to_dict(),
      "resolved": {
          "pairs": int(len(pred.pairs["q1"])), "exhaustive": pred.pairs["exhaustive"],
          "input_sets": pred.pairs["sets"], "n_inputs": pred.pairs["n_inputs"],
          "order": pred.order,
          "averaging": "mean over distinct input pairs of the per-pair mean-field "
                       "cosine; pairs drawn uniformly from each seed's inputs, "
                       "input cosine and its square as control variates",
      },
      "variants": [dict(dataclasses.asdict(v), label=v.label,
                        fixed_point=[fp(row[v.index]) for row in pred.fixed_points])
                   for v in pred.variants],
      "axes": dict({k: ["width", "variant", "layer"] for k in ARRAYS},
                   quadrature_error=["width", "variant"]),
      "coords": {"width": list(cfg.widths), "layer": list(range(cfg.depth + 1))},
      "statistics": {
          "mean_cos": "predicted mean cosine over distinct pairs (infinite width)",
          "mean_cos_diag": "the same with the diagonal: 1/N + (N-1)/N mean_cos",
          "one_minus_mean_cos": "1 - mean_cos, propagated without cancellation",
          "mean_cos_se": "standard error from sampling input pairs",
          "quadrature_error": "largest relative change of 1 - cos when the "
                              "quadrature order doubles (checked on a few pairs)"},
      "inputs": cone.inputs_description(cfg, pred.pairs["n_inputs"], pred.inputs),
      "provenance": dict(provenance.collect(precision="float64 NumPy",
                                            dtype="float64"), elapsed_s=pred.seconds),
  }


def save(pred: Prediction, path: str, overwrite: bool = False) -> str:
  from gaplab.cone import store as cone
  from gaplab.io import results
  cfg = pred.config
  arrays = dict(pred.arrays, width=np.asarray(cfg.widths),
                layer=np.arange(cfg.depth + 1))
  header = ["width", "variant"] + list(cone.VARIANT_COLUMNS) + ["layer"] + list(ARRAYS)

  def rows():
    for wi, width in enumerate(cfg.widths):
      for v in pred.variants:
        vcols = [getattr(v, c) for c in cone.VARIANT_COLUMNS]
        for layer in range(cfg.depth + 1):
          yield ([width, v.index] + vcols + [layer]
                 + [pred.arrays[k][wi, v.index, layer] for k in ARRAYS])
  return results.save_run(path, meta=metadata(pred), arrays=arrays, header=header,
                          rows=rows(), overwrite=overwrite)


def run_and_save(cfg: ConeConfig, path: str, *, n_pairs: int = 512, order: int = 32,
                 overwrite: bool = False) -> str:
  """Checks everything first, then predicts and saves a ``theory`` run."""
  from gaplab.theory import meanfield
  from gaplab.io import results
  from gaplab._errors import ConfigError
  x_user = cfg.resolve_inputs()
  for field, value, lo in (("pairs", n_pairs, 2), ("order", order, 4)):
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
      raise ConfigError(field, f"expected an integer >= {lo}, got {value!r}")
  for v in cfg.variants():
    meanfield.functions(_act(v))  # no theory (maxout): fail before any work
  results.check_writable(path, overwrite)
  return save(_predict(cfg, x_user, n_pairs, order), path, overwrite)


def check_matches(cone_meta: dict, theory_meta: dict, theory_dir: str) -> None:
  """Raises ConfigError unless the prediction is for the cone run's setting."""
  from gaplab._errors import ConfigError
  if theory_meta.get("kind") != "theory":
    raise ConfigError("theory", f"expected a run written by 'gaplab theory', got "
                      f"kind {theory_meta.get('kind')!r} in {theory_dir!r}")
  a, b = cone_meta["config"], theory_meta["config"]
  differ = [k for k in PREDICTIVE if a.get(k) != b.get(k)]
  if cone_meta["resolved"]["inputs"] != theory_meta["inputs"]:
    differ.append("inputs (contents)")
  if differ:
    raise ConfigError("theory", f"expected a prediction for this run's setting, got "
                      f"one whose {', '.join(differ)} differ ({theory_dir!r})")
