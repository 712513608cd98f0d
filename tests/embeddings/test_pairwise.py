"""Pairwise statistics against float64 NumPy brute force on small N (full (N, N)
matrices), the blocked paths against the unblocked ones, and the subset
estimates against the exact values within their standard errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gaplab.contrastive import metrics as cmetrics
from gaplab.embeddings import pairwise
from gaplab.embeddings.blocks import subset


def _cone_rows(n, d, seed, dtype=np.float32):
  """Unit rows of an anisotropic cone (not uniform: every statistic is generic)."""
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, d)) * np.linspace(0.3, 1.5, d) + np.eye(d)[0]
  return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(dtype)


def _brute_uniformity(u, t=2.0):
  u = u.astype(np.float64)
  d2 = np.maximum(2 - 2 * u @ u.T, 0)
  off = ~np.eye(len(u), dtype=bool)
  return np.log(np.mean(np.exp(-t * d2[off])))


def test_uniformity_exact_matches_bruteforce_and_contrastive_metric():
  u = _cone_rows(200, 16, 0)
  key = jax.random.key(0)
  for t in (2.0, 5.0):
    # block=37: five full blocks and a partial one, diagonal and off-diagonal
    # block pairs; float64 sums of 2e4 terms agree to ~1e-13 relative
    got = pairwise.uniformity(u, key, t=t, block=37)
    assert got["exact"] and got["stderr"] == 0.0 and got["n_used"] == 200
    np.testing.assert_allclose(got["value"], _brute_uniformity(u, t), rtol=1e-12)
    one = pairwise.uniformity(u, key, t=t)  # a single block
    np.testing.assert_allclose(one["value"], got["value"], rtol=1e-12)
  # the training-time JAX metric (x64 in tests) on the same float32 rows in float64
  ref = float(cmetrics.uniformity(jnp.asarray(u, jnp.float64)))
  np.testing.assert_allclose(pairwise.uniformity(u, key, block=37)["value"], ref, rtol=1e-12)


def test_uniformity_subset_estimate_within_its_stderr():
  u = _cone_rows(3000, 8, 1)
  exact = pairwise.uniformity(u, jax.random.key(0))
  assert exact["exact"] and exact["n_used"] == 3000
  est = pairwise.uniformity(u, jax.random.key(1), max_rows=500, block=128)
  assert not est["exact"] and est["n_used"] == 500 and est["stderr"] > 0
  # the subset estimate is a smooth function of a U-statistic of 1.2e5 pairs,
  # close to normal: 4 standard errors leave a false alarm probability ~6e-5
  # (and the key is fixed, so the test is deterministic)
  assert abs(est["value"] - exact["value"]) < 4 * est["stderr"]
  # calibration: the spread of 24 subset estimates matches the reported stderr
  # (the sample sd of 24 normals is within +-30% of the truth at ~2.3 sigma;
  # 200 draws give 0.0117 vs 0.0115, so the bounds are wide on purpose)
  runs = [pairwise.uniformity(u, jax.random.key(10 + k), max_rows=500) for k in range(24)]
  sd = np.std([r["value"] for r in runs], ddof=1)
  assert 0.6 < sd / np.mean([r["stderr"] for r in runs]) < 1.5


def _brute_cone(u):
  u = u.astype(np.float64)
  u = u / np.linalg.norm(u, axis=1, keepdims=True)
  g = u @ u.T
  off = g[~np.eye(len(u), dtype=bool)]
  m = u.mean(0)
  radius = np.degrees(np.max(np.arccos(np.clip(u @ (m / np.linalg.norm(m)), -1, 1))))
  return {"mean_cos": off.mean(), "one_minus_mean_cos": 1 - off.mean(),
          "centroid_norm": np.linalg.norm(m), "cone_radius_deg": radius,
          "min_cos": off.min(), "max_cos": off.max()}


def test_cone_exact_matches_bruteforce_and_cone_stats():
  u = _cone_rows(200, 16, 2)
  got = pairwise.cone(u, jax.random.key(0), block=37)
  assert got["exact"] and got["n_used"] == got["pairwise_n_used"] == 200
  assert got["dtype"] == "float64"  # tests run with jax x64
  # float64 throughout; arccos near the radius (~90 degrees) is well conditioned
  for k, v in _brute_cone(u).items():
    np.testing.assert_allclose(got[k], v, rtol=1e-10, atol=1e-12, err_msg=k)
  # the pairwise extremes are cone_stats' own, renamed (its jitted wrapper: an
  # eager cone_stats call would cost seconds of dispatch and compilation); the
  # O(N) ones come from the float64 blocked pass and agree with it to rounding
  # (sums of 200 float64 terms in another order: ~1e-15 relative)
  ref = pairwise._cone_stats_jit(jnp.asarray(u, jnp.float64), block=37)
  for k in ("min_cos", "max_cos", "one_minus_max_cos"):
    assert got[k] == float(ref[k]), k
  for k in ("mean_cos", "centroid_norm"):
    np.testing.assert_allclose(got[k], float(ref[k]), rtol=1e-12, err_msg=k)
  np.testing.assert_allclose(np.radians(got["cone_radius_deg"]), float(ref["cone_radius"]),
                             rtol=1e-12)


def test_cone_subset_pairwise_and_blocked_linear_stats():
  # 400 rows, pairwise on 200 (the shape of the test above: one compilation)
  u = _cone_rows(400, 16, 3)
  key = jax.random.key(4)
  got = pairwise.cone(u, key, max_rows=200, block=37)
  assert not got["exact"] and got["n_used"] == 400 and got["pairwise_n_used"] == 200
  full = _brute_cone(u)  # the O(N) statistics: all 400 rows, blocked float64
  for k in ("mean_cos", "one_minus_mean_cos", "centroid_norm", "cone_radius_deg"):
    np.testing.assert_allclose(got[k], full[k], rtol=1e-10, err_msg=k)
  part = _brute_cone(u[subset(key, 400, 200)])  # the pairwise ones: the subset
  for k in ("min_cos", "max_cos"):
    np.testing.assert_allclose(got[k], part[k], rtol=1e-12, err_msg=k)
  with pytest.raises(ValueError, match="max_rows <="):
    pairwise.cone(u, key, max_rows=50000)


def _brute_hists(a, b, bins):
  a, b = a.astype(np.float64), b.astype(np.float64)
  n = len(a)
  iu = np.triu_indices(n, 1)
  off = ~np.eye(n, dtype=bool)
  h = lambda c: np.histogram(np.clip(c, -1, 1), bins=bins, range=(-1, 1))[0]
  return {"within_a": h((a @ a.T)[iu]), "within_b": h((b @ b.T)[iu]),
          "across": h((a @ b.T)[off]), "matched": h(np.sum(a * b, axis=1))}


def test_cosine_histograms_match_bruteforce_on_the_subset():
  # (400, 200): the subset shape of the cone test, so one compiled draw
  a, b = _cone_rows(400, 8, 5), _cone_rows(400, 8, 6)
  key = jax.random.key(7)
  got = pairwise.cosine_histograms(a, b, key, bins=40, max_rows=200, block=23)
  m = got["n_used"]
  assert m == 200
  np.testing.assert_allclose(got["edges"], np.linspace(-1, 1, 41), rtol=0, atol=0)
  counts = {"within_a": m * (m - 1) // 2, "within_b": m * (m - 1) // 2,
            "across": m * (m - 1), "matched": m}
  idx = subset(key, 400, 200)  # the same rows of both modalities
  ref = _brute_hists(a[idx], b[idx], 40)
  unblocked = pairwise.cosine_histograms(a, b, key, bins=40, max_rows=200)
  for k, total in counts.items():
    assert got[k].sum() == total, k
    np.testing.assert_array_equal(got[k], ref[k], err_msg=k)
    np.testing.assert_array_equal(unblocked[k], got[k], err_msg=k)


def test_cosine_histograms_identical_modalities_clip_into_last_bin():
  a = _cone_rows(60, 8, 8)
  got = pairwise.cosine_histograms(a, a, jax.random.key(0), bins=10, block=16)
  # a_i.a_i = 1 up to rounding (may exceed 1): clipped, counted in the closed last bin
  assert got["matched"][-1] == 60 and got["n_used"] == 60
  np.testing.assert_array_equal(got["within_a"], got["within_b"])
  np.testing.assert_array_equal(got["across"], 2 * got["within_a"])


def test_bad_arguments_are_refused():
  u = _cone_rows(10, 4, 9)
  with pytest.raises(ValueError, match="N >= 2"):
    pairwise.uniformity(u[:1], jax.random.key(0))
  with pytest.raises(ValueError, match="t > 0"):
    pairwise.uniformity(u, jax.random.key(0), t=0.0)
  with pytest.raises(ValueError, match="shape of a"):
    pairwise.cosine_histograms(u, u[:5], jax.random.key(0))
