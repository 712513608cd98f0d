"""Mean-field theory: closed forms vs quadrature vs Monte Carlo, known values.

Tolerances: closed forms and the split Gauss-Legendre rule are both accurate to
a few ulps of O(1) numbers (2e-15 seen), so they must agree to 1e-10, the
issue's bar. Monte Carlo checks use 5 standard errors of the sample mean.
"""
import math

import numpy as np
import pytest

from gaplab.nets import activations
from gaplab._errors import ConfigError
from gaplab.nets import inits
from gaplab.theory import meanfield as mf
from gaplab.theory import propagation as pr

CLOSED = ["linear", "relu", "leaky_relu", "leaky_relu:0.2", "abs", "erf", "gelu"]
QUAD_ONLY = ["gelu_tanh", "quick_gelu", "sigmoid", "tanh", "elu", "elu:0.5", "selu",
             "silu", "softplus"]
ALL = CLOSED + QUAD_ONLY


def grid(q_max=4.0):
  """(q1, q2, c12) over norms 0.05..4 and correlations -1..1, edges included."""
  q = np.array([0.05, 0.7, 1.0, 4.0])
  q = q[q <= q_max]
  rho = np.array([-1.0, -0.999999, -0.5, 0.0, 0.3, 0.9, 0.99999, 1 - 1e-12, 1.0])
  q1, q2, r = np.meshgrid(q, q, rho, indexing="ij")
  return q1, q2, r * np.sqrt(q1 * q2)


@pytest.mark.parametrize("act", CLOSED)
def test_closed_forms_equal_quadrature(act):
  q1, q2, c = grid()
  closed = mf.kernel(act, q1, q2, c, method="closed")
  np.testing.assert_allclose(mf.kernel(act, q1, q2, c, method="legendre"), closed,
                             rtol=0, atol=1e-10)


@pytest.mark.parametrize("act", ["linear", "erf", "gelu"])
def test_hermite_matches_closed_forms_for_smooth_activations(act):
  # plain Gauss-Hermite converges exponentially for smooth phi, but erf(sqrt(q) z)
  # grows like exp(q y^2) off the real axis: at q = 4 order 96 is only ~4e-7
  q1, q2, c = grid(q_max=1.0)
  np.testing.assert_allclose(mf.kernel(act, q1, q2, c, method="hermite", order=96),
                             mf.kernel(act, q1, q2, c, method="closed"), atol=1e-10)


@pytest.mark.parametrize("act", QUAD_ONLY)
def test_quadrature_has_converged(act):
  q1, q2, c = grid()
  assert np.max(mf.convergence_error(act, q1, q2, c)) < 1e-12


def test_hermite_is_slow_at_a_kink_which_the_split_rule_fixes():
  # documents why 'legendre' is the default: GH on relu is only ~1e-3 accurate
  err_gh = mf.convergence_error("relu", 1.0, 1.0, 0.5, method="hermite")
  err_split = mf.convergence_error("relu", 1.0, 1.0, 0.5, method="legendre")
  assert err_gh > 1e-6 and err_split < 1e-14


@pytest.mark.parametrize("act", ALL)
def test_kernel_matches_monte_carlo(act):
  rng = np.random.default_rng(0)
  q1, q2, c = 1.3, 0.6, 0.5
  chol = np.linalg.cholesky([[q1, c], [c, q2]])
  u = chol @ rng.standard_normal((2, 200_000))
  phi, _, _ = mf.functions(act)
  prod = phi(u[0]) * phi(u[1])
  se = prod.std() / math.sqrt(prod.size)
  assert abs(prod.mean() - mf.kernel(act, q1, q2, c)) < 5 * se


@pytest.mark.parametrize("act", ALL)
def test_functions_reads_the_activation_registry(act):
  """phi, phi' and the kink flag are the registry's NumPy twins, parameter
  bound; that they match the engine's JAX phi (and that phi' is phi's
  derivative) is checked in test_activations."""
  spec = activations.parse(act)
  entry = activations.get(spec.name)
  x = np.linspace(-12, 12, 2001)
  phi, dphi, kinked = mf.functions(act)
  np.testing.assert_array_equal(phi(x), entry.np_fn(x, spec.param))
  np.testing.assert_array_equal(dphi(x), entry.np_grad(x, spec.param))
  assert kinked is entry.kinked
  assert mf.functions(spec)[2] is kinked


def test_known_values():
  # ReLU maps orthogonal inputs to cosine exactly 1/pi
  assert mf.post_cosine("relu", 1.0, 2.0, 0.0) == pytest.approx(1 / math.pi, abs=1e-15)
  # leaky slope 1 is linear and slope -1 is |x|
  q1, q2, c = grid()
  np.testing.assert_allclose(mf.kernel("leaky_relu:1", q1, q2, c), c, atol=1e-15)
  np.testing.assert_allclose(mf.kernel("leaky_relu:-1", q1, q2, c),
                             mf.kernel("abs", q1, q2, c), atol=1e-15)
  # E[relu'(u1) relu'(u2)] = (pi - theta) / 2pi; E[erf'(sqrt(q) z)^2] = 4 / (pi sqrt(1 + 4q))
  theta = np.arccos(np.clip(c / np.sqrt(q1 * q2), -1, 1))
  inside = np.abs(np.cos(theta)) < 1  # the step function's kernel jumps at |rho| = 1
  np.testing.assert_allclose(mf.derivative_kernel("relu", q1, q2, c)[inside],
                             ((np.pi - theta) / (2 * np.pi))[inside], atol=1e-10)
  q = np.array([0.01, 1.0, 9.0])
  np.testing.assert_allclose(mf.derivative_moment("erf", q),
                             4 / (np.pi * np.sqrt(1 + 4 * q)), atol=1e-13)


