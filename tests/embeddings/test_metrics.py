"""Gap metrics against float64 NumPy brute force (explicit N x N matrices where
the metric is a pairwise mean), closed forms and invariances.

Tolerances: the library and the brute force both run in float64 on the same
(float64-converted) values, in a different summation order, so they agree to
~1e-12 relative (RTOL); eigen-derived quantities (shares by principal
direction, angles) depend on eigenvectors that are well separated in these
fixtures, ~1e-9. A random rotation changes the rounding, not the value: ~1e-10.
"""
import jax
import numpy as np
import pytest

from gaplab.embeddings import metrics as m

RTOL = 1e-12
N, D = 60, 8


def unit(x):
  return x / np.linalg.norm(x, axis=1, keepdims=True)


def pair(seed=0, n=N, d=D, shift=0.8):
  """Two unit modalities with a gap, anisotropic (distinct eigenvalues), paired."""
  rng = np.random.default_rng(seed)
  scale = np.linspace(1.0, 0.2, d)
  x = rng.normal(size=(n, d)) * scale
  a = unit(x + shift * np.eye(d)[0])
  b = unit(x + 0.3 * rng.normal(size=(n, d)) * scale - shift * np.eye(d)[1])
  return a, b


def rotation(d, seed=5):
  q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
  return q * np.sign(np.diag(r))


def brute_rmg(a, b, variant):
  n = len(a)
  off = ~np.eye(n, dtype=bool)
  dist_a, dist_b = (1 - a @ a.T) / 2, (1 - b @ b.T) / 2
  mm = np.mean((1 - np.sum(a * b, axis=1)) / 2)
  if variant == "sum_intra":
    return mm / (mm + dist_a.mean() + dist_b.mean())  # all N^2 pairs, diagonal in
  if variant == "schrodi":
    mm = mm if mm > 0 else 1e-3
  if variant == "floor":
    mm = max(mm, 1e-3)
  return mm / (mm + (dist_a[off].mean() + dist_b[off].mean()) / 2)


