"""Seed analyses against brute force, and their behaviour on known cases."""
import numpy as np
import pytest

from gaplab import engine, seeds
from gaplab._errors import ConfigError
from gaplab.config import ConeConfig


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


def test_init_cones_tiny(tmp_path, capsys):
  import os
  from gaplab import results
  from gaplab.simulations import init_cones
  out = str(tmp_path / "ic")
  assert init_cones.main(["--tiny", "--out", out]) == 0
  assert "| relu |" in capsys.readouterr().out
  assert os.path.isfile(os.path.join(out, "figures", "init_cones.png"))
  a = results.load_run(out).arrays
  k = init_cones.SIZES["tiny"]["seeds"]
  assert a["scatter"].shape == (2, k, 32, 2) and a["spectrum"].shape == (2, 2 * k)
  assert np.all((a["accuracy"] >= 0) & (a["accuracy"] <= 1))
  assert init_cones.main(["--tiny", "--out", str(tmp_path / "x"), "--set", "seeds=1"]) == 2
  assert "argument --set seeds" in capsys.readouterr().err
