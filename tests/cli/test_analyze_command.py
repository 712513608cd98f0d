"""``gaplab analyze`` end to end: the files a user reads, --compare,
--intervention, three modalities, and one-line errors that write nothing."""
import json
import os

import numpy as np
import pytest

from clihelp import run_cli
from gaplab.io import results

N, D = 150, 10


def _emb(seed=0, m=2):
  r = np.random.default_rng(seed)
  z = r.normal(size=(N, D))
  return np.stack([z + (3 - 2 * k) * np.eye(D)[k] + 0.2 * r.normal(size=(N, D))
                   for k in range(m)]).astype(np.float32)


@pytest.fixture
def files(tmp_path):
  np.save(tmp_path / "emb.npy", _emb())
  np.save(tmp_path / "other.npy", _emb(1))
  e3 = _emb(2, 3)
  np.savez(tmp_path / "three.npz", image=e3[0], text=e3[1], audio=e3[2],
           labels=np.arange(N) % 3)
  return tmp_path


def test_analyze_writes_metrics_report_and_figures(files, capsys):
  out = str(files / "run")
  rc, stdout, err = run_cli(["analyze", str(files / "emb.npy"), "--out", out, "--quiet",
                                "--no-umap"], capsys)
  assert rc == 0, err
  m = json.load(open(os.path.join(out, "metrics.json")))
  x = _emb().astype(np.float64)
  u = x / np.linalg.norm(x, axis=-1, keepdims=True)
  # float32 inputs normalised in float64 and stored as float32: ~1e-7 per entry
  assert m["l2m"] == pytest.approx(np.linalg.norm(u[0].mean(0) - u[1].mean(0)), rel=1e-5)
  assert m["l2i"] == pytest.approx(np.linalg.norm(u[0] - u[1], axis=1).mean(), rel=1e-5)
  for key in ("rmg", "paired_cos", "separability", "gap_concentration", "effective_dimension",
              "principal_angles_deg", "uniformity", "cone", "gap_stability", "alignment"):
    assert key in m
  assert m["modalities"] == ["image", "text"]
  report = open(os.path.join(out, "REPORT.md")).read()
  assert report.startswith("# Modality gap report: image vs text") and f"{m['l2m']:.4g}" in report
  for f in ("pca", "cosines", "gap_profile"):
    assert os.path.isfile(os.path.join(out, "figures", f + ".png"))
  assert os.path.isfile(os.path.join(out, "landscape", "figures", "landscape.png"))
  run = results.load_run(out)
  assert run.meta["provenance"]["x64"] is True and run.meta["inputs"]["n_pairs"] == N
  assert run.meta["config"]["seed"] == 0


def test_compare_interventions_and_three_modalities(files, capsys):
  out = str(files / "run3")
  rc, _, err = run_cli(["analyze", str(files / "three.npz"), "--out", out, "--quiet",
                        "--no-landscape", "--no-umap", "--compare", str(files / "other.npy"),
                        "--intervention", "mean_removal", "--intervention", "procrustes"],
                       capsys)
  assert rc == 0, err
  m = json.load(open(os.path.join(out, "metrics.json")))
  g = np.asarray(m["gap_matrix"]["l2m"])
  assert m["gap_matrix"]["names"] == ["image", "text", "audio"] and g.shape == (3, 3)
  np.testing.assert_allclose(g, g.T)
  assert g[0, 1] == pytest.approx(m["l2m"])
  assert set(m["interventions"]) == {"mean_removal", "procrustes"}
  # mean removal centres each modality before renormalising: the gap all but vanishes
  assert m["interventions"]["mean_removal"]["l2m"] < 0.1 * m["l2m"]
  assert m["compare"]["l2m"] > 0 and m["compare"]["source"]["paths"] == [str(files / "other.npy")]
  assert not os.path.exists(os.path.join(out, "landscape"))


