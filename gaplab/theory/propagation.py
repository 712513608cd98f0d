"""Mean-field propagation through depth: per-layer predictions, fixed points,
chi_1, depth scales and phases (Poole et al. 2016; Schoenholz et al. 2017).

Conventions: a network of ``linear-act`` blocks, h_l = phi(W_l h_{l-1} + b_l),
with Var(W_ij) = sigma_w^2 / fan_in and Var(b) = sigma_b^2. The input kernel is
per coordinate: q0 = |x|^2 / d, c0 = x.y / d (so input scale matters for every
activation that is not scale-invariant). All NumPy float64.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from gaplab.theory import meanfield as mf


# each block as a sequence of operations on the kernel (see network.py)
BLOCK_OPS = {"linear-act": ("linear", "act"), "act-linear": ("act", "linear"),
             "linear-act-linear": ("linear", "act", "linear")}


def _per_map(value, depth, n_maps):
  """A scalar, (depth,) or (depth, n_maps) array -> (depth, n_maps)."""
  v = np.asarray(value, np.float64)
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
              block: str = "linear-act", skip_first_act: bool = False, **kw) -> dict:
  """Per-layer mean-field quantities for input pairs with kernel (q1, q2, c12).

  The input kernel is per coordinate: second moments q = |x|^2 / d and the
  covariance c12 = x.y / d (not a cosine: |c12| <= sqrt(q1 q2) is enforced);
  or give ``cos`` = x.y / (|x| |y|) instead of ``c12``. Pass ``dist`` = |x -
  y|^2 / d instead of (or with) ``c12`` to keep 1 - cos exact for nearly
  parallel inputs. ``sigma_w2`` and ``sigma_b2`` are scalars,
  per-layer arrays (depth,) or per-map arrays (depth, maps per block), so a
  first layer with another fan-in may differ. Every layer tracks the second
  moments k1, k2 of its output and the squared distance E[(h1 - h2)^2], so
  1 - cos never comes from cancellation. ``skip_first_act`` (act-linear only):
  the given kernel is already that of phi(inputs), computed exactly.

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
        d = mf.distance(act, k1, k2, d, **kw)
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


PHASES = ("ordered", "critical", "chaotic")


@dataclasses.dataclass(frozen=True)
class FixedPoint:
  """Where the length and correlation maps settle, and how fast."""
  q_star: float  # inf when the length map has no finite fixed point
  q_converged: bool
  chi1: float  # sigma_w^2 E[phi'(sqrt(q*) z)^2]
  c_star: float  # pre-activation correlation fixed point reached from c = 0
  chi_c: float  # slope of the (length-normalised) correlation map at c*
  xi_c: float  # depth scale -1/ln(chi_c); inf at criticality
  phase: str
  cos_star: float  # post-activation cosine at the fixed point

  def as_dict(self):
    return dataclasses.asdict(self)


def length_fixed_point(act, sigma_w2, sigma_b2, *, q0=1.0, tol=1e-14,
                       max_iter=20000, q_max=1e12, **kw):
  """(q*, converged) by iterating the length map from q0.

  q* = inf where q passes ``q_max``, or where after ``max_iter`` steps q is
  still growing by at least half the step it took half-way (no geometric
  approach to a finite fixed point: e.g. linear or ReLU at the edge, sigma_w^2
  E[phi'^2] = 1 with sigma_b > 0, where q grows by sigma_b^2 every layer).
  """
  q, half_step = float(q0), None
  for i in range(max_iter):
    new = float(sigma_w2 * mf.second_moment(act, q, **kw) + sigma_b2)
    if not math.isfinite(new) or new > q_max:
      return math.inf, False
    if abs(new - q) <= tol * max(1.0, q):
      return new, True
    if i == max_iter // 2:
      half_step = new - q
    step, q = new - q, new
  if half_step is not None and half_step > 0 and step >= 0.5 * half_step:
    return math.inf, False
  return q, False


def fixed_point(act, sigma_w2: float, sigma_b2: float, *, tol_phase=1e-9,
                max_iter=20000, **kw) -> FixedPoint:
  """q*, chi_1, c*, the depth scale and the phase for one (act, sigma_w2, sigma_b2).

  The phase is that of the cosine: the slope at c = 1 of the correlation map
  normalised by the next length, sigma_w^2 q E[phi'^2] / (sigma_w^2 E[phi^2] +
  sigma_b^2), which is chi_1 at a finite fixed point q*. < 1 ordered (the cone
  closes, 1 - c ~ chi_c^l), = 1 critical (power law), > 1 chaotic (c* < 1: the
  cone never closes). Where the length map has no finite fixed point (ReLU
  at sigma_w^2 > 2: q explodes) or runs to 0 (sigma_b = 0 and a small sigma_w),
  chi_1 alone misleads: ReLU's cosine map is the same for every sigma_w, and
  tanh near 0 is linear, so both are critical there, not chaotic or ordered.
  ``q_converged`` is False where the iteration stopped without a fixed point.
  """
  q, ok = length_fixed_point(act, sigma_w2, sigma_b2, max_iter=max_iter, **kw)
  q_eval = q if math.isfinite(q) else 1e12
  chi1 = float(sigma_w2 * mf.derivative_moment(act, q_eval))
  norm = float(sigma_w2 * mf.second_moment(act, q_eval, **kw) + sigma_b2)
  slope = chi1 * q_eval / norm if norm > 0 else chi1
  if abs(slope - 1) <= tol_phase:
    phase = "critical"
  else:
    phase = "ordered" if slope < 1 else "chaotic"
  c = 1.0
  if phase == "chaotic":  # c = 1 is unstable: iterate the correlation map from 0
    c = 0.0
    # normalised by the next length (= q* at a fixed point), so c stays in
    # [-1, 1] even where q* is infinite and q_eval is only a large stand-in
    for _ in range(max_iter):
      new = float((sigma_w2 * mf.kernel(act, q_eval, q_eval, c * q_eval, **kw)
                   + sigma_b2) / norm)
      if abs(new - c) < 1e-14:
        c = new
        break
      c = new
  chi_c = float(sigma_w2 * q_eval * mf.derivative_kernel(act, q_eval, q_eval, c * q_eval)
                / (norm if norm > 0 else q_eval))
  xi = math.inf if abs(chi_c - 1) <= tol_phase else -1 / math.log(chi_c)
  cos = float(mf.post_cosine(act, q_eval, q_eval, c * q_eval, **kw))
  return FixedPoint(q, ok, chi1, c, chi_c, abs(xi), phase, cos)
