"""The row normalisers of gaplab.nets.rows vs NumPy float64 references."""
import jax.numpy as jnp
import numpy as np
import pytest

from gaplab._errors import ConfigError
from gaplab.contrastive import losses
from gaplab.cone import stats
from gaplab.nets import rows


def _ref(x):
  x = np.asarray(x, np.float64)
  return x / np.sqrt(np.sum(x * x, axis=-1, keepdims=True))


def _x(seed=0, shape=(7, 5)):
  return np.random.default_rng(seed).normal(size=shape) * 3.0


def test_normalize_rows_is_the_division_by_the_norm():
  x = _x()
  for dt in (jnp.float32, jnp.float64):
    got = rows.normalize_rows(jnp.asarray(x, dt))
    # the exact expression the losses (and so training) were fixed with
    want = jnp.asarray(x, dt) / jnp.linalg.norm(jnp.asarray(x, dt), axis=-1, keepdims=True)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == dt
  np.testing.assert_allclose(rows.normalize_rows(jnp.asarray(x)), _ref(x), rtol=1e-15, atol=1e-15)
  # any leading axes: rows are the last axis
  x3 = _x(1, (2, 3, 4))
  np.testing.assert_allclose(rows.normalize_rows(jnp.asarray(x3)), _ref(x3), rtol=1e-15,
                             atol=1e-15)
  assert losses.normalize_rows is rows.normalize_rows


def test_unit_rows_is_overflow_safe_and_nan_for_degenerate_rows():
  x = _x()
  np.testing.assert_allclose(rows.unit_rows(jnp.asarray(x)), _ref(x), rtol=1e-15, atol=1e-15)
  big = x.copy()
  big[1] *= 1e300  # |x|^2 overflows: the plain division gives zeros there
  big[2] *= 1e-300  # |x|^2 underflows: the plain division gives NaN
  got = np.asarray(rows.unit_rows(jnp.asarray(big)))
  np.testing.assert_allclose(got, _ref(x), rtol=1e-14, atol=1e-15)
  assert not np.all(np.isfinite(np.asarray(rows.normalize_rows(jnp.asarray(big)))[1:3]))
  r, sq, ok = rows.row_scales(jnp.asarray(x))
  np.testing.assert_allclose(sq, np.sum(x * x, axis=1), rtol=1e-14)
  np.testing.assert_allclose(r, 1 / np.linalg.norm(x, axis=1), rtol=1e-15)
  assert np.all(ok)
  bad = x.copy()
  bad[3] = 0.0
  bad[5, 2] = np.inf
  got = np.asarray(rows.unit_rows(jnp.asarray(bad)))
  assert np.all(np.isnan(got[[3, 5]]))
  np.testing.assert_allclose(np.delete(got, [3, 5], 0), np.delete(_ref(x), [3, 5], 0),
                             rtol=1e-15, atol=1e-15)
  np.testing.assert_array_equal(np.asarray(rows.row_scales(jnp.asarray(bad))[2]),
                                [True] * 3 + [False, True, False, True])
  assert stats.unit_rows is rows.unit_rows


def test_float64_rows_match_the_reference():
  x = _x().astype(np.float32)
  got = rows.unit_rows_f64(x)
  assert got.dtype == np.float64
  np.testing.assert_allclose(got, _ref(x), rtol=1e-15, atol=1e-15)
  np.testing.assert_array_equal(rows.checked_unit_rows(x, "x"), got)
  x3 = _x(2, (3, 4, 5))
  np.testing.assert_array_equal(
      rows.checked_unit_rows(x3, "emb", ndim=3, min_shape=(2, 2), expected="(K, N, D)"),
      rows.unit_rows_f64(x3))
  z = np.ones((2, 3))
  z[1] = 0.0
  with np.errstate(invalid="ignore"):
    assert np.all(np.isnan(rows.unit_rows_f64(z)[1]))  # unchecked: NaN, no error


@pytest.mark.parametrize("x,kw,match", [
    (np.ones(3), {}, r"expected a 2-D array \(N, D\) with N >= 1, got shape \(3,\)"),
    (np.ones((0, 3)), {}, "N >= 1"),
    (np.ones((2, 3)), dict(ndim=3, expected="(K, N, D)"), r"expected \(K, N, D\)"),
    (np.ones((1, 3, 2)), dict(ndim=3, min_shape=(2, 2), expected="K >= 2"), "K >= 2"),
    (np.ones((2, 1, 2)), dict(ndim=3, min_shape=(2, 2), expected="N >= 2"), "N >= 2"),
    (np.array([[1.0, np.nan]]), {}, "expected finite values, got NaN or inf"),
    (np.array([[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]]), {}, "expected nonzero rows, got 2 zero"),
    (np.array([[[1.0], [0.0]], [[1.0], [1.0]]]), dict(ndim=3), "got 1 zero rows"),
])
def test_checked_rows_reject_bad_input(x, kw, match):
  with pytest.raises(ConfigError, match=match) as err:
    rows.checked_unit_rows(x, "emb", **kw)
  assert err.value.field == "emb"
