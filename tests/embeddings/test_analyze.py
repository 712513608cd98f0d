"""analyze.measure: the record's numbers against float64 brute force, the
known cases of the issue, and settings checks."""
import jax
import numpy as np
import pytest

from gaplab._errors import ConfigError
from gaplab.embeddings import analyze

SMALL = analyze.Settings(pca_pairs=50, hist_rows=120, separability_rows=200,
                         stability_repeats=4, exact_rows=500, umap=False)


def _unit(x):
  return x / np.linalg.norm(x, axis=1, keepdims=True)


def _pairs(n=120, d=12, seed=0):
  r = np.random.default_rng(seed)
  z = r.normal(size=(n, d))
  a = _unit(z + 4 * np.eye(d)[0] + 0.3 * r.normal(size=(n, d)))
  b = _unit(z - 4 * np.eye(d)[1] + 0.3 * r.normal(size=(n, d)))
  return a, b


def test_record_matches_brute_force_float64():
  a, b = _pairs()
  rec, arr = analyze.measure(a, b, jax.random.key(0), SMALL)
  mu_a, mu_b = a.mean(0), b.mean(0)
  # float64 sums over 120 rows: agreement to ~1e-13 relative; 1e-10 leaves room
  assert rec["l2m"] == pytest.approx(np.linalg.norm(mu_a - mu_b), rel=1e-10)
  assert rec["l2i"] == pytest.approx(np.linalg.norm(a - b, axis=1).mean(), rel=1e-10)
  assert rec["paired_cos"]["mean"] == pytest.approx(np.sum(a * b, 1).mean(), rel=1e-10)
  cos = a @ a.T
  n = len(a)
  assert rec["cone"]["a"]["mean_cos"] == pytest.approx((cos.sum() - n) / (n * (n - 1)), rel=1e-9)
  assert rec["cone"]["a"]["min_cos"] == pytest.approx(cos.min(), abs=1e-12)
  d2 = 2 - 2 * cos
  off = ~np.eye(n, dtype=bool)
  assert rec["uniformity"]["a"]["value"] == pytest.approx(np.log(np.exp(-2 * d2[off]).mean()),
                                                         rel=1e-10)
  np.testing.assert_allclose(arr["gap_profile"], mu_a - mu_b, rtol=1e-10)
  assert rec["separability"]["accuracy"] > 0.95  # the centres sit 4 sd apart on e0 and on e1
  assert arr["pca_a"].shape == (50, 2) and arr["pca_b"].shape == (50, 2)
  # PCA axes oriented so modality a lies on the positive side of PC 1
  assert arr["pca_a"][:, 0].mean() > 0 > arr["pca_b"][:, 0].mean()


def test_identical_modalities_have_no_gap_and_rmg_at_its_clamp():
  a, _ = _pairs()
  rec, _ = analyze.measure(a, a.copy(), jax.random.key(0), SMALL)
  assert rec["l2m"] == 0 and rec["l2i"] == 0 and rec["alignment"] == 0
  # Schrodi's clamp: matched term 1e-3 over itself plus the intra-modal term
  d_a = (1 - (rec["cone"]["a"]["mean_cos"] + 1) / 2)
  assert rec["rmg"] == pytest.approx(1e-3 / (1e-3 + d_a), rel=1e-6)
  assert rec["separability"]["accuracy"] == pytest.approx(0.5)


def test_rotation_leaves_the_record_unchanged():
  a, b = _pairs(d=8)
  q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(8, 8)))
  r1, _ = analyze.measure(a, b, jax.random.key(1), SMALL)
  r2, _ = analyze.measure(a @ q, b @ q, jax.random.key(1), SMALL)
  for key in ("l2m", "l2i", "rmg", "alignment"):
    assert r2[key] == pytest.approx(r1[key], rel=1e-9), key
  assert r2["cone"]["b"]["cone_radius_deg"] == pytest.approx(r1["cone"]["b"]["cone_radius_deg"], rel=1e-6)
  assert r2["effective_dimension"]["a"]["participation_ratio"] == pytest.approx(
      r1["effective_dimension"]["a"]["participation_ratio"], rel=1e-9)
  np.testing.assert_allclose(r2["principal_angles_deg"], r1["principal_angles_deg"], atol=1e-6)
  np.testing.assert_allclose(r2["gap_concentration"]["principal"],
                             r1["gap_concentration"]["principal"], atol=1e-9)


def test_gap_matrix_is_symmetric_l2m():
  a, b = _pairs()
  g = analyze.gap_matrix([a, b, a], ["x", "y", "z"])
  m = np.asarray(g["l2m"])
  assert m[0, 2] == 0 and m[0, 1] == m[1, 0] == pytest.approx(np.linalg.norm(a.mean(0) - b.mean(0)))


@pytest.mark.parametrize("field,value", [("hist_rows", 1), ("pca_pairs", True),
                                         ("rmg_variant", "nope")])
def test_bad_settings_name_the_field(field, value):
  with pytest.raises(ConfigError) as e:
    analyze.Settings(**{field: value}).validate()
  assert e.value.field == field


@pytest.mark.slow
def test_umap_of_the_pca_pairs_when_installed():
  pytest.importorskip("umap")
  a, b = _pairs()
  rec, arr = analyze.measure(a, b, jax.random.key(0), analyze.Settings(
      pca_pairs=40, hist_rows=120, stability_repeats=2, exact_rows=500))
  assert rec["umap"] is True and arr["umap_a"].shape == (40, 2) == arr["umap_b"].shape
  # two modalities 4 sd apart: UMAP keeps them apart (their 2-D centroids
  # farther apart than the larger within-modality spread)
  gap2d = np.linalg.norm(arr["umap_a"].mean(0) - arr["umap_b"].mean(0))
  assert gap2d > max(arr["umap_a"].std(0).max(), arr["umap_b"].std(0).max())
