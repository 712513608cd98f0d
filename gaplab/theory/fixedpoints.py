"""Mean-field fixed points of many cells at once: the length map's q*, chi_1,
the correlation map's c* (reached from c = 0), its slope chi_c, the depth scale
and the phase, for arrays of (sigma_w^2, sigma_b^2) of one activation.

Every cell follows its own scalar iteration and stopping rule (the same
iterates as one cell alone); the cells only share the NumPy calls, and a cell
leaves the batch when it stops. The correlation iteration from 0 needs up to
~1e4 steps where chi_c is near 1; for activations without a closed-form kernel
(each step a 2-D quadrature) c* is found by Newton's method and the iteration
is restarted a few steps before its stopping window (``_restart``), which it
leaves at the same place as the full iteration to within about 1e-14.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from gaplab.theory import meanfield as mf

PHASES = ("ordered", "critical", "chaotic")
C_TOL = 1e-14  # the correlation iteration stops at a step below this
BACK = 4  # restart this many contraction steps before the stopping window
# At chi_c >= this the restart is not used: the depth scale -1/ln(chi_c)
# multiplies the restart's ~1e-14 difference in c by 1/|ln chi_c| (~340 at
# chi_c = 0.997, tanh at (2, 0.1): 6e-12 relative in xi_c), beyond the
# 1e-12 the fast path must keep; those few cells run the full iteration.
NEAR_CRITICAL = 0.99


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


def _flat(*arrays):
  return [a.ravel() for a in np.broadcast_arrays(*(np.asarray(x, np.float64) for x in arrays))]


def length_fixed_points(act, sigma_w2, sigma_b2, *, q0=1.0, tol=1e-14,
                        max_iter=20000, q_max=1e12, **kw):
  """(q*, converged), each (n,), by iterating each cell's length map from q0
  (``sigma_w2``, ``sigma_b2`` broadcast and flattened to (n,)).

  q* = inf where q passes ``q_max``, or where after ``max_iter`` steps q is
  still growing by at least half the step it took half-way (no geometric
  approach to a finite fixed point: e.g. linear or ReLU at the edge, sigma_w^2
  E[phi'^2] = 1 with sigma_b > 0, where q grows by sigma_b^2 every layer).
  """
  sw2, sb2 = _flat(sigma_w2, sigma_b2)
  n = sw2.size
  q, out = np.full(n, float(q0)), np.zeros(n)
  ok, half, step = np.zeros(n, bool), np.full(n, np.nan), np.zeros(n)
  live = np.arange(n)
  for i in range(max_iter):
    if not live.size:
      break
    old = q[live]
    new = sw2[live] * mf.second_moment(act, old, **kw) + sb2[live]
    blown = ~np.isfinite(new) | (new > q_max)
    close = ~blown & (np.abs(new - old) <= tol * np.maximum(1.0, old))
    out[live[blown]] = math.inf
    out[live[close]], ok[live[close]] = new[close], True
    if i == max_iter // 2:
      half[live] = new - old
    step[live], q[live] = new - old, new
    live = live[~(blown | close)]
  out[live] = np.where((half[live] > 0) & (step[live] >= 0.5 * half[live]),
                       math.inf, q[live])
  return out, ok


def _corr_map(act, sw2, sb2, q, norm, c, kw):
  """The length-normalised correlation map at c: (sw2 E[phi phi] + sb2) / norm."""
  return (sw2 * mf.kernel(act, q, q, c * q, **kw) + sb2) / norm


def _slope(act, sw2, q, norm, c, kw):
  """d map / dc = sw2 q E[phi' phi'] / norm (Price's theorem)."""
  order = {"order": kw["order"]} if "order" in kw else {}
  return sw2 * q * mf.derivative_kernel(act, q, q, c * q, **order) / norm


def _iterate(act, sw2, sb2, q, norm, c, max_iter, kw):
  """Each cell's iteration c <- map(c) from ``c`` until a step < C_TOL (then
  the new value) or ``max_iter`` steps; also each cell's first step (signed)."""
  c, first = c.copy(), np.full(c.shape, np.nan)
  live = np.arange(c.size)
  for i in range(max_iter):
    if not live.size:
      break
    new = _corr_map(act, sw2[live], sb2[live], q[live], norm[live], c[live], kw)
    stop = np.abs(new - c[live]) < C_TOL
    if i == 0:
      first[live] = new - c[live]
    c[live] = new
    live = live[~stop]
  return c, first


def _newton(act, sw2, sb2, q, norm, kw, iters=40):
  """c* (map(c*) = c*) by Newton from 0, and the map's slope there; a cell
  stops at a step below 1e-13. The map is increasing and convex on [0, 1]
  (sum_k a_k^2 c^k in the Hermite coefficients a_k of phi), so from 0 Newton
  climbs monotonically to c*."""
  c, slope = np.zeros(sw2.shape), np.zeros(sw2.shape)
  live = np.arange(c.size)
  for _ in range(iters):
    if not live.size:
      break
    w, b, ql, nl, cl = sw2[live], sb2[live], q[live], norm[live], c[live]
    slope[live] = _slope(act, w, ql, nl, cl, kw)
    step = (_corr_map(act, w, b, ql, nl, cl, kw) - cl) / (1 - slope[live])
    c[live] += np.where(np.isfinite(step), step, 0.0)
    live = live[~(np.abs(step) < 1e-13)]
  return c, _slope(act, sw2, q, norm, c, kw)


def _restart(act, sw2, sb2, q, norm, max_iter, kw):
  """Where the iteration from c = 0 stops, without its 1e4 steps.

  Near c* the iterates approach from below as c* - c_n ~ A chi^n (chi the slope
  at c*) and stop at the first step below C_TOL, so c* - c_end lies in
  C_TOL [chi^2, chi] / (1 - chi) whatever A is: restarting at c* - C_TOL
  chi^-BACK / (1 - chi) ends in the same window, within C_TOL chi of the full
  iteration's end. Falls back to the full iteration where this is not sure:
  no contraction at c*, a start already in the window or above c* (a first
  step that is not upwards by at least C_TOL), or a full iteration that would
  hit ``max_iter`` (by convexity the slope is <= chi on [0, c*], so it needs
  at most log(c* / window) / log(1/chi) steps), and near-critical cells
  (chi >= ``NEAR_CRITICAL``).
  """
  star, chi = _newton(act, sw2, sb2, q, norm, kw)
  with np.errstate(divide="ignore", invalid="ignore"):
    window = C_TOL * chi * chi / (1 - chi)
    start = np.maximum(star - C_TOL * chi ** -BACK / (1 - chi), 0.0)
    steps = np.log(np.maximum(star, window) / window) / -np.log(chi) + BACK + 4
  sure = (chi > 0) & (chi < NEAR_CRITICAL) & (steps < max_iter)
  c, first = _iterate(act, sw2, sb2, q, norm, np.where(sure, start, 0.0),
                      max_iter, kw)
  # (where not sure, that was the full iteration from 0 already)
  redo = sure & (start > 0) & ~(first >= C_TOL)
  if redo.any():
    c[redo] = _iterate(act, sw2[redo], sb2[redo], q[redo], norm[redo],
                       np.zeros(int(redo.sum())), max_iter, kw)[0]
  return c


def fixed_points(act, sigma_w2, sigma_b2, *, tol_phase=1e-9, max_iter=20000,
                 **kw) -> list[FixedPoint]:
  """q*, chi_1, c*, the depth scale and the phase of each cell (``sigma_w2``,
  ``sigma_b2`` broadcast, row-major): a list of FixedPoint.

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
  sw2, sb2 = _flat(sigma_w2, sigma_b2)
  q, ok = length_fixed_points(act, sw2, sb2, max_iter=max_iter, **kw)
  q_eval = np.where(np.isfinite(q), q, 1e12)
  chi1 = sw2 * mf.derivative_moment(act, q_eval)
  norm = sw2 * mf.second_moment(act, q_eval, **kw) + sb2
  with np.errstate(divide="ignore", invalid="ignore"):
    slope = np.where(norm > 0, chi1 * q_eval / norm, chi1)
  phase = np.where(np.abs(slope - 1) <= tol_phase, 1, np.where(slope < 1, 0, 2))
  c = np.ones(sw2.size)
  chaos = phase == 2  # c = 1 is unstable: iterate the correlation map from 0
  if chaos.any():
    # normalised by the next length (= q* at a fixed point), so c stays in
    # [-1, 1] even where q* is infinite and q_eval is only a large stand-in
    args = (act, sw2[chaos], sb2[chaos], q_eval[chaos], norm[chaos])
    if mf.has_closed_form(act) and kw.get("method", "auto") in ("auto", "closed"):
      # cheap steps: the full iteration itself
      c[chaos] = _iterate(*args, np.zeros(int(chaos.sum())), max_iter, kw)[0]
    else:
      c[chaos] = _restart(*args, max_iter, kw)
  chi_c = (sw2 * q_eval * mf.derivative_kernel(act, q_eval, q_eval, c * q_eval)
           / np.where(norm > 0, norm, q_eval))
  with np.errstate(divide="ignore"):
    xi = np.where(np.abs(chi_c - 1) <= tol_phase, math.inf, -1 / np.log(chi_c))
  cos = mf.post_cosine(act, q_eval, q_eval, c * q_eval, **kw)
  return [FixedPoint(float(q[i]), bool(ok[i]), float(chi1[i]), float(c[i]),
                     float(chi_c[i]), abs(float(xi[i])), PHASES[phase[i]],
                     float(cos[i])) for i in range(sw2.size)]


def length_fixed_point(act, sigma_w2, sigma_b2, **kw):
  """(q*, converged) of one cell (``length_fixed_points``)."""
  q, ok = length_fixed_points(act, sigma_w2, sigma_b2, **kw)
  return float(q[0]), bool(ok[0])


def fixed_point(act, sigma_w2: float, sigma_b2: float, **kw) -> FixedPoint:
  """The FixedPoint of one (act, sigma_w2, sigma_b2) (``fixed_points``)."""
  return fixed_points(act, sigma_w2, sigma_b2, **kw)[0]
