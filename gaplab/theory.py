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
cancellation (``propagation.propagate``).
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from gaplab import engine, inits, network, propagation
from gaplab.config import ConeConfig, Variant

ARRAYS = ("mean_cos", "mean_cos_diag", "one_minus_mean_cos", "mean_cos_se")


def input_pairs(cfg: ConeConfig, n_pairs: int, seed: int = 0) -> dict:
  """Per-coordinate kernels of input pairs: q1, q2, c12, dist (float64, (M,)).

  ``n_pairs`` are spread evenly over the seeds' input sets (one set for a user
  array); a set with no more distinct pairs than its share contributes all of
  them, once. ``exhaustive`` says whether every pair was used.
  """
  x_user = cfg.load_inputs()
  sets = 1 if x_user is not None else cfg.seeds
  share = -(-n_pairs // sets)
  rng = np.random.default_rng(seed)
  parts, means, exhaustive = [], [], True
  for s in range(sets):
    x = engine.explicit_inputs(cfg, s)
    n, d = x.shape
    if n * (n - 1) // 2 <= share:
      i, j = np.triu_indices(n, k=1)
    else:
      exhaustive = False
      i = rng.integers(0, n, share)
      j = (i + rng.integers(1, n, share)) % n  # uniform over j != i
    q1, q2 = np.sum(x[i] ** 2, 1) / d, np.sum(x[j] ** 2, 1) / d
    c12 = np.sum(x[i] * x[j], 1) / d
    parts.append((q1, q2, c12, np.sum((x[i] - x[j]) ** 2, 1) / d,
                  c12 / np.sqrt(q1 * q2)))
    means.append(_cosine_moments(x))
  q1, q2, c12, dist, c0 = (np.concatenate(p) for p in zip(*parts))
  return {"q1": q1, "q2": q2, "c12": c12, "dist": dist, "c0": c0,
          "c0_means": np.mean(means, axis=0), "exhaustive": exhaustive,
          "n_inputs": int(n), "sets": sets}


def _cosine_moments(x):
  """Exact means of cos and cos^2 over the distinct pairs of the rows of x."""
  u = x / np.linalg.norm(x, axis=1, keepdims=True)
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


def variant_fixed_point(cfg: ConeConfig, v: Variant, width: int, **kw):
  """Fixed point and phase of the deep layers (width x width maps).

  Two linear maps in a row (linear-act-linear, layer after layer) compose to one
  with sigma_w^2 = s1 s2 and sigma_b^2 = s2 b1 + b2, so that block has the
  phase of linear-act with those variances.
  """
  sw2, sb2 = layer_variances(cfg, v, width, width)
  w, b = sw2[-1], sb2[-1]
  if len(w) == 2:
    w, b = np.array([w[0] * w[1]]), np.array([w[1] * b[0] + b[1]])
  return propagation.fixed_point(_act(v), float(w[0]), float(b[0]), **kw)


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


def predict(cfg: ConeConfig, n_pairs: int = 1024, order: int = 32,
            pair_seed: int = 0, check_pairs: int = 8) -> Prediction:
  """Predicted per-layer mean cosine of every (width, variant) of ``cfg``.

  ``order`` is the Gauss-Legendre order for activations without a closed form;
  ``quadrature_error`` holds, per (width, variant), the largest change of the
  predicted 1 - cos (relative) on ``check_pairs`` pairs when the order doubles.
  """
  cfg.validate()
  t0 = time.perf_counter()
  pairs = input_pairs(cfg, n_pairs, pair_seed)
  d_in = cfg.load_inputs().shape[1] if cfg.load_inputs() is not None else cfg.input_dim
  n, variants = pairs["n_inputs"], cfg.variants()
  shape = (len(cfg.widths), len(variants), cfg.depth + 1)
  arrays = {k: np.zeros(shape) for k in ARRAYS}
  arrays["quadrature_error"] = np.zeros(shape[:2])
  fixed = []
  kernel = {k: pairs[k] for k in ("q1", "q2", "dist")}
  for wi, width in enumerate(cfg.widths):
    fixed.append([])
    for v in variants:
      sw2, sb2 = layer_variances(cfg, v, width, d_in)
      prop = lambda ker, o: propagation.propagate(
          _act(v), sigma_w2=sw2, sigma_b2=sb2, depth=cfg.depth, block=cfg.block,
          order=o, **ker)["one_minus_cos"]
      omc = prop(kernel, order)  # (layer, pair)
      if pairs["exhaustive"]:  # every pair of every input set: exact
        one_minus, se = omc.mean(axis=1), np.zeros(cfg.depth + 1)
      else:
        one_minus, se = pair_average(omc, pairs["c0"], pairs["c0_means"])
      sub = {k: x[:check_pairs] for k, x in kernel.items()}
      fine = prop(sub, 2 * order)
      err = np.abs(prop(sub, order) - fine) / np.maximum(np.abs(fine), 1e-300)
      idx = (wi, v.index)
      arrays["one_minus_mean_cos"][idx] = one_minus
      arrays["mean_cos"][idx] = 1 - one_minus
      arrays["mean_cos_diag"][idx] = 1 - (n - 1) / n * one_minus
      arrays["mean_cos_se"][idx] = se
      arrays["quadrature_error"][idx] = float(np.max(err))
      fixed[-1].append(variant_fixed_point(cfg, v, width))
  return Prediction(cfg, arrays, variants, fixed, pairs, order,
                    time.perf_counter() - t0)