@pytest.mark.parametrize("make,flag,match", [
    (lambda: np.zeros((3, N, D)), "emb", "finite nonzero rows|zero rows"),
    (lambda: np.ones((N, D)), "emb", "shape|rank|axes"),
    (lambda: np.where(np.arange(D) == 0, np.nan, _emb()), "emb", "NaN or inf"),
    (lambda: np.array([[1.0, 2.0]], dtype=object), "emb", "object"),
    (lambda: _emb()[:, :1], "emb", "2 pairs"),
])
def test_bad_embeddings_exit_2_with_one_line_and_write_nothing(files, capsys, make, flag, match):
  path = str(files / "bad.npy")
  x = make()
  np.save(path, x, allow_pickle=x.dtype == object)
  out = str(files / "nothing")
  rc, _, err = run_cli(["analyze", path, "--out", out], capsys)
  assert rc == 2 and err.count("\n") == 1 and f"argument {flag.upper() if flag == 'emb' else '--' + flag}" in err
  assert __import__("re").search(match, err), err
  assert not os.path.exists(out)


def test_bad_flags_and_existing_out(files, capsys):
  out = str(files / "run")
  os.makedirs(out)
  open(os.path.join(out, "keep.txt"), "w").write("mine")
  rc, _, err = run_cli(["analyze", str(files / "emb.npy"), "--out", out], capsys)
  assert rc == 2 and "--overwrite" in err
  assert open(os.path.join(out, "keep.txt")).read() == "mine"
  for extra, word in ((["--intervention", "nope"], "--intervention"),
                      (["--pair", "image,sound"], "--pair"),
                      (["--exact-rows", "1"], "--exact-rows"),
                      (["--exact-rows", "50000"], "--exact-rows"),
                      (["--seed", "-1"], "--seed"),
                      (["--intervention", "procrustes", "--intervention", "procrustes"],
                       "--intervention")):
    rc, _, err = run_cli(["analyze", str(files / "emb.npy"), "--out", str(files / "x")] + extra,
                         capsys)
    assert rc == 2 and word in err and err.count("\n") == 1, err
    assert not os.path.exists(files / "x")


def test_identical_modalities_report_no_gap_and_no_landscape(tmp_path, capsys):
  x = _emb()[0]
  np.save(tmp_path / "same.npy", np.stack([x, x]))
  out = str(tmp_path / "run")
  rc, stdout, err = run_cli(["analyze", str(tmp_path / "same.npy"), "--out", out, "--quiet",
                             "--no-umap"], capsys)
  assert rc == 0, err
  m = json.load(open(os.path.join(out, "metrics.json")))  # strict JSON: NaN written as null
  assert m["l2m"] == 0 and m["gap_concentration"]["coordinates"][0] is None
  assert not os.path.exists(os.path.join(out, "landscape"))
  assert "no loss landscape: the gap is 0" in open(os.path.join(out, "REPORT.md")).read()


def test_orthogonal_cones_are_separable_and_at_90_degrees(tmp_path, capsys):
  r = np.random.default_rng(5)
  a = np.concatenate([r.normal(size=(N, 4)) + 3, np.zeros((N, 4))], axis=1)
  b = np.concatenate([np.zeros((N, 4)), r.normal(size=(N, 4)) + 3], axis=1)
  np.save(tmp_path / "orth.npy", np.stack([a, b]))
  out = str(tmp_path / "run")
  rc, _, err = run_cli(["analyze", str(tmp_path / "orth.npy"), "--out", out, "--quiet",
                        "--no-umap", "--no-landscape"], capsys)
  assert rc == 0, err
  m = json.load(open(os.path.join(out, "metrics.json")))
  assert m["l2m_decomposition"]["cross"] == 0 and m["separability"]["accuracy"] == 1
  # D = 8: k = D // 2 = 4 principal directions each, spanning the two halves
  np.testing.assert_allclose(m["principal_angles_deg"], [90.0] * 4, atol=1e-6)
