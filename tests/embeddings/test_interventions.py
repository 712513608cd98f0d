"""Post-hoc interventions against float64 NumPy brute force on small N.

Tolerances: outputs are renormalised in float64 and cast to the input dtype, so
unit rows hold to float32 rounding (1e-6) or float64 rounding (1e-12); blocked
and unblocked runs differ only in the summation order of float64 means
(~1e-16 relative), so they agree to 1e-12.
"""
import jax
import numpy as np
import pytest
import scipy.linalg

from gaplab._errors import ConfigError
from gaplab.embeddings import interventions as iv

NAMES = list(iv.INTERVENTIONS)


def unit(x):
  return x / np.linalg.norm(x, axis=1, keepdims=True)


def pair(n=120, d=6, dtype=np.float64, seed=0):
  """Unit rows with a gap: anisotropic clouds around two different offsets."""
  rng = np.random.default_rng(seed)
  scale = np.linspace(0.3, 1.5, d)
  a = unit(rng.normal(size=(n, d)) * scale + np.eye(d)[0] * 1.5)
  b = unit(rng.normal(size=(n, d)) * scale[::-1] + np.eye(d)[1] * 1.5)
  return a.astype(dtype), b.astype(dtype)


def run(name, a, b, block=iv.DEFAULT_BLOCK):
  fn = iv.INTERVENTIONS[name]
  if name == "shift":
    return fn(a, b, 0.7, block=block)
  if name == "mean_removal_noise":
    return fn(a, b, jax.random.key(3), sigma=0.05, block=block)
  return fn(a, b, block=block)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("name", NAMES)
def test_unit_rows_input_dtype_and_blocked_equals_full(name, dtype, tol):
  a, b = pair(dtype=dtype)
  a2, b2 = run(name, a, b)
  for u in (a2, b2):
    assert u.dtype == dtype and u.shape == a.shape
    np.testing.assert_allclose(np.linalg.norm(u.astype(np.float64), axis=1), 1.0, atol=tol)
  a3, b3 = run(name, a, b, block=7)
  np.testing.assert_allclose(a3, a2, atol=tol)
  np.testing.assert_allclose(b3, b2, atol=tol)


def test_gap_vector_and_delta_zero_is_identity():
  a, b = pair()
  np.testing.assert_allclose(iv.gap_vector(a, b, block=7), a.mean(0) - b.mean(0), atol=1e-15)
  for which in iv.WHICH:
    for unit_ in (True, False):
      a2, b2 = iv.shift(a, b, 0.0, which=which, unit=unit_)
      np.testing.assert_allclose(a2, a, atol=1e-15)
      np.testing.assert_allclose(b2, b, atol=1e-15)


def test_shift_both_is_move_features_and_positive_delta_closes():
  img, txt = pair()  # a = images, b = texts, as in shift_features.ipynb
  gap = np.linalg.norm(img.mean(0) - txt.mean(0))
  d = (img.mean(0) - txt.mean(0)) / gap
  for delta in (-1.0, 0.25, 0.5):
    t_ref, i_ref = unit(txt + 0.5 * delta * d), unit(img - 0.5 * delta * d)
    i2, t2 = iv.shift(img, txt, delta)
    np.testing.assert_allclose(i2, i_ref, atol=1e-14)
    np.testing.assert_allclose(t2, t_ref, atol=1e-14)
    moved = np.linalg.norm(t2.mean(0) - i2.mean(0))  # the notebook's gap_distance
    assert (moved < gap) if delta > 0 else (moved > gap)
  # a direction from another paired set (the notebook's MSCOCO direction_vec)
  other = np.random.default_rng(5).normal(size=img.shape[1])
  i2, t2 = iv.shift(img, txt, 0.5, direction=other)
  o = other / np.linalg.norm(other)
  np.testing.assert_allclose(i2, unit(img - 0.25 * o), atol=1e-14)
  np.testing.assert_allclose(t2, unit(txt + 0.25 * o), atol=1e-14)


def test_shift_one_side_and_raw_vector():
  a, b = pair()
  d = a.mean(0) - b.mean(0)
  a2, b2 = iv.shift(a, b, -0.2, which="a", unit=False)  # FairFace form, raw vector
  np.testing.assert_allclose(a2, unit(a + 0.2 * d), atol=1e-14)
  np.testing.assert_allclose(b2, b, atol=1e-15)
  a2, b2 = iv.shift(a, b, 0.3, which="b")
  np.testing.assert_allclose(a2, a, atol=1e-15)
  np.testing.assert_allclose(b2, unit(b + 0.3 * d / np.linalg.norm(d)), atol=1e-14)


