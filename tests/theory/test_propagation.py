"""propagation.propagate's input kernel: covariance or cosine, and refusals."""
import math

import numpy as np
import pytest

from gaplab.theory import meanfield as mf
from gaplab.theory import propagation as pr

KW = dict(sigma_w2=1.0, sigma_b2=1 / 512, depth=3)


def test_cosine_and_covariance_give_the_same_layers():
  q = 1 / 512  # unit-norm inputs in 512 dimensions: q = |x|^2 / d
  by_cov = pr.propagate("tanh", q1=q, q2=q, c12=0.3 * q, **KW)
  by_cos = pr.propagate("tanh", q1=q, q2=q, cos=0.3, **KW)
  for key in ("cos", "one_minus_cos", "k1", "q1"):
    np.testing.assert_allclose(by_cos[key], by_cov[key], rtol=1e-14, atol=0)
  assert by_cos["cos"][0] == pytest.approx(0.3, abs=1e-15)


def test_layer_one_is_the_closed_form_relu_kernel():
  # one ReLU layer on (q, q, c): k = sigma_w2 q + sigma_b2 per map, then the
  # arc-cosine kernel; the float64 closed form is the reference
  q, cos = 0.7, -0.4
  out = pr.propagate("relu", q1=q, q2=q, cos=cos, **KW)
  k = 1.0 * q + 1 / 512
  rho = (1.0 * cos * q + 1 / 512) / k
  ref = (math.sqrt(1 - rho ** 2) + (math.pi - math.acos(rho)) * rho) / math.pi
  assert out["cos"][1] == pytest.approx(ref, rel=1e-12)


def test_a_cosine_passed_as_covariance_is_refused():
  # the old trap: the cosine of unit inputs in 512 dims passed as c12 with q = 1/512
  with pytest.raises(ValueError, match=r"\|c12\| <= sqrt\(q1 q2\).*not their cosine"):
    pr.propagate("relu", q1=1 / 512, q2=1 / 512, c12=0.9, **KW)


@pytest.mark.parametrize("bad", [dict(cos=1.5), dict(cos=0.2, c12=0.0), dict(),
                                 dict(dist=-1e-3), dict(dist=4.1)])
def test_impossible_kernels_are_refused(bad):
  with pytest.raises(ValueError, match="Expected"):
    pr.propagate("relu", q1=1.0, q2=1.0, **bad, **KW)


def test_parallel_inputs_are_allowed_at_the_bound():
  out = pr.propagate("relu", q1=2.0, q2=2.0, c12=2.0, **KW)  # identical inputs
  np.testing.assert_array_equal(out["one_minus_cos"], np.zeros(KW["depth"] + 1))
  assert mf.one_minus_cos(2.0, 2.0, 0.0) == 0.0


@pytest.mark.parametrize("act, sw2, sb2", [("linear", 1.0, 1 / 512), ("relu", 2.0, 0.01)])
def test_a_length_map_growing_by_sigma_b2_each_layer_has_no_fixed_point(act, sw2, sb2):
  # q_{l+1} = q_l + sigma_b^2 exactly (sigma_w^2 E[phi^2](q) = q here): no
  # finite q*, the cosine's slope tends to 1, so the phase is critical; the
  # iteration cap used to stop at q = 1 + 20000 sigma_b^2 and call it ordered
  q, converged = pr.length_fixed_point(act, sw2, sb2, max_iter=2000)
  assert q == math.inf and not converged
  fp = pr.fixed_point(act, sw2, sb2)
  assert fp.phase == "critical" and fp.xi_c == math.inf


@pytest.mark.parametrize("act, sw2, sb2, q_star", [
    ("linear", 0.5, 0.1, 0.2),                       # q* = sb2 / (1 - sw2)
    ("relu", 1.0, 1 / 512, 2 / 512)])                # q* = sb2 / (1 - sw2 / 2)
def test_geometric_length_maps_still_converge(act, sw2, sb2, q_star):
  q, converged = pr.length_fixed_point(act, sw2, sb2)
  assert converged and q == pytest.approx(q_star, rel=1e-12)