@pytest.mark.parametrize("sw2", [0.5, 1.0, 2.0, 3.0])
def test_relu_chi1_is_half_sigma_w2(sw2):
  fp = pr.fixed_point("relu", sw2, 0.01 if sw2 < 2 else 0.0)
  assert fp.chi1 == pytest.approx(sw2 / 2, abs=1e-12)
  # at sigma_w^2 = 3 (no bias) chi_1 > 1 only makes the length explode: ReLU is
  # homogeneous, its cosine map does not depend on sigma_w, so the cosine is
  # critical (closes as a power law), not chaotic
  assert fp.phase == {0.5: "ordered", 1.0: "ordered", 2.0: "critical", 3.0: "critical"}[sw2]
  assert fp.c_star == 1.0


def test_paper_relu_setting_is_ordered_with_chi_half():
  fp = pr.fixed_point("relu", 1.0, 1 / 512)
  # q* = q*/2 + 1/512
  assert fp.q_star == pytest.approx(1 / 256, rel=1e-12)
  assert fp.chi1 == pytest.approx(0.5, abs=1e-12)
  assert fp.xi_c == pytest.approx(1 / math.log(2), rel=1e-10)
  assert fp.phase == "ordered" and fp.c_star == 1.0


def test_linear_network_closed_form():
  # sigma_w = 1 on orthogonal inputs of per-coordinate variance q0:
  # c_l = l sigma_b^2 / (q0 + l sigma_b^2)
  q0, sb2, depth = 1.7, 0.05, 30
  out = pr.propagate("linear", sigma_w2=1.0, sigma_b2=sb2, depth=depth, q1=q0, q2=q0,
                     c12=0.0)
  layers = np.arange(depth + 1)
  np.testing.assert_allclose(out["cos"], layers * sb2 / (q0 + layers * sb2), atol=1e-14)


def test_critical_relu_power_law():
  # 1 - c_l -> 9 pi^2 / (2 l^2); the correction is O(log l / l), so the ratio
  # approaches 1 from below: within 2% at l = 2000, 3% at 1000
  out = pr.propagate("relu", sigma_w2=2.0, sigma_b2=0.0, depth=2000, q1=1.0, q2=1.0,
                     c12=0.0)
  ratio = lambda l: (1 - out["cos"][l]) * l * l / (9 * math.pi**2 / 2)
  assert 0.97 < ratio(1000) < ratio(2000) < 1.0
  assert ratio(2000) > 0.98


def test_ordered_relu_closes_geometrically_at_rate_chi1():
  out = pr.propagate("relu", sigma_w2=1.0, sigma_b2=1 / 512, depth=40, q1=1.0, q2=1.0,
                     c12=0.0)
  gap = 1 - out["pre_corr"][1:]
  rates = gap[21:] / gap[20:-1]  # after the transient, 1 - c halves per layer
  np.testing.assert_allclose(rates, 0.5, atol=1e-3)


def test_pre_and_post_activation_cosines_differ_with_bias():
  out = pr.propagate("relu", sigma_w2=1.0, sigma_b2=1 / 512, depth=1, q1=1.0, q2=1.0,
                     c12=0.0)
  # layer 1: pre-activation correlation ~ sigma_b^2 / q ~ 0.002, post ~ 0.32
  assert out["pre_corr"][1] == pytest.approx((1 / 512) / (1 + 1 / 512), rel=1e-12)
  assert 0.31 < out["cos"][1] < 0.33


@pytest.mark.parametrize("scheme,expect", [
    ("gaussian", (1.69, 0.01)), ("he", (2 * 1.69, 0.01)), ("lecun", (1.69, 0.01)),
    ("xavier", (1.69, 0.01)), ("xavier_uniform", (1.69, 0.01)),
    ("torch", (1.69 / 3, 1 / (3 * 64))), ("orthogonal", (1.69, 0.01))])
def test_effective_variances_of_each_scheme(scheme, expect):
  # square 64 x 64 layer, gain 1.3, sigma_b 0.1
  got = inits.variances(scheme, 1.3, 0.1, True, 64, 64)
  assert got == pytest.approx(expect, rel=1e-12)
  assert inits.variances(scheme, 1.3, 0.1, False, 64, 64)[1] == 0


def test_phases_of_the_cosine():
  # tanh with a large sigma_w and small bias: c* < 1, the cone never closes
  fp = pr.fixed_point("tanh", 4.0, 0.01)
  assert fp.phase == "chaotic" and fp.c_star < 0.5 and fp.chi_c < 1
  # erf at the paper's setting: chi_1 = sigma_w^2 E[erf'^2] > 1 at q* ~ 0.05
  assert pr.fixed_point("erf", 1.0, 1 / 512).phase == "chaotic"
  # tanh at sigma_b = 0, sigma_w^2 < 1: q -> 0, where tanh is linear: critical
  assert pr.fixed_point("tanh", 0.8, 0.0).phase == "critical"
  # ReLU with a bias above sigma_w^2 = 2: q explodes, the bias fades, critical
  fp = pr.fixed_point("relu", 3.0, 0.1)
  assert fp.phase == "critical" and not fp.q_converged


def test_maxout_has_no_theory_yet():
  with pytest.raises(ValueError, match="mean-field theory"):
    mf.kernel("maxout", 1.0, 1.0, 0.5)
  with pytest.raises(ConfigError, match="mean-field theory") as e:
    mf.functions("maxout")
  assert e.value.field == "activations"