def test_apply_default_delta_closes_the_prenormalised_gap():
  a, b = pair()
  d = a.mean(0) - b.mean(0)
  _, _, rec = iv.apply("shift", a, b)
  assert rec == {"name": "shift", "params": {"delta": pytest.approx(np.linalg.norm(d), rel=1e-12),
                                              "which": "both", "unit": True}}
  delta, g = rec["params"]["delta"], d / np.linalg.norm(d)
  np.testing.assert_allclose((a - delta / 2 * g).mean(0), (b + delta / 2 * g).mean(0), atol=1e-15)
  assert iv.apply("shift:unit=false", a, b)[2]["params"]["delta"] == 1.0


def test_mean_removal_what_zeroes_l2m():
  a, b = pair()
  a2, b2 = iv.mean_removal(a, b)
  ca, cb = a - a.mean(0), b - b.mean(0)
  np.testing.assert_allclose(a2, unit(ca), atol=1e-14)
  np.testing.assert_allclose(b2, unit(cb), atol=1e-14)
  # Before renormalisation the gap is 0; after it, small but not 0 (rows' |u - mu| differ).
  assert np.linalg.norm(ca.mean(0) - cb.mean(0)) < 1e-15
  after, before = np.linalg.norm(a2.mean(0) - b2.mean(0)), np.linalg.norm(a.mean(0) - b.mean(0))
  assert 1e-3 < after < 0.2 * before
  # Equal |u_i - mu| (rows c +- s e_k): renormalising keeps the mean at 0, l2m exactly 0.
  d = 5
  e = np.eye(d)[1:]
  a = np.concatenate([0.6 * np.eye(d)[0] + 0.8 * e, 0.6 * np.eye(d)[0] - 0.8 * e])
  b = np.concatenate([-0.6 * np.eye(d)[0] + 0.8 * e, -0.6 * np.eye(d)[0] - 0.8 * e])
  a2, b2 = iv.mean_removal(a, b)
  assert np.linalg.norm(a.mean(0) - b.mean(0)) == pytest.approx(1.2)
  assert np.linalg.norm(a2.mean(0) - b2.mean(0)) < 1e-15


def test_mean_removal_noise_formula_and_keys():
  a, b = pair(n=60)
  key = jax.random.key(7)
  ka, kb = jax.random.split(key)
  mr_a, mr_b = iv.mean_removal(a, b)
  a2, b2 = iv.mean_removal_noise(a, b, key, sigma=0.3)  # C3: noise on b (texts) only
  np.testing.assert_array_equal(a2, mr_a)
  z = iv.row_noise(kb, 0, 60, a.shape[1])
  np.testing.assert_allclose(b2, unit(b - b.mean(0) + 0.3 * z), atol=1e-14)
  a3, b3 = iv.mean_removal_noise(a, b, key, sigma=0.3, which="both")
  np.testing.assert_allclose(a3, unit(a - a.mean(0) + 0.3 * iv.row_noise(ka, 0, 60, 6)), atol=1e-14)
  np.testing.assert_array_equal(b3, b2)
  np.testing.assert_array_equal(iv.mean_removal_noise(a, b, key, sigma=0.0)[1], mr_b)
  assert not np.allclose(iv.mean_removal_noise(a, b, jax.random.key(8), sigma=0.3)[1], b2)
  # rows are standard normal (300 x 16 draws: sd of the mean 0.014, of the sd 0.010)
  big = iv.row_noise(key, 0, 300, 16)
  assert abs(big.mean()) < 0.06 and abs(big.std() - 1) < 0.05
  np.testing.assert_array_equal(iv.row_noise(key, 100, 110, 16), big[100:110])
  _, _, rec = iv.apply("mean_removal_noise", a, b)
  assert rec["params"] == {"sigma": pytest.approx(np.sqrt(0.016)), "seed": 0, "which": "b"}
  np.testing.assert_array_equal(iv.apply("mean_removal_noise", a, b)[1],
                                iv.mean_removal_noise(a, b, jax.random.key(0))[1])
  assert iv.apply("mean_removal_noise", a, b, key=key)[2]["params"]["seed"] is None
  with pytest.raises(ValueError, match="both"):
    iv.apply("mean_removal_noise:seed=1", a, b, key=key)
  with pytest.raises(ValueError, match="typed PRNG key"):
    iv.mean_removal_noise(a, b, 0)


def test_procrustes_is_scipy_and_orthogonal():
  a, b = pair(n=80, d=7)
  r = iv.procrustes_rotation(a, b, block=7)
  np.testing.assert_allclose(r.T @ r, np.eye(7), atol=1e-12)
  np.testing.assert_allclose(r, scipy.linalg.orthogonal_procrustes(a, b)[0], atol=1e-12)
  a2, b2 = iv.procrustes(a, b)
  np.testing.assert_allclose(a2, a @ r, atol=1e-14)
  np.testing.assert_allclose(b2, b, atol=1e-15)
  q = np.linalg.qr(np.random.default_rng(1).normal(size=(7, 7)))[0]  # b an exact rotation of a
  np.testing.assert_allclose(iv.procrustes_rotation(a, a @ q), q, atol=1e-12)


