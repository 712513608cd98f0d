"""Mean-field propagation through depth: per-layer predictions (Poole et al.
2016; Schoenholz et al. 2017); the fixed points, chi_1, depth scales and
phases are ``fixedpoints``' (re-exported here).

Conventions: a network of ``linear-act`` blocks, h_l = phi(W_l h_{l-1} + b_l),
with Var(W_ij) = sigma_w^2 / fan_in and Var(b) = sigma_b^2. The input kernel is
per coordinate: q0 = |x|^2 / d, c0 = x.y / d (so input scale matters for every
activation that is not scale-invariant). All NumPy float64.
"""
from __future__ import annotations

import numpy as np

from gaplab.theory import fastquad, fixedpoints
from gaplab.theory import meanfield as mf


# each block as a sequence of operations on the kernel (see network.py)
BLOCK_OPS = {"linear-act": ("linear", "act"), "act-linear": ("act", "linear"),
             "linear-act-linear": ("linear", "act", "linear")}


def _per_map(value, depth, n_maps):
  """A scalar, (depth,) or (depth, n_maps) array -> (depth, n_maps); a
  (depth, n_maps, ...) array (variances per input kernel, broadcast against
  them) is kept as it is."""
  v = np.asarray(value, np.float64)
  if v.ndim > 2 and v.shape[:2] == (depth, n_maps):
    return v
  if v.ndim == 1:
    v = v[:, None]
  v = np.broadcast_to(v, (depth, n_maps)) if v.ndim < 2 else v
  if v.shape != (depth, n_maps):
    raise ValueError(f"Expected a scalar, ({depth},) or ({depth}, {n_maps}) array "
                     f"of variances, got shape {np.shape(value)}")
  return v


def _input_kernel(q1, q2, c12, cos, dist):
  """(k1, k2, dist) of the inputs, broadcast; refuses a kernel no pair of
  vectors has (|c12| > sqrt(q1 q2), a cosine outside [-1, 1], a distance
  outside [(sqrt q1 - sqrt q2)^2, (sqrt q1 + sqrt q2)^2])."""
  f64 = lambda a: np.asarray(a, np.float64)
  k1, k2 = f64(q1), f64(q2)
  if np.any(k1 < 0) or np.any(k2 < 0):
    raise ValueError(f"Expected q1, q2 >= 0 (second moments per coordinate), got {q1!r}, {q2!r}")
  given = [n for n, v in (("c12", c12), ("cos", cos)) if v is not None]
  if len(given) > 1:
    raise ValueError("Expected one of c12 (covariance) or cos (cosine), got both")
  if not given and dist is None:
    raise ValueError("Expected c12, cos or dist, got none")
  root = np.sqrt(k1 * k2)
  slack = 1e-12 * np.maximum(root, np.finfo(np.float64).tiny)  # rounding of c12 = cos q
  if cos is not None:
    if np.any(np.abs(f64(cos)) > 1):
      raise ValueError(f"Expected a cosine in [-1, 1], got cos = {cos!r}")
    c12 = f64(cos) * root
  if c12 is not None and np.any(np.abs(f64(c12)) > root + slack):
    bad = np.broadcast_arrays(f64(c12), root)
    i = np.argmax(np.abs(bad[0]) - bad[1])
    raise ValueError(
        f"Expected |c12| <= sqrt(q1 q2): c12 is the inputs' covariance per coordinate "
        f"(x.y / d), not their cosine (pass cos= for that), got c12 = "
        f"{bad[0].flat[i]:.6g} with sqrt(q1 q2) = {bad[1].flat[i]:.6g}")
  d = f64(dist) if dist is not None else k1 + k2 - 2 * f64(c12)
  s1, s2 = np.sqrt(k1), np.sqrt(k2)
  if np.any(d < (s1 - s2) ** 2 - slack * 4) or np.any(d > (s1 + s2) ** 2 + slack * 4):
    raise ValueError("Expected dist = |x - y|^2 / d between (sqrt q1 - sqrt q2)^2 and "
                     f"(sqrt q1 + sqrt q2)^2, got {dist!r}")
  return np.broadcast_arrays(k1, k2, d)


