import numpy as np
import pytest

from gaplab.harness import checks
from gaplab.analysis import fits
from gaplab._errors import ConfigError


def test_exact_power_law_is_recovered():
  x = np.array([8, 16, 64, 256, 4096.0])
  f = fits.loglog_slope(x, 3.0 * x ** -1.25)
  assert f.slope == pytest.approx(-1.25, abs=1e-12)
  assert f.amplitude == pytest.approx(3.0, rel=1e-12)
  assert f.slope_se == pytest.approx(0.0, abs=1e-10)


def test_weighted_slope_se_matches_monte_carlo():
  # 2000 noisy replicates: the spread of fitted slopes equals the reported
  # standard error to within the ~3% sampling error of a 2000-sample sd (x5).
  rng = np.random.default_rng(0)
  x = np.geomspace(8, 4096, 10)
  y = 0.5 / x
  se = 0.05 * y
  slopes = [fits.loglog_slope(x, y + se * rng.standard_normal(10), se).slope
            for _ in range(2000)]
  reported = fits.loglog_slope(x, y, se).slope_se
  assert np.std(slopes) == pytest.approx(reported, rel=0.15)
  assert np.mean(slopes) == pytest.approx(-1.0, abs=5 * reported / np.sqrt(2000) + 1e-3)


def test_nonpositive_points_are_dropped_and_too_few_rejected():
  f = fits.loglog_slope([1, 2, 4, 8], [0.0, 1.0, 0.5, 0.25])
  assert f.n_points == 3 and f.slope == pytest.approx(-1.0)
  with pytest.raises(ValueError, match="at least 2"):
    fits.loglog_slope([1, 2], [1.0, -1.0])


def test_resolve_rejects_unknown_keys_and_wrong_types():
  preset = {"widths": [64, 128], "seeds": 4, "tol": 0.5, "name": "relu"}
  sizes = {"full": {}, "quick": {"seeds": 2}, "tiny": {"seeds": 1}}
  assert checks.resolve(preset, sizes, "quick", {"tol": 1})["tol"] == 1.0
  assert checks.resolve(preset, sizes, "quick", {})["seeds"] == 2
  with pytest.raises(ConfigError, match="unknown key") as e:
    checks.resolve(preset, sizes, "full", {"seed": 3})
  assert e.value.field == "seed"
  with pytest.raises(ConfigError, match="expected a value like 4, got 2.5"):
    checks.resolve(preset, sizes, "full", {"seeds": 2.5})
  with pytest.raises(ConfigError, match="expected a value like"):
    checks.resolve(preset, sizes, "full", {"widths": 64})
