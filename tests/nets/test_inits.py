"""Initialisation schemes: moments, bounds and orthogonality of W = scale * base.

Expected variances come from the scheme definitions (PyTorch / Glorot / He
conventions), written out here, not read from ``gaplab.nets.inits``.

Tolerances are derived from the sample size. For n i.i.d. entries with mean 0,
variance s2 and kurtosis k = E w^4 / s2^2, the second moment m2 = mean(w^2) has
mean s2 and standard deviation s2 * sqrt((k - 1) / n) (k = 3 for a Gaussian,
9/5 for a uniform); the sample mean has standard deviation sqrt(s2 / n). We
allow 6 standard deviations: a false alarm has probability ~2e-9 per check,
while a wrong factor (2 vs 1, fan_in vs fan_out) moves m2 by >= 25%.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gaplab.nets import inits
from gaplab._errors import ConfigError

GAIN = 1.3
SIGMA_B = 0.37
N_SIGMA = 6.0

# Per scheme: (family, variance of W, kurtosis of the entries)
EXPECTED = {
    "gaussian": ("normal", lambda g, fi, fo: g**2 / fi, 3.0),
    "lecun": ("normal", lambda g, fi, fo: g**2 / fi, 3.0),
    "he": ("normal", lambda g, fi, fo: 2 * g**2 / fi, 3.0),
    "xavier": ("normal", lambda g, fi, fo: 2 * g**2 / (fi + fo), 3.0),
    # U(+-a) has variance a^2 / 3: a = g sqrt(6 / (fi + fo)) -> 2 g^2 / (fi + fo)
    "xavier_uniform": ("uniform", lambda g, fi, fo: 2 * g**2 / (fi + fo), 1.8),
    # PyTorch nn.Linear: a = g / sqrt(fi) -> g^2 / (3 fi)
    "torch": ("uniform", lambda g, fi, fo: g**2 / (3 * fi), 1.8),
}
UNIFORM_BOUND = {
    "xavier_uniform": lambda g, fi, fo: g * math.sqrt(6.0 / (fi + fo)),
    "torch": lambda g, fi, fo: g / math.sqrt(fi),
}
SHAPES = {"tall": (400, 300), "square": (350, 350), "wide": (300, 400)}


def _key(i=0):
  return jax.random.fold_in(jax.random.key(20240917), i)


def _weight(name, fi, fo, gain=GAIN, which=1, key=None):
  w_scale, _, _ = inits.scales(name, gain, SIGMA_B, True, fi, fo)
  family = inits.get(name).family
  base = inits.weight_base(_key() if key is None else key, family, which, fi, fo,
                           jnp.float64)
  assert base.shape == (fi, fo) and base.dtype == jnp.float64
  return w_scale * np.asarray(base)


def _check_moments(sample, var, kurt):
  n = sample.size
  m2 = np.mean(sample**2)
  # see module docstring: 6 sigma of the second-moment estimate
  assert abs(m2 / var - 1) < N_SIGMA * math.sqrt((kurt - 1) / n), (m2, var)
  # 6 sigma of the sample mean
  assert abs(np.mean(sample)) < N_SIGMA * math.sqrt(var / n)
  # kurtosis tells Gaussian (3) from uniform (1.8); its estimate has standard
  # deviation <= sqrt(24 / n) ~ 0.015 here, so 0.1 is > 6 sigma
  assert abs(np.mean(sample**4) / m2**2 - kurt) < 0.1


def test_every_scheme_is_covered():
  assert set(inits.NAMES) == set(EXPECTED) | {"orthogonal"}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_weight_moments(name, shape):
  fi, fo = SHAPES[shape]
  family, var, kurt = EXPECTED[name]
  assert inits.get(name).family == family
  _check_moments(_weight(name, fi, fo).ravel(), var(GAIN, fi, fo), kurt)


@pytest.mark.parametrize("name", sorted(UNIFORM_BOUND))
def test_uniform_bounds_are_exact(name):
  fi, fo = SHAPES["tall"]
  bound = UNIFORM_BOUND[name](GAIN, fi, fo)
  w_scale, _, _ = inits.scales(name, GAIN, SIGMA_B, True, fi, fo)
  # same number from two algebraically equal float formulas: a few ulp apart
  assert w_scale == pytest.approx(bound, rel=1e-14)
  w = _weight(name, fi, fo)
  # |base| <= 1 and rounding is monotone, so |w| <= scale holds exactly
  assert np.max(np.abs(w)) <= w_scale
  # and the bound is reached: P(all 120000 |u| < 0.999) = 0.999^120000 ~ e^-120
  assert np.max(np.abs(w)) > 0.999 * bound


@pytest.mark.parametrize("shape", SHAPES)
def test_orthogonal_is_gain_times_semi_orthogonal(shape):
  fi, fo = (s // 10 for s in SHAPES[shape])
  w = _weight("orthogonal", fi, fo)
  # tall: orthonormal columns; wide: orthonormal rows; square: both
  gram = w.T @ w if fi >= fo else w @ w.T
  # float64 Householder QR is orthogonal to ~n * eps ~ 1e-14
  np.testing.assert_allclose(gram, GAIN**2 * np.eye(min(fi, fo)), rtol=0, atol=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
def test_orthogonal_is_haar_qr_of_the_normal_draw(shape):
  """Q comes from the same Gaussian draw Z as the normal family (common random
  numbers), with R = Q^T Z upper triangular with a positive diagonal: that sign
  convention makes Q exactly Haar (Mezzadri 2007)."""
  fi, fo = (s // 10 for s in SHAPES[shape])
  z = np.asarray(inits.weight_base(_key(), "normal", 1, fi, fo, jnp.float64))
  q = np.asarray(inits.weight_base(_key(), "orthogonal", 1, fi, fo, jnp.float64))
  if fi < fo:
    z, q = z.T, q.T
  r = q.T @ z
  # Z = Q R to rounding: entries below the diagonal are ~1e-15 * |Z|
  np.testing.assert_allclose(np.tril(r, -1), 0, atol=1e-10)
  assert np.all(np.diag(r) > 0)
  np.testing.assert_allclose(q @ r, z, atol=1e-10)


def test_orthogonal_variance_matches_gaussian_scale_for_tall():
  # tall Q has fo unit columns in fi dims: mean square 1/fi, like N(0, 1/fi)
  fi, fo = SHAPES["tall"]
  w = _weight("orthogonal", fi, fo, gain=1.0)
  # exact identity (sum of squares = fo), up to rounding
  assert np.mean(w**2) == pytest.approx(1 / fi, rel=1e-10)


def test_maps_and_streams_are_independent():
  """Map 1, map 2 and the biases use distinct streams: their correlation is
  ~N(0, 1/n), so |corr| < 6/sqrt(n) unless two streams coincide."""
  fi, fo = 200, 150
  k = _key(3)
  draws = [np.asarray(inits.weight_base(k, fam, which, fi, fo, jnp.float64)).ravel()
           for fam in ("normal", "uniform") for which in (1, 2)]
  for which in (1, 2):
    bn, bu = inits.bias_bases(k, which, fi * fo, jnp.float64)
    draws += [np.asarray(bn), np.asarray(bu)]
  corr = np.corrcoef(np.stack(draws))
  off = corr[~np.eye(len(draws), dtype=bool)]
  # 6 sigma for a correlation of n = 30000 independent pairs
  assert np.max(np.abs(off)) < N_SIGMA / math.sqrt(fi * fo)


@pytest.mark.parametrize("name", sorted(set(inits.NAMES) - {"torch"}))
def test_bias_is_normal_with_absolute_sigma_b(name):
  n = 30000
  scales = [inits.scales(name, GAIN, SIGMA_B, True, fi, fo)
            for fi, fo in [(10, 20), (512, 512), (3000, 7)]]
  # sigma_b is absolute: never rescaled with fan_in or width
  assert all(s[1:] == (SIGMA_B, 0.0) for s in scales)
  bn, _ = inits.bias_bases(_key(1), 1, n, jnp.float64)
  _check_moments(scales[0][1] * np.asarray(bn), SIGMA_B**2, 3.0)


@pytest.mark.parametrize("fi", [3, 64, 1000])
def test_torch_bias_is_uniform_one_over_sqrt_fan_in(fi):
  n = 30000
  _, bn_scale, bu_scale = inits.scales("torch", GAIN, SIGMA_B, True, fi, 17)
  bound = 1 / math.sqrt(fi)
  # torch ignores gain and sigma_b for the bias; same float formula -> exact
  assert bn_scale == 0.0 and bu_scale == bound
  assert inits.scales("torch", 2.5, 0.0, True, fi, 17)[2] == bound
  _, bu = inits.bias_bases(_key(2), 1, n, jnp.float64)
  b = bu_scale * np.asarray(bu)
  assert np.max(np.abs(b)) <= bound
  # P(all 30000 |u| < 0.999) = 0.999^30000 ~ e^-30
  assert np.max(np.abs(b)) > 0.999 * bound
  _check_moments(b, bound**2 / 3, 1.8)


@pytest.mark.parametrize("name", inits.NAMES)
def test_no_bias_gives_zero_bias_scales(name):
  with_bias = inits.scales(name, GAIN, SIGMA_B, True, 40, 30)
  without = inits.scales(name, GAIN, SIGMA_B, False, 40, 30)
  assert without == (with_bias[0], 0.0, 0.0)


def test_unknown_scheme_lists_valid_names():
  with pytest.raises(ConfigError) as e:
    inits.get("kaiming_nope")
  assert e.value.field == "inits"
  for name in inits.NAMES:
    assert name in e.value.message


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_bases_have_requested_dtype_and_shape(dtype):
  for family in inits.FAMILIES:
    for which in (1, 2):
      w = inits.weight_base(_key(), family, which, 6, 9, dtype)
      assert w.shape == (6, 9) and w.dtype == dtype
  bn, bu = inits.bias_bases(_key(), 2, 9, dtype)
  assert bn.shape == bu.shape == (9,) and bn.dtype == bu.dtype == dtype
