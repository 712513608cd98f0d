"""Activations vs an independent float64 NumPy reference, and spec parsing."""
import math

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
