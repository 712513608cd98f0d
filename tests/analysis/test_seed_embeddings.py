"""Seed analyses against brute force, and their behaviour on known cases."""
import numpy as np
import pytest

from gaplab.cone import engine
from gaplab.analysis import seed_embeddings as seeds
from gaplab.analysis import variance
from gaplab._errors import ConfigError
from gaplab.cone.config import ConeConfig


def test_cosines_equal_brute_force():
  rng = np.random.default_rng(0)
  emb = rng.standard_normal((4, 7, 5)) + rng.standard_normal((4, 1, 5))
  u = emb / np.linalg.norm(emb, axis=-1, keepdims=True)
  got = seeds.seed_cosines(emb)
  within = [np.mean((u[k] @ u[k].T)[~np.eye(7, dtype=bool)]) for k in range(4)]
  between = [np.mean(u[k] @ u[l].T) for k in range(4) for l in range(4) if k != l]
  assert got["within"] == pytest.approx(np.mean(within), abs=1e-14)
  assert got["between"] == pytest.approx(np.mean(between), abs=1e-14)


def test_pca_of_k_tight_cones_has_k_minus_1_dominant_components():
  rng = np.random.default_rng(1)
  k, d = 6, 40
  centres = rng.standard_normal((k, 1, d))
  emb = centres + 0.01 * rng.standard_normal((k, 50, d))
  r = seeds.pca_spectrum(emb)
  assert r[:k - 1].sum() > 0.99 and r[k - 2] / r[k - 1] > 100
  assert seeds.pca_project(emb).shape == (k, 50, 2)


def _mlp(tmp_path, x, seed_count, depth=8, act="relu"):
  np.save(tmp_path / "x.npy", x)
  cfg = ConeConfig(activations=(act,), depth=depth, widths=(128,),
                   inputs=str(tmp_path / "x.npy"), seeds=seed_count, dtype="float64",
                   pairwise=False)
  return engine.embeddings(cfg)[0][:, 0]  # (S, N, width)


def test_seed_is_recognisable_for_a_deep_relu_mlp_and_not_for_one_network(tmp_path):
  rng = np.random.default_rng(2)
  x = rng.standard_normal((80, 16))
  emb = _mlp(tmp_path, x, 5, depth=16)
  assert seeds.nearest_centroid_accuracy(emb) == 1.0
  c = seeds.seed_cosines(emb)
  assert c["within"] > 0.99 and c["between"] < 0.6
  # the same network (seed 0) twice, on two disjoint halves of the inputs:
  # the "seeds" are one network, so accuracy is chance, 1/2 +- binomial noise
  # (80 test rows: sd 0.056; allow 3 sd)
  one = _mlp(tmp_path, rng.standard_normal((320, 16)), 1, depth=2)[0]
  acc = seeds.nearest_centroid_accuracy(np.stack([one[:160], one[160:]]))
  assert abs(acc - 0.5) < 3 * 0.5 / np.sqrt(160)


def test_bad_shapes():
  with pytest.raises(ConfigError, match="K >= 2"):
    seeds.seed_cosines(np.ones((1, 3, 2)))
  with pytest.raises(ConfigError, match="train_fraction"):
    seeds.nearest_centroid_accuracy(np.random.default_rng(0).standard_normal((2, 3, 2)), 0.0)


@pytest.mark.slow
def test_init_cones_tiny(tmp_path, capsys):
  import os
  from gaplab.io import results
  from gaplab.simulations import init_cones
  out = str(tmp_path / "ic")
  assert init_cones.main(["--tiny", "--out", out, "--set", 'encoders=["vit"]']) == 0
  assert "| mlp relu |" in capsys.readouterr().out
  assert os.path.isfile(os.path.join(out, "figures", "init_cones.png"))
  run = results.load_run(out)
  a = run.arrays
  k = init_cones.SIZES["tiny"]["seeds"]
  assert run.meta["networks"] == ["mlp relu", "mlp tanh", "vit"]
  assert a["scatter"].shape == (3, k, 32, 2) and a["spectrum"].shape == (3, 2 * k)
  assert np.all((a["accuracy"] >= 0) & (a["accuracy"] <= 1))
  # beta of every network, from the layer that feeds its output; omega = 1
  # for the encoders' bias-free projection, < 1 for the MLPs (they have biases)
  assert np.all((a["beta"] > 0) & (a["beta"] <= 1))
  assert np.all((a["omega"][:2] > 0) & (a["omega"][:2] < 1)) and a["omega"][2] == 1
  assert init_cones.main(["--tiny", "--out", str(tmp_path / "x"), "--set", "seeds=1"]) == 2
  assert "argument --set seeds" in capsys.readouterr().err


def test_variance_share_recovers_a_known_share():
  # h = a_seed + e_input with Var a = 0.3, Var e = 0.7: share 0.3. 400 seeds x
  # 50 inputs x 20 coordinates: the estimate's sd is about 0.004 (its
  # jackknife error says so too); allow 4 of them.
  rng = np.random.default_rng(5)
  h = (np.sqrt(0.3) * rng.standard_normal((400, 1, 20))
       + np.sqrt(0.7) * rng.standard_normal((400, 50, 20)))
  r, se = variance.variance_share(h)
  assert 0.001 < se < 0.02
  assert abs(r - 0.3) < 4 * se
  # no seed effect: the uncorrected between variance would read 0.7/50 / 0.714
  r0, se0 = variance.variance_share(rng.standard_normal((400, 50, 20)))
  assert abs(r0) < 4 * se0


def test_projection_beta_is_the_share_of_a_random_projection():
  rng = np.random.default_rng(6)
  k, n, f, d = 300, 20, 12, 16
  x = rng.standard_normal((k, 1, f)) * 0.8 + rng.standard_normal((k, n, f))
  w = rng.standard_normal((k, f, d))  # one projection per seed
  z = np.einsum("knf,kfd->knd", x, w)
  beta = variance.projection_beta(x)
  u = x.reshape(k, n, f)
  brute = np.mean([np.mean([(u[s, i] @ u[s, j]) for i in range(n) for j in range(n) if i != j])
                   for s in range(k)]) / np.mean(np.sum(u * u, -1))
  assert beta == pytest.approx(brute, rel=1e-12)
  r, se = variance.variance_share(z)
  assert abs(r - beta) < 4 * se