def propagate(act, *, sigma_w2, sigma_b2, depth: int, q1, q2, c12=None, dist=None, cos=None,
              block: str = "linear-act", skip_first_act: bool = False, fast: bool = False,
              **kw) -> dict:
  """Per-layer mean-field quantities for input pairs with kernel (q1, q2, c12).

  The input kernel is per coordinate: second moments q = |x|^2 / d and the
  covariance c12 = x.y / d (not a cosine: |c12| <= sqrt(q1 q2) is enforced);
  or give ``cos`` = x.y / (|x| |y|) instead of ``c12``. Pass ``dist`` = |x -
  y|^2 / d instead of (or with) ``c12`` to keep 1 - cos exact for nearly
  parallel inputs. ``sigma_w2`` and ``sigma_b2`` are scalars,
  per-layer arrays (depth,) or per-map arrays (depth, maps per block), so a
  first layer with another fan-in may differ, or (depth, maps per block, ...)
  arrays broadcast against the input kernels (one network per kernel). Every layer tracks the second
  moments k1, k2 of its output and the squared distance E[(h1 - h2)^2], so
  1 - cos never comes from cancellation. ``skip_first_act`` (act-linear only):
  the given kernel is already that of phi(inputs), computed exactly.
  ``fast``: the Gauss-Legendre integrals run compiled (``fastquad.distance``:
  the same rules, to about 1e-15 relative); only with the default ``method``.

  Returns arrays of shape (depth + 1,) + broadcast(q1, q2, c12).shape:
  ``cos`` and ``one_minus_cos`` of the block outputs (layer 0: the inputs),
  ``pre_corr`` and ``one_minus_pre_corr`` (the correlation of what enters the
  layer's activation; NaN at layer 0), ``q1``, ``q2``, ``c12``, ``dist`` (that
  pre-activation kernel; the input kernel at layer 0) and ``k1``, ``k2``.
  """
  if block not in BLOCK_OPS:
    raise ValueError(f"Expected a block in {tuple(BLOCK_OPS)}, got {block!r}")
  ops = BLOCK_OPS[block]
  n_maps = ops.count("linear")
  sw2, sb2 = _per_map(sigma_w2, depth, n_maps), _per_map(sigma_b2, depth, n_maps)
  k1, k2, d = _input_kernel(q1, q2, c12, cos, dist)
  nan = np.full(k1.shape, np.nan)
  omc = mf.one_minus_cos(k1, k2, d)
  out = {"q1": [k1], "q2": [k2], "dist": [d], "k1": [k1], "k2": [k2],
         "c12": [(k1 + k2 - d) / 2], "one_minus_cos": [omc],
         "one_minus_pre_corr": [nan], "pre_corr": [nan]}
  for layer in range(depth):
    m = 0
    for step, op in enumerate(ops):
      if op == "act" and skip_first_act and layer == 0 and step == 0:
        pre = (k1, k2, d)  # the inputs' kernel stands for the pre-activation
        continue
      if op == "linear":
        k1, k2 = sw2[layer, m] * k1 + sb2[layer, m], sw2[layer, m] * k2 + sb2[layer, m]
        d, m = sw2[layer, m] * d, m + 1
      else:
        pre = (k1, k2, d)
        d = (fastquad.distance(act, k1, k2, d, **kw) if fast
             else mf.distance(act, k1, k2, d, **kw))
        k1, k2 = mf.second_moment(act, k1, **kw), mf.second_moment(act, k2, **kw)
    pre_omc = mf.one_minus_cos(*pre)
    for key, v in (("q1", pre[0]), ("q2", pre[1]), ("dist", pre[2]),
                   ("c12", (pre[0] + pre[1] - pre[2]) / 2), ("k1", k1), ("k2", k2),
                   ("one_minus_pre_corr", pre_omc), ("pre_corr", 1 - pre_omc),
                   ("one_minus_cos", mf.one_minus_cos(k1, k2, d))):
      out[key].append(v)
  res = {k: np.stack(v) for k, v in out.items()}
  res["cos"] = 1 - res["one_minus_cos"]
  return res


# fixed points, chi_1, depth scales and phases (vectorised over cells) live in
# fixedpoints; their names stay importable from here
PHASES = fixedpoints.PHASES
FixedPoint = fixedpoints.FixedPoint
length_fixed_point = fixedpoints.length_fixed_point
fixed_point = fixedpoints.fixed_point