def test_project_out_gap_orthogonal_to_g():
  a, b = pair()
  d = a.mean(0) - b.mean(0)
  g = d / np.linalg.norm(d)
  a2, b2 = iv.project_out_gap(a, b)
  for u, u2 in ((a, a2), (b, b2)):
    # 1e-13: rounding of u - (u.g)g (1e-16) grows by 1/|u - (u.g)g| when renormalised
    np.testing.assert_allclose(u2 @ g, 0.0, atol=1e-13)
    np.testing.assert_allclose(u2, unit(u - np.outer(u @ g, g)), atol=1e-14)
  # before renormalisation the projected centroids coincide: P d = 0
  np.testing.assert_allclose((a - np.outer(a @ g, g)).mean(0), (b - np.outer(b @ g, g)).mean(0),
                             atol=1e-15)


def test_standardize_brute_force_with_constant_coordinate():
  rng = np.random.default_rng(2)
  a = np.concatenate([np.full((50, 1), 0.3), np.sqrt(1 - 0.09) * unit(rng.normal(size=(50, 5)))], 1)
  b = pair(n=50)[1]
  a2, b2 = iv.standardize(a, b, block=7)
  za = (a[:, 1:] - a[:, 1:].mean(0)) / a[:, 1:].std(0)
  np.testing.assert_allclose(a2, unit(np.concatenate([np.zeros((50, 1)), za], 1)), atol=1e-14)
  np.testing.assert_allclose(b2, unit((b - b.mean(0)) / b.std(0)), atol=1e-14)


def test_degenerate_cases_refused_by_count():
  a, _ = pair(n=20)
  with pytest.raises(ConfigError, match="norm 0.0e\\+00, so its direction is undefined"):
    iv.project_out_gap(a, a.copy())
  e = np.eye(4)
  a = np.stack([e[0], e[1], -e[1]])
  b = np.stack([-e[0], e[1], -e[1]])  # gap along e0: rows +-e0 project to 0
  with pytest.raises(ConfigError, match="1 of 3 rows of a and 1 of 3 rows of b zero") as err:
    iv.project_out_gap(a, b)
  assert err.value.field == "intervention"
  same = np.tile(e[2], (5, 1))
  with pytest.raises(ConfigError, match="5 of 5 rows of a and 0 of 5"):
    iv.mean_removal(same, pair(n=5, d=4)[1])
  with pytest.raises(ValueError, match="float32/float64"):
    iv.mean_removal(a.astype(np.float16), b)
  with pytest.raises(ConfigError, match="finite vector of 4 entries"):
    iv.shift(a, b, 1.0, direction=np.ones(3))


def test_parse_and_apply_spellings():
  assert iv.parse("procrustes") == ("procrustes", {})
  assert iv.parse("shift:delta=0.5,which=a,unit=false") == (
      "shift", {"delta": 0.5, "which": "a", "unit": False})
  assert iv.parse(" mean_removal_noise:sigma=0.05, seed=0") == (
      "mean_removal_noise", {"sigma": 0.05, "seed": 0})
  assert iv.parse("shift:delta=-2") == ("shift", {"delta": -2.0})
  a, b = pair(n=30)
  a2, b2, rec = iv.apply(("shift", {"delta": 0.5, "which": "a"}), a, b)
  assert rec == {"name": "shift", "params": {"delta": 0.5, "which": "a", "unit": True}}
  np.testing.assert_array_equal(a2, iv.shift(a, b, 0.5, which="a")[0])
  assert iv.apply("standardize", a, b)[2] == {"name": "standardize", "params": {}}


@pytest.mark.parametrize("spec,match", [
    ("shfit", "expected one of shift, mean_removal, .*got 'shfit'"),
    ("", "expected NAME"),
    ("shift:", "after ':'"),
    ("shift:delta", "key=value"),
    ("shift:delta=1,delta=2", "once"),
    ("shift:gamma=1", "parameter of shift \\(one of delta, which, unit\\), got 'gamma'"),
    ("procrustes:delta=1", "one of none"),
    ("shift:delta=abc", "shift delta a finite number, got 'abc'"),
    ("shift:delta=nan", "finite number"),
    ("shift:delta=true", "finite number"),
    ("shift:which=c", "which one of both, a, b, got 'c'"),
    ("shift:unit=1", "true or false, got 1"),
    ("mean_removal_noise:sigma=-1", ">= 0"),
    ("mean_removal_noise:seed=1.5", "integer"),
])
def test_parse_errors(spec, match):
  with pytest.raises(ConfigError, match=match) as err:
    iv.parse(spec)
  assert err.value.field == "intervention"
