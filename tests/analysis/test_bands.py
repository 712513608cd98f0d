"""Student-t quantiles and the seed bands drawn in every figure."""
import math

import numpy as np
import pytest

from gaplab.analysis import bands


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995])
def test_t_quantile_closed_forms(p):
  # df = 1 is Cauchy: tan(pi (p - 1/2)); df = 2: (2p - 1) / sqrt(2 p (1 - p)).
  assert bands.t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-12)
  assert bands.t_quantile(p, 2) == pytest.approx(
      (2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-12)


@pytest.mark.parametrize("p, df, table", [
    (0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 5, 2.571), (0.975, 10, 2.228),
    (0.975, 30, 2.042), (0.95, 10, 1.812), (0.995, 10, 3.169)])
def test_t_quantile_matches_the_printed_table(p, df, table):
  q = bands.t_quantile(p, df)
  assert isinstance(q, float)
  assert round(q, 3) == table


def test_t_quantile_normal_limit_and_symmetry():
  # Cornish-Fisher: t_{p, df} = z + g1(z)/df + g2(z)/df^2 + O(df^-3),
  # g1 = (z^3 + z)/4, g2 = (5z^5 + 16z^3 + 3z)/96; z = Phi^-1(0.975).
  z = 1.959963984540054
  df = 10_000
  g1, g2 = (z**3 + z) / 4, (5 * z**5 + 16 * z**3 + 3 * z) / 96
  assert bands.t_quantile(0.975, df) == pytest.approx(z + g1 / df + g2 / df**2, abs=1e-11)
  assert bands.t_quantile(0.975, 10**9) == pytest.approx(z, abs=1e-8)
  assert bands.t_quantile(0.025, 7) == pytest.approx(-bands.t_quantile(0.975, 7), rel=1e-14)


@pytest.mark.parametrize("df", [1, 3, 30])
def test_t_cdf_inverts_the_quantile(df):
  for p in (0.01, 0.3, 0.5, 0.9, 0.999):
    assert bands.t_cdf(bands.t_quantile(p, df), df) == pytest.approx(p, abs=1e-12)


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


@pytest.mark.parametrize("p, df", [(1.0, 3), (0.0, 3), (0.5, 0)])
def test_bad_quantile_arguments(p, df):
  with pytest.raises(ValueError, match="Expected 0 < p < 1"):
    bands.t_quantile(p, df)
