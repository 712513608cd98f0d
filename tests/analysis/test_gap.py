"""The gap identity, and the gap between two independently initialised MLPs."""
import math

import numpy as np
import pytest

from gaplab.cone import engine
from gaplab.analysis import gap
from gaplab._errors import ConfigError
from gaplab.cone.config import ConeConfig


def test_identity_holds_to_float_precision_on_random_data():
  rng = np.random.default_rng(0)
  for shift in (0.0, 0.3, 3.0):
    x = rng.standard_normal((200, 16)) + shift
    y = rng.standard_normal((150, 16)) - shift
    d = gap.decomposition(x, y)
    assert d["gap"] ** 2 == pytest.approx(d["c_a"] + d["c_b"] - 2 * d["cross"], abs=1e-14)
    # |mu|^2 is the mean cosine over all N^2 pairs, diagonal included
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert d["c_a"] == pytest.approx(np.mean(u @ u.T), abs=1e-14)
  same = gap.decomposition(x, x)
  assert same["gap"] == 0.0 and same["cross_cos"] == pytest.approx(1.0)


def test_bad_embeddings_are_rejected():
  with pytest.raises(ConfigError, match="2-D"):
    gap.decomposition(np.ones(3), np.ones((2, 3)))
  with pytest.raises(ConfigError, match="zero rows"):
    gap.decomposition(np.zeros((2, 3)), np.ones((2, 3)))
  with pytest.raises(ConfigError, match="columns"):
    gap.decomposition(np.ones((2, 3)), np.ones((2, 4)))
  with pytest.raises(ConfigError, match="finite"):
    gap.decomposition(np.full((2, 3), np.nan), np.ones((2, 3)))


def test_embeddings_are_the_engines_last_layer():
  cfg = ConeConfig(activations=("relu", "tanh"), inits=("gaussian", "torch"), depth=3,
                   widths=(32,), input_dim=8, n_samples=10, seeds=3, dtype="float64",
                   pairwise=False)
  h, x = engine.embeddings(cfg, seeds=[0, 2])
  assert h.shape == (2, 4, 10, 32) and x.shape == (2, 10, 8)
  stats = engine.run(cfg).arrays["mean_cos_diag"][0]  # (variant, seed, layer)
  for i, s in enumerate([0, 2]):
    np.testing.assert_allclose(x[i], engine.explicit_inputs(cfg, s), rtol=0, atol=0)
    for v in range(4):
      assert gap.decomposition(h[i, v], h[i, v])["c_a"] == pytest.approx(
          stats[v, s, -1], abs=1e-13)
  # per-layer centroids: |centroid|^2 is each layer's mean cosine with diagonal
  c, _ = engine.embeddings(cfg, seeds=[0, 2], output="centroids")
  assert c.shape == (2, 4, 3, 32)
  u = h / np.linalg.norm(h, axis=-1, keepdims=True)
  np.testing.assert_allclose(c[:, :, -1], u.mean(axis=2), atol=1e-15)
  np.testing.assert_allclose(np.sum(c * c, -1), np.moveaxis(stats[:, [0, 2], 1:], 1, 0),
                             atol=1e-13)


def test_independent_inits_on_the_same_inputs(tmp_path):
  # Two seeds of one network on one input array: tanh is odd, so the two
  # centroids are uncorrelated (cross ~ 0, gap^2 ~ c_A + c_B); ReLU outputs
  # share the positive orthant and their centroids are far from orthogonal.
  rng = np.random.default_rng(1)
  np.save(tmp_path / "x.npy", rng.standard_normal((64, 32)))
  cfg = ConeConfig(activations=("tanh", "relu"), depth=6, widths=(512,),
                   inputs=str(tmp_path / "x.npy"), seeds=2, dtype="float64",
                   pairwise=False)
  h, _ = engine.embeddings(cfg)
  tanh = gap.decomposition(h[0, 0], h[1, 0])
  relu = gap.decomposition(h[0, 1], h[1, 1])
  # independent 512-dim centroids: |cos| ~ 1/sqrt(512) = 0.044; allow 4x
  assert abs(tanh["cross_cos"]) < 4 / math.sqrt(512)
  assert tanh["gap"] == pytest.approx(math.sqrt(tanh["c_a"] + tanh["c_b"]), rel=0.1)
  assert relu["cross_cos"] > 0.3
  assert relu["gap"] < 0.9 * math.sqrt(relu["c_a"] + relu["c_b"])
  # mean field: cross -> E[phi]^2 / E[phi^2]: 0 for tanh, 1/pi for ReLU (any q);
  # at width 512 the cross term scatters by ~1/sqrt(512): allow 3x that
  assert gap.predicted_cross("tanh", 0.7) == pytest.approx(0.0, abs=1e-15)
  assert gap.predicted_cross("relu", 0.7) == pytest.approx(1 / math.pi, rel=1e-12)
  assert relu["cross"] == pytest.approx(1 / math.pi, abs=3 / math.sqrt(512))


@pytest.mark.slow
def test_gap_and_run_commands(tmp_path, capsys):
  import json
  from clihelp import run_cli
  rng = np.random.default_rng(3)
  a, b = rng.standard_normal((30, 6)) + 1, rng.standard_normal((20, 6))
  np.save(tmp_path / "a.npy", a)
  np.save(tmp_path / "b.npy", b)
  np.save(tmp_path / "c.npy", rng.standard_normal((20, 7)))
  rc, out, _ = run_cli(["gap", str(tmp_path / "a.npy"), str(tmp_path / "b.npy")], capsys)
  assert rc == 0 and json.loads(out) == pytest.approx(gap.decomposition(a, b))
  rc, _, err = run_cli(["gap", str(tmp_path / "a.npy"), str(tmp_path / "c.npy")], capsys)
  assert rc == 2 and "argument B.npy: expected 6 columns" in err
  rc, _, err = run_cli(["gap", str(tmp_path / "a.npy"), str(tmp_path / "no.npy")], capsys)
  assert rc == 2 and "argument B.npy" in err and len(err.strip().splitlines()) == 1
  rc, out, _ = run_cli(["run", "gap_at_init", "--tiny", "--out", str(tmp_path / "g")], capsys)
  assert rc == 0 and "| same data |" in out
  rc, _, err = run_cli(["run", "gap_at_init", "--tiny", "--out", str(tmp_path / "h"),
                        "--set", "seeds=1"], capsys)
  assert rc == 2 and "argument --set seeds" in err and not (tmp_path / "h").exists()
  rc, _, err = run_cli(["run", "fig9"], capsys)
  assert rc == 2 and "argument NAME" in err
