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

from gaplab import meanfield as mf


def _per_layer(value, depth):
  v = np.asarray(value, np.float64)
  return np.broadcast_to(v, (depth,)) if v.ndim == 0 else v


def propagate(act, *, sigma_w2, sigma_b2, depth: int, q1, q2, c12, **kw) -> dict:
  """Per-layer mean-field quantities for input pairs with kernel (q1, q2, c12).

  ``sigma_w2`` and ``sigma_b2`` are scalars or per-layer arrays of length
  ``depth`` (a first layer with another fan-in may differ). Returns arrays of
  shape (depth + 1,) + broadcast(q1, q2, c12).shape: ``cos`` (post-activation
  cosine; layer 0 is the input cosine), ``pre_corr`` (pre-activation
  correlation; NaN at layer 0) and the pre-activation ``q1``, ``q2``, ``c12``
  (the input kernel at layer 0).
  """
  sw2, sb2 = _per_layer(sigma_w2, depth), _per_layer(sigma_b2, depth)
  q1, q2, c12 = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in (q1, q2, c12)))
  out = {k: [v] for k, v in (("q1", q1), ("q2", q2), ("c12", c12))}
  out["cos"] = [c12 / np.sqrt(q1 * q2)]
  out["pre_corr"] = [np.full(q1.shape, np.nan)]
  # post-activation second moments of the previous layer (inputs: the kernel)
  k11, k22, k12 = q1, q2, c12
  for layer in range(depth):
    q1, q2 = sw2[layer] * k11 + sb2[layer], sw2[layer] * k22 + sb2[layer]
    c12 = sw2[layer] * k12 + sb2[layer]
    k12 = mf.kernel(act, q1, q2, c12, **kw)
    k11, k22 = mf.second_moment(act, q1, **kw), mf.second_moment(act, q2, **kw)
    for k, v in (("q1", q1), ("q2", q2), ("c12", c12), ("pre_corr", c12 / np.sqrt(q1 * q2)),
                 ("cos", k12 / np.sqrt(k11 * k22))):
      out[k].append(v)
  return {k: np.stack(v) for k, v in out.items()}


PHASES = ("ordered", "critical", "chaotic")


@dataclasses.dataclass(frozen=True)
class FixedPoint:
  """Where the length and correlation maps settle, and how fast."""
  q_star: float  # inf when the length map has no finite fixed point
  q_converged: bool
  chi1: float  # sigma_w^2 E[phi'(sqrt(q*) z)^2]
  c_star: float  # pre-activation correlation fixed point reached from c = 0
  chi_c: float  # slope of the correlation map at c*
  xi_c: float  # depth scale -1/ln(chi_c); inf at criticality
  phase: str
  cos_star: float  # post-activation cosine at the fixed point

  def as_dict(self):
    return dataclasses.asdict(self)


def length_fixed_point(act, sigma_w2, sigma_b2, *, q0=1.0, tol=1e-14,
                       max_iter=20000, q_max=1e12, **kw):
  """(q*, converged) by iterating the length map from q0."""
  q = float(q0)
  for _ in range(max_iter):
    new = float(sigma_w2 * mf.second_moment(act, q, **kw) + sigma_b2)
    if not math.isfinite(new) or new > q_max:
      return math.inf, False
    if abs(new - q) <= tol * max(1.0, q):
      return new, True
    q = new
  return q, False


def fixed_point(act, sigma_w2: float, sigma_b2: float, *, tol_phase=1e-9,
                max_iter=20000, **kw) -> FixedPoint:
  """q*, chi_1, c*, the depth scale and the phase for one (act, sigma_w2, sigma_b2).

  The phase follows chi_1 at q*: < 1 ordered (the cone closes, 1 - c ~ chi_1^l),
  = 1 critical (power law), > 1 chaotic (c* < 1: the cone never closes).
  Without a finite q* (e.g. a linear net with sigma_w = 1 and a bias), chi_1
  is taken where the iteration stopped and ``q_converged`` is False.
  """
  q, ok = length_fixed_point(act, sigma_w2, sigma_b2, max_iter=max_iter, **kw)
  q_eval = q if math.isfinite(q) else 1e12
  chi1 = float(sigma_w2 * mf.derivative_moment(act, q_eval))
  if abs(chi1 - 1) <= tol_phase:
    phase = "critical"
  else:
    phase = "ordered" if chi1 < 1 else "chaotic"
  c = 1.0
  if phase == "chaotic":  # c = 1 is unstable: iterate the correlation map from 0
    c = 0.0
    for _ in range(max_iter):
      new = float((sigma_w2 * mf.kernel(act, q_eval, q_eval, c * q_eval, **kw)
                   + sigma_b2) / q_eval)
      if abs(new - c) < 1e-14:
        c = new
        break
      c = new
  chi_c = float(sigma_w2 * mf.derivative_kernel(act, q_eval, q_eval, c * q_eval))
  xi = math.inf if abs(chi_c - 1) <= tol_phase else -1 / math.log(chi_c)
  cos = float(mf.post_cosine(act, q_eval, q_eval, c * q_eval, **kw))
  return FixedPoint(q, ok, chi1, c, chi_c, abs(xi), phase, cos)
