"""fixedpoints.fixed_points (many cells at once, Newton restart for quadrature
kernels) against a reference: the plain one-cell iterations of the length and
correlation maps (the scalar loops the vectorised code replaced)."""
import math

import numpy as np
import pytest

from gaplab.theory import fixedpoints as fx
from gaplab.theory import meanfield as mf


def _reference(act, sw2, sb2, max_iter=20000, chaotic=True):
  """(q*, converged, c*) of one cell: q iterated from 1, c from 0 (if
  ``chaotic``, else c* = 1), in Python."""
  q, half, ok = 1.0, None, False
  for i in range(max_iter):
    new = float(sw2 * mf.second_moment(act, q) + sb2)
    if not math.isfinite(new) or new > 1e12:
      q = math.inf
      break
    if abs(new - q) <= 1e-14 * max(1.0, q):
      q, ok = new, True
      break
    if i == max_iter // 2:
      half = new - q
    step, q = new - q, new
  else:
    if half is not None and half > 0 and step >= 0.5 * half:
      q = math.inf
  qe = q if math.isfinite(q) else 1e12
  norm = float(sw2 * mf.second_moment(act, qe) + sb2)
  c = 0.0 if chaotic else 1.0
  for _ in range(max_iter if chaotic else 0):
    new = float((sw2 * mf.kernel(act, qe, qe, c * qe) + sb2) / norm)
    done, c = abs(new - c) < 1e-14, new
    if done:
      break
  return q, ok, c


# chaotic cells (and one ordered, one with a length map running to 0), with
# cheap correlation iterations (chi_c <= 0.9: < 300 steps)
CELLS = [(4.0, 0.05), (4.0, 0.3), (3.0, 0.1), (1.0, 0.1), (0.5, 0.0)]


@pytest.mark.parametrize("act", ["erf", "relu"])
def test_closed_form_cells_follow_the_one_cell_iterations_exactly(act):
  sw2, sb2 = np.array(CELLS).T
  fps = fx.fixed_points(act, sw2, sb2)
  for (w, b), fp in zip(CELLS, fps):
    q, ok, c = _reference(act, w, b, chaotic=fp.phase == "chaotic")
    assert (fp.q_star, fp.q_converged, fp.c_star) == (q, ok, c)  # the same iterates


def test_newton_restart_ends_where_the_full_iteration_ends():
  # tanh (a 2-D quadrature per step): c* by Newton, then the last steps of the
  # iteration; it stops within the stopping window's width (C_TOL chi ~ 0.9e-14)
  # of where the full iteration stops, plus the kernel's rounding (1e-16 /
  # (1 - chi) ~ 1e-15 here): 2e-14 allowed (Newton's c* itself is 5-8e-14 off)
  cells = CELLS[:3]
  sw2, sb2 = np.array(cells).T
  fps = fx.fixed_points("tanh", sw2, sb2)
  for (w, b), fp in zip(cells, fps):
    q, ok, c = _reference("tanh", w, b)
    assert fp.phase == "chaotic" and fp.chi_c < 0.9
    assert (fp.q_star, fp.q_converged) == (q, ok)
    assert abs(fp.c_star - c) <= 2e-14


def test_a_capped_iteration_falls_back_to_the_full_iteration():
  # at max_iter = 40 the iteration from 0 stops before its window (tanh at
  # (4, 0.3) needs ~200 steps): Newton's c* would be wrong there, the batched
  # full iteration gives the reference's capped value
  fp = fx.fixed_point("tanh", 4.0, 0.3, max_iter=40)
  q, ok, c = _reference("tanh", 4.0, 0.3, max_iter=40)
  assert fp.phase == "chaotic"
  assert (fp.q_star, fp.q_converged, fp.c_star) == (q, ok, c)


def test_one_cell_equals_the_batch():
  sw2, sb2 = np.array(CELLS).T
  batch = fx.fixed_points("gelu", sw2, sb2)
  assert batch == [fx.fixed_point("gelu", w, b) for w, b in CELLS]
