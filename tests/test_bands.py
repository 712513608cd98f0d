"""Student-t quantiles and the seed bands drawn in every figure."""
import math

import numpy as np
import pytest

from gaplab.analysis import bands


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995])
def test_t_quantile_closed_forms(p):
  # df = 1 is Cauchy: tan(pi (p - 1/2)); df = 2: (2p - 1) / sqrt(2 p (1 - p)).
  # Simpson on 4000 panels of a smooth integrand and bisection to 1e-10 give
  # far better than 1e-8.
  assert bands.t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-8)
  assert bands.t_quantile(p, 2) == pytest.approx(
      (2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-8)


def test_t_quantile_normal_limit_and_symmetry():
  # t_{0.975, df} = z + (z^3 + z) / (4 df) + O(df^-2), z = 1.959963984540054
  z = 1.959963984540054
  df = 10_000
  assert bands.t_quantile(0.975, df) == pytest.approx(z + (z**3 + z) / (4 * df), abs=1e-7)
  assert bands.t_quantile(0.025, 7) == pytest.approx(-bands.t_quantile(0.975, 7), abs=1e-9)


def test_band_covers_the_mean_95_percent_of_the_time():
  rng = np.random.default_rng(0)
  trials, n = 4000, 5
  x = rng.normal(1.0, 2.0, size=(trials, n))
  _, lo, hi = bands.mean_band(x, axis=1)
  coverage = np.mean((lo <= 1.0) & (1.0 <= hi))
  # binomial sd of the coverage: sqrt(0.95 * 0.05 / 4000) = 0.0034; 4 sd bound
  assert abs(coverage - 0.95) < 4 * 0.0034


def test_one_seed_has_no_band():
  m, lo, hi = bands.mean_band(np.array([[0.3, 0.4]]), axis=0)
  np.testing.assert_array_equal(m, lo)
  np.testing.assert_array_equal(m, hi)


def test_bad_quantile_arguments():
  with pytest.raises(ValueError, match="Expected 0 < p < 1"):
    bands.t_quantile(1.0, 3)
