"""Activations vs an independent float64 NumPy reference, the registry's NumPy
float64 twins (value, derivative, kink flag), and spec parsing."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gaplab.nets import activations
from gaplab._errors import ConfigError

import reference as ref

ELEMENTWISE = tuple(n for n in activations.NAMES if n != "maxout")

# Dense float64 grid through the interesting range, plus huge and tiny |x|
# (overflow of exp / x**3, underflow of the tails, signed zeros, subnormals).
GRID = np.concatenate([
    np.linspace(-40.0, 40.0, 8001),
    [-1e300, -1e150, -1e8, -1e3, -50.0, 50.0, 1e3, 1e8, 1e150, 1e300],
    [0.0, -0.0, 1e-300, -1e-300, 5e-324, -5e-324],
])

# rtol: JAX (XLA) and NumPy/libm evaluate exp/expm1/erf/tanh with different
# kernels, each good to a few ulp (measured <= 3e-15), so 1e-13 is a safe bound
# for any correct formula; a wrong constant or branch shows up as >= 1e-7.
# atol: outputs in the far tails (|y| << 1, e.g. x * Phi(x) at x = -30) may be
# computed as x * g(x) with g off by an ulp of an O(1) intermediate.
DEFAULT_TOL = dict(rtol=1e-13, atol=1e-16)
TOLS = {
    # 1 + tanh(z) cancels for x << 0: relative condition number ~1/(1 + tanh z),
    # up to ~1e3 where |y| > 1e-3 on this grid; both sides use the same formula.
    "gelu_tanh": dict(rtol=1e-11, atol=1e-14),
}


def _apply(name, x, param):
  act = activations.get(name)
  p = 0.0 if math.isnan(param) else param
  return np.asarray(act.fn(jnp.asarray(x, jnp.float64), jnp.asarray(p, jnp.float64)))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_matches_numpy_reference_at_default_param(name):
  spec = activations.parse(name)
  got = _apply(name, GRID, spec.param)
  assert got.dtype == np.float64
  np.testing.assert_allclose(got, ref.activation(name, GRID, spec.param),
                             **TOLS.get(name, DEFAULT_TOL))


@pytest.mark.parametrize("spec_str,name,param", [
    ("leaky_relu:0.2", "leaky_relu", 0.2),
    ("elu:0.5", "elu", 0.5),
    (" leaky_relu:-0.3 ", "leaky_relu", -0.3),
])
def test_parameterised_spec_parses_and_applies(spec_str, name, param):
  spec = activations.parse(spec_str)
  assert (spec.name, spec.param) == (name, param)
  np.testing.assert_allclose(_apply(name, GRID, spec.param),
                             ref.activation(name, GRID, param), **DEFAULT_TOL)


def test_documented_default_params():
  # Conventions from the science notes: PyTorch/JAX leaky slope 0.01, ELU alpha 1.
  assert activations.parse("leaky_relu").param == 0.01
  assert activations.parse("elu").param == 1.0
  assert math.isnan(activations.parse("relu").param)


def test_leaky_slope_one_is_linear_and_minus_one_is_abs():
  # exact: x * 1 and x * -1 are exact in floating point. Subnormals are left
  # out: XLA on CPU flushes them to zero, a platform choice, not the formula.
  x = GRID[(GRID == 0) | (np.abs(GRID) >= np.finfo(np.float64).tiny)]
  np.testing.assert_array_equal(_apply("leaky_relu", x, 1.0),
                                _apply("linear", x, math.nan))
  np.testing.assert_array_equal(_apply("leaky_relu", x, 1.0), x)
  np.testing.assert_array_equal(_apply("leaky_relu", x, -1.0),
                                _apply("abs", x, math.nan))
  np.testing.assert_array_equal(_apply("leaky_relu", x, -1.0), np.abs(x))


def test_gelu_variants_differ():
  # exact erf GELU (PyTorch default) and the tanh approximation (jax.nn.gelu
  # default) must not be silently the same function: they differ by ~1e-4.
  x = np.linspace(-3, 3, 61)
  diff = np.max(np.abs(_apply("gelu", x, math.nan) - _apply("gelu_tanh", x, math.nan)))
  assert 1e-5 < diff < 1e-2


def test_maxout_is_elementwise_max_of_two_maps():
  act = activations.get("maxout")
  assert act.arity == 2
  rng = np.random.default_rng(0)
  z1, z2 = rng.normal(size=(2, 5, 7))
  np.testing.assert_array_equal(np.asarray(act.fn(jnp.asarray(z1), jnp.asarray(z2))),
                                np.maximum(z1, z2))


def test_every_elementwise_activation_has_a_reference():
  assert set(ELEMENTWISE) == set(ref.ACTIVATIONS)


def test_unknown_name_lists_valid_names():
  with pytest.raises(ConfigError) as e:
    activations.parse("swish_2")
  assert e.value.field == "activations"
  assert "swish_2" in str(e.value)
  for name in activations.NAMES:
    assert name in e.value.message


@pytest.mark.parametrize("spec", ["relu:0.3", "tanh:1", "maxout:2"])
def test_param_on_activation_without_one_raises(spec):
  with pytest.raises(ConfigError, match="no parameter"):
    activations.parse(spec)


@pytest.mark.parametrize("spec", ["leaky_relu:abc", "leaky_relu:", "elu:inf",
                                  "elu:nan"])
def test_bad_param_raises(spec):
  with pytest.raises(ConfigError):
    activations.parse(spec)


def test_label_round_trips():
  for s in ("relu", "leaky_relu", "leaky_relu:0.2", "elu:0.5"):
    spec = activations.parse(s)
    again = activations.parse(spec.label)
    assert again.name == spec.name
    assert again.param == spec.param or math.isnan(again.param) == math.isnan(spec.param)


# -- the registry's NumPy float64 twins (np_fn, np_grad, kinked) ----------------
# maxout (arity 2) is the one entry without them: it has no mean-field theory,
# so np_fn / np_grad are None and meanfield refuses it; its JAX side is checked
# against np.maximum above (test_maxout_is_elementwise_max_of_two_maps).
SPECS = ELEMENTWISE + ("leaky_relu:0.2", "leaky_relu:-0.3", "elu:0.5")
TWIN_GRID = np.concatenate([
    np.linspace(-20.0, 20.0, 4001),
    [-1e3, -50.0, 50.0, 1e3, 0.0, -0.0, 1e-300, -1e-300, 1e-8, -1e-8],
])  # no subnormals: XLA on CPU flushes them to zero


def _twin(spec_str):
  spec = activations.parse(spec_str)
  act = activations.get(spec.name)
  return (lambda x: act.np_fn(x, spec.param)), (lambda x: act.np_grad(x, spec.param))


def test_every_elementwise_entry_has_a_numpy_twin_and_maxout_has_none():
  assert activations.NUMPY_NAMES == ELEMENTWISE
  for name in activations.NAMES:
    act = activations.get(name)
    assert (act.np_fn is not None) == (act.np_grad is not None) == (act.arity == 1)
    assert act.has_numpy == (act.arity == 1)
  assert not activations.get("maxout").kinked


@pytest.mark.parametrize("spec_str", SPECS)
def test_jax_function_matches_its_numpy_twin(spec_str):
  # Both sides are float64 and mostly the same formula; XLA and NumPy/libm
  # kernels for exp/erf/tanh differ by a few ulp (measured <= 1.3e-15
  # relative), so 1e-12 relative is a safe, still tight bound. gelu_tanh is the
  # exception in its left tail, where y = x (1 + tanh z) / 2 and 1 + tanh z
  # cancels: an ulp of tanh z ~ -1 is an absolute error of ~eps |x| / 2 in y
  # (measured 0.8 eps |x|), hence the extra 8 eps |x| term.
  spec = activations.parse(spec_str)
  f, _ = _twin(spec_str)
  with jax.enable_x64(True):
    got = _apply(spec.name, TWIN_GRID, spec.param)
  assert got.dtype == np.float64
  with np.errstate(over="ignore"):
    want = f(TWIN_GRID)
  bound = 1e-12 * np.abs(want)
  if spec.name == "gelu_tanh":
    bound = bound + 8 * np.finfo(np.float64).eps * np.abs(TWIN_GRID)
  assert np.all(np.abs(got - want) <= bound), np.max(np.abs(got - want) - bound)


@pytest.mark.parametrize("spec_str", SPECS)
def test_numpy_derivative_matches_central_difference(spec_str):
  # Central difference with h = 1e-5 on |x| <= 8, away from the kinks (all at
  # 0): truncation h^2/6 max|phi'''| <= 1.7e-11 * 2.26 (erf has the largest
  # phi''' of the registry, 4/sqrt(pi)), rounding eps max|phi| / h <=
  # 2.2e-16 * 8.4 / 1e-5 = 1.9e-10 (selu at x = 8); measured <= 1.1e-10. 1e-9
  # leaves a factor ~4; a wrong term in phi' is off by >= 1e-4 somewhere here.
  f, df = _twin(spec_str)
  x = np.linspace(-8.0, 8.0, 1601)
  x = x[np.abs(x) > 1e-3]
  xp, xm = x + 1e-5, x - 1e-5
  fd = (f(xp) - f(xm)) / (xp - xm)  # the actual step, not the rounded 2h
  np.testing.assert_allclose(df(x), fd, rtol=0, atol=1e-9)


@pytest.mark.parametrize("spec_str", SPECS)
def test_kinked_flag_marks_a_jump_in_phi_prime_or_phi_second_at_zero(spec_str):
  # kinked: phi is not analytic at 0 (quadrature splits there). With d = 1e-5
  # a smooth phi shows jumps of 2 d |phi''| <= 2e-5 and 3 d |phi'''| <= 7e-5;
  # every registered kink jumps by >= 0.5 (leaky_relu 1 - slope, elu alpha in
  # phi'').
  _, df = _twin(spec_str)
  d = 1e-5
  jump1 = abs(df(d) - df(-d))
  jump2 = abs((df(2 * d) - df(d)) / d - (df(-d) - df(-2 * d)) / d)
  kinked = activations.get(activations.parse(spec_str).name).kinked
  assert (max(jump1, jump2) > 1e-2) == kinked, (jump1, jump2)