def brute_stability(a, b, key, repeats):
  n, out = len(a), []
  for k in jax.random.split(key, repeats):
    p = np.asarray(jax.random.permutation(k, n))
    g = [(a[h] - b[h]).mean(0) for h in (p[: n // 2], p[n // 2:])]
    out.append(g[0] @ g[1] / np.linalg.norm(g[0]) / np.linalg.norm(g[1]))
  return np.mean(out), np.std(out), np.min(out)


def all_metrics(a, b, block):
  """Every metric as a flat list of floats (the rotation-invariant ones)."""
  key = jax.random.key(3)
  vals = list(m.l2m(a, b, block).values()) + [m.l2i(a, b, block), m.alignment(a, b, block)]
  vals += list(m.paired_cos(a, b, block).values())
  vals += [m.rmg(a, b, v, block) for v in m.RMG_VARIANTS]
  vals += m.gap_concentration(a, b, ks=(1, 2, 3), block=block)["principal"]
  vals += list(m.spectrum(a, block)) + list(m.spectrum(b, block))
  vals += [m.effective_dimension(a, block)["participation_ratio"]]
  vals += list(m.principal_angles(a, b, k=3, block=block) / 90)
  st = m.gap_stability(a, b, key, repeats=3, block=block)
  vals += [st["mean_cos"], st["std_cos"], st["min_cos"]]
  vals += list(m.gap_matrix([a, b, a[::-1]], block).ravel())
  return np.array(vals, dtype=np.float64)


def test_moments_against_brute_force():
  a, b = pair()
  mu_a, mu_b = a.mean(0), b.mean(0)
  dec = m.l2m(a, b)
  np.testing.assert_allclose(dec["l2m"], np.linalg.norm(mu_a - mu_b), rtol=RTOL)
  np.testing.assert_allclose([dec["mu_a_sq"], dec["mu_b_sq"], dec["cross"]],
                             [mu_a @ mu_a, mu_b @ mu_b, mu_a @ mu_b], rtol=RTOL)
  np.testing.assert_allclose(dec["l2m"] ** 2, dec["mu_a_sq"] + dec["mu_b_sq"] - 2 * dec["cross"],
                             rtol=1e-12)
  np.testing.assert_allclose(dec["centroid_cos"],
                             mu_a @ mu_b / np.linalg.norm(mu_a) / np.linalg.norm(mu_b), rtol=RTOL)
  np.testing.assert_allclose(m.l2i(a, b), np.linalg.norm(a - b, axis=1).mean(), rtol=RTOL)
  np.testing.assert_allclose(m.alignment(a, b), (np.linalg.norm(a - b, axis=1) ** 2).mean(),
                             rtol=RTOL)
  c = np.sum(a * b, axis=1)
  pc = m.paired_cos(a, b)
  np.testing.assert_allclose([pc["mean"], pc["std"], pc["min"]], [c.mean(), c.std(), c.min()],
                             rtol=RTOL)
  np.testing.assert_allclose(m.gap_profile(a, b), mu_a - mu_b, rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("variant", m.RMG_VARIANTS)
def test_rmg_against_explicit_distance_matrices(variant):
  a, b = pair(1, n=120)
  np.testing.assert_allclose(m.rmg(a, b, variant), brute_rmg(a, b, variant), rtol=1e-11)
  assert m.rmg_all(a, b)[variant] == m.rmg(a, b, variant)
  # float32 rows: the library works on their exact float64 values
  a32, b32 = a.astype(np.float32), b.astype(np.float32)
  ref = brute_rmg(unit(a32.astype(np.float64)), unit(b32.astype(np.float64)), variant)
  # float32 rows are unit only to |u| = 1 +- 1e-7
  np.testing.assert_allclose(m.rmg(a32, b32, variant), ref, rtol=1e-6)


def test_rmg_rejects_unknown_variant_by_listing_them():
  a, b = pair()
  with pytest.raises(ValueError, match="schrodi.*unclamped"):
    m.rmg(a, b, "paper")


def test_spectral_metrics_against_brute_force():
  a, b = pair(2)
  cov_a, cov_b = np.cov(a.T, bias=True), np.cov(b.T, bias=True)
  np.testing.assert_allclose(m.spectrum(a), np.linalg.eigvalsh(cov_a)[::-1], rtol=1e-10,
                             atol=1e-15)
  w = np.linalg.eigvalsh(cov_a)
  ed = m.effective_dimension(a)
  np.testing.assert_allclose(ed["participation_ratio"], w.sum() ** 2 / (w @ w), rtol=1e-10)
  cum = np.cumsum(w[::-1]) / w.sum()
  assert ed["dim99"] == int(np.argmax(cum >= 0.99)) + 1
  # principal angles: arccos of the singular values of U_A^T U_B
  u_a = np.linalg.eigh(cov_a)[1][:, ::-1][:, :3]
  u_b = np.linalg.eigh(cov_b)[1][:, ::-1][:, :3]
  ref = np.sort(np.degrees(np.arccos(np.clip(np.linalg.svd(u_a.T @ u_b)[1], -1, 1))))
  # the brute force's arccos near 1 is only ~sqrt(eps) accurate
  np.testing.assert_allclose(m.principal_angles(a, b, k=3), ref, atol=1e-6)
  assert m.principal_angles(a, b).shape == (m.default_angles_k(D),) == (4,)
  # shares of |g|^2
  g = a.mean(0) - b.mean(0)
  v = np.linalg.eigh((cov_a + cov_b) / 2)[1][:, ::-1]
  gc = m.gap_concentration(a, b, ks=(1, 3, 8, 20))
  assert gc["ks"] == [1, 3, 8]
  coord = np.cumsum(np.sort(g ** 2)[::-1])[[0, 2, 7]] / (g @ g)
  np.testing.assert_allclose(gc["coordinates"], coord, rtol=RTOL)
  np.testing.assert_allclose(gc["principal"], np.cumsum((v.T @ g) ** 2)[[0, 2, 7]] / (g @ g),
                             rtol=1e-9)
  assert gc["top_coordinates"] == list(np.argsort(-np.abs(g))[:8])


def test_stability_against_brute_force_and_a_fixed_direction():
  a, b = pair(3)
  key = jax.random.key(7)
  st = m.gap_stability(a, b, key, repeats=4)
  np.testing.assert_allclose([st["mean_cos"], st["std_cos"], st["min_cos"]],
                             brute_stability(a, b, key, 4), rtol=1e-12, atol=1e-15)
  assert st["repeats"] == 4
  # b = a reflected in coordinate 0 with a_i0 > 0: every half's gap is along +e_0
  a = unit(np.abs(a) + 0.1)
  b = a * np.r_[-1.0, np.ones(D - 1)]
  st = m.gap_stability(a, b, key, repeats=3)
  np.testing.assert_allclose([st["mean_cos"], st["std_cos"], st["min_cos"]], [1, 0, 1], atol=1e-12)


def test_gap_matrix_symmetric_zero_diagonal_pairwise_l2m():
  a, b = pair(4)
  c = unit(a + b)
  gm = m.gap_matrix([a, b, c])
  np.testing.assert_array_equal(np.diag(gm), 0)
  np.testing.assert_array_equal(gm, gm.T)
  for (i, x), (j, y) in [((0, a), (1, b)), ((0, a), (2, c)), ((1, b), (2, c))]:
    np.testing.assert_allclose(gm[i, j], np.linalg.norm(x.mean(0) - y.mean(0)), rtol=RTOL)


def test_identical_modalities():
  a, _ = pair(5)
  assert m.l2m(a, a)["l2m"] == 0 and m.l2i(a, a) == 0 and m.alignment(a, a) == 0
  off = ~np.eye(N, dtype=bool)
  d_a = ((1 - a @ a.T) / 2)[off].mean()
  # the clamp: matched distance 0 -> 1e-3, the smallest value compute_rmg gives
  np.testing.assert_allclose(m.rmg(a, a), 1e-3 / (1e-3 + d_a), rtol=RTOL)
  assert m.rmg(a, a, "floor") == m.rmg(a, a) and m.rmg(a, a, "unclamped") == 0
  st = m.gap_stability(a, a, jax.random.key(0), repeats=2)
  assert st == {"mean_cos": 0.0, "std_cos": 0.0, "repeats": 2, "min_cos": 0.0}
  np.testing.assert_allclose(m.principal_angles(a, a), 0, atol=1e-6)


def test_orthogonal_subspaces():
  rng = np.random.default_rng(6)
  h = D // 2
  a = np.zeros((N, D))
  b = np.zeros((N, D))
  a[:, :h] = unit(rng.normal(size=(N, h)) * np.linspace(1, 0.3, h) + 0.5)
  b[:, h:] = unit(rng.normal(size=(N, h)) * np.linspace(1, 0.3, h) + 0.5)
  dec = m.l2m(a, b)
  assert dec["cross"] == 0 and dec["centroid_cos"] == 0
  np.testing.assert_allclose(dec["l2m"] ** 2, dec["mu_a_sq"] + dec["mu_b_sq"], rtol=RTOL)
  assert m.paired_cos(a, b) == {"mean": 0.0, "std": 0.0, "min": 0.0}
  np.testing.assert_allclose([m.alignment(a, b), m.l2i(a, b)], [2, np.sqrt(2)], rtol=RTOL)
  np.testing.assert_allclose(m.principal_angles(a, b, k=h), 90, atol=1e-9)


def test_gap_on_three_coordinates_has_share_one_at_k3():
  a, _ = pair(7)
  a = unit(np.abs(a) + 0.2)  # every coordinate of mu_a nonzero
  flip = np.r_[-np.ones(3), np.ones(D - 3)]
  gc = m.gap_concentration(a, a * flip, ks=(1, 2, 3, 4))
  share = gc["coordinates"]
  assert share[2] == pytest.approx(1, abs=1e-15) and share[3] == share[2]
  assert share[1] < 1 and sorted(gc["top_coordinates"][:3]) == [0, 1, 2]


def test_effective_dimension_of_isotropic_data():
  k = 5
  e = np.eye(D)[:k]
  u = np.concatenate([e, -e] * 10)  # +-e_i: covariance exactly I_k / k
  ed = m.effective_dimension(u)
  assert ed["dim99"] == k and ed["participation_ratio"] == pytest.approx(k, rel=1e-12)
  rng = np.random.default_rng(8)
  v = np.zeros((300, D))
  v[:, :k] = unit(rng.normal(size=(300, k)))  # uniform on S^{k-1}: cov ~ I_k / k
  assert m.effective_dimension(v)["participation_ratio"] == pytest.approx(k, rel=0.08)
  assert m.effective_dimension(v)["dim99"] == k


def test_rotation_leaves_every_metric_unchanged():
  a, b = pair(9)
  q = rotation(D)
  np.testing.assert_allclose(all_metrics(a @ q, b @ q, None), all_metrics(a, b, None),
                             rtol=1e-9, atol=1e-10)
  # the gap profile rotates with the data; the coordinate shares are basis-dependent (not tested)
  np.testing.assert_allclose(m.gap_profile(a @ q, b @ q), m.gap_profile(a, b) @ q, atol=1e-14)


def test_blocked_equals_full():
  a, b = pair(10, n=53)
  a32, b32 = a.astype(np.float32), b.astype(np.float32)
  for x, y in [(a, b), (a32, b32)]:
    np.testing.assert_allclose(all_metrics(x, y, 7), all_metrics(x, y, None), rtol=1e-11,
                               atol=1e-13)
    gc7 = m.gap_concentration(x, y, block=7)
    assert gc7["top_coordinates"] == m.gap_concentration(x, y, block=None)["top_coordinates"]


def test_bad_shapes_and_arguments():
  a, b = pair()
  with pytest.raises(ValueError, match="one shape"):
    m.l2m(a, b[:-1])
  with pytest.raises(ValueError, match="at least 2 rows"):
    m.rmg(a[:1], b[:1])
  with pytest.raises(ValueError, match="1 <= k"):
    m.principal_angles(a, b, k=D + 1)
  with pytest.raises(ValueError, match="ks >= 1"):
    m.gap_concentration(a, b, ks=(0,))
  with pytest.raises(ValueError, match="2 modalities"):
    m.gap_matrix([a])
  assert m.gap_concentration(a[:, :2], b[:, :2], ks=(5,))["ks"] == [2]
  np.testing.assert_allclose(m.gap_concentration(a, b, ks=(D,))["principal"], [1], rtol=1e-12)
