"""The downstream benchmark on the labelled two-tower toy: zero-shot accuracy and
group outcomes as the gap is shifted, recomputed from the saved arrays."""
import contextlib
import io
import os
import shutil

import numpy as np
import pytest

from gaplab.io import results
from gaplab._errors import ConfigError
from gaplab.simulations import downstream_shift as ds


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("ds") / "run")
  buf = io.StringIO()
  with contextlib.redirect_stdout(buf):
    assert ds.main(["--tiny", "--out", out]) == 0
  assert os.path.isfile(os.path.join(out, "figures", f"{ds.NAME}.png"))
  assert ds.TITLE in buf.getvalue() and "| high: above − below |" in buf.getvalue()
  return results.load_run(out)


def _unit(a):
  a = np.asarray(a, np.float64)
  return a / np.linalg.norm(a, axis=-1, keepdims=True)


def _settings(run):
  return list(np.ndindex(*run.arrays["images"].shape[:3]))  # (mismatch, tau, seed)


def _tiny_run_shapes_and_unit_embeddings(tiny):
  a, cfg = tiny.arrays, tiny.meta["config"]
  shape = (len(cfg["mismatch"]), len(cfg["taus"]), cfg["seeds"])
  assert shape == (1, 2, 2)  # tiny: one mismatch level, two temperatures, two seeds
  assert a["images"].shape == shape + (cfg["n_test"], cfg["embed_dim"])
  assert a["classes"].shape == shape + (cfg["n_classes"], cfg["embed_dim"])
  # unit rows in float32: |norm - 1| a few ulps
  np.testing.assert_allclose(np.linalg.norm(a["images"].astype(np.float64), axis=-1), 1, atol=1e-6)
  np.testing.assert_allclose(np.linalg.norm(a["classes"].astype(np.float64), axis=-1), 1, atol=1e-6)
  assert a["zs_top1"].shape == shape + (a["zs_delta"].size,)
  assert a["fair_fraction"].shape == shape + (a["fair_delta"].size, 2, 2)
  assert tiny.axes("fair_fraction") == ["mismatch", "tau", "seed", "fair_delta", "group", "set"]


def _zero_shot_at_delta_zero_is_plain_zero_shot(tiny):
  a = tiny.arrays
  y = a["labels"]
  i0 = int(np.flatnonzero(a["zs_delta"] == 0)[0])
  for idx in _settings(tiny):
    cos = _unit(a["images"][idx]) @ _unit(a["classes"][idx]).T  # float64 brute force
    # hit counts are integers: equal unless two classes tie within float64 rounding
    assert a["zs_top1"][idx][i0] == np.mean(np.argmax(cos, axis=1) == y)
    top5 = np.argsort(-cos, axis=1, kind="stable")[:, :5]
    assert a["zs_top5"][idx][i0] == np.mean(np.any(top5 == y[:, None], axis=1))
    gap0 = np.linalg.norm(a["images"][idx].astype(np.float64).mean(0)
                          - a["classes"][idx].astype(np.float64).mean(0))
    # float32 unit rows renormalised in float64: ~1e-7 relative
    np.testing.assert_allclose(a["zs_original_gap"][idx], gap0, rtol=1e-6)
    assert a["zs_best_top1"][idx] == a["zs_top1"][idx].max()
    np.testing.assert_allclose(a["zs_gain"][idx], a["zs_top1"][idx].max() - a["zs_top1"][idx][i0],
                               atol=1e-15)


def _group_outcomes_are_fractions_of_each_groups_predictions(tiny):
  a, flagged = tiny.arrays, tiny.meta["coords"]["flagged"]
  sets = [flagged[s] for s in ds.SETS]
  assert not set(sets[0]) & set(sets[1])  # disjoint, so each group's fractions sum <= 1
  f = a["fair_fraction"]
  assert np.all(f >= 0) and np.all(f.sum(axis=-1) <= 1 + 1e-12)
  j0 = int(np.flatnonzero(a["fair_delta"] == 0)[0])
  i0 = int(np.flatnonzero(a["zs_delta"] == 0)[0])
  g = a["groups"]
  for idx in _settings(tiny):
    pred = np.argmax(_unit(a["images"][idx]) @ _unit(a["classes"][idx]).T, axis=1)
    for k in range(len(ds.GROUPS)):
      for s, members in enumerate(sets):
        assert f[idx][j0, k, s] == np.mean(np.isin(pred[g == k], members))
    # both probes leave everything unshifted at 0: the same accuracy and gap
    assert a["fair_accuracy"][idx][j0] == a["zs_top1"][idx][i0]
    np.testing.assert_allclose(a["fair_gap"][idx][j0], a["zs_gap"][idx][i0], rtol=1e-12)


def _direction_is_the_held_out_gap_and_groups_follow_the_latent(tiny):
  a, cfg = tiny.arrays, tiny.meta["config"]
  # |g| of the saved direction against the training loop's own final held-out
  # gap (same towers, same pairs; float32 embeddings, sums in another order)
  np.testing.assert_allclose(np.linalg.norm(a["direction"], axis=-1), a["eval_gap"][..., -1],
                             rtol=1e-5)
  k = cfg["group_coord"]
  dev = a["latent"][:, k] - a["class_means"][a["labels"], k]
  np.testing.assert_array_equal(a["groups"], (dev > 0).astype(int))
  assert 0 < a["groups"].mean() < 1
  order = np.argsort(a["class_means"][:, k])
  flagged, n = tiny.meta["coords"]["flagged"], cfg["flag_classes"]
  assert flagged["high"] == sorted(order[-n:].tolist())
  assert flagged["low"] == sorted(order[:n].tolist())


def _figures_and_report_come_from_the_saved_run(tiny, tmp_path, capsys):
  copy = str(tmp_path / "copy")
  shutil.copytree(tiny.path, copy, ignore=shutil.ignore_patterns("figures"))
  paths = ds.figures(copy, str(tmp_path / "figs"))
  names = {os.path.basename(p) for p in paths}
  assert names == {f"{ds.NAME}{s}.{e}" for s in ("", "_fairness") for e in ("png", "pdf")}
  assert all(os.path.getsize(p) > 1000 for p in paths)
  text = ds.report(copy)
  assert "| mismatch | tau | held-out gap | task gap | top-1 at δ = 0 |" in text
  assert text.count("\n| 0.2 | 0.1 |") >= 1
  # a second run into the same directory is refused before any work
  before = open(os.path.join(tiny.path, results.CONFIG)).read()
  assert ds.main(["--tiny", "--out", tiny.path]) == 2
  assert "--out" in capsys.readouterr().err
  assert open(os.path.join(tiny.path, results.CONFIG)).read() == before


@pytest.mark.slow
def test_tiny_run(tiny, tmp_path, capsys):
  """One test over the one tiny run (so that pytest-xdist builds it once)."""
  _tiny_run_shapes_and_unit_embeddings(tiny)
  _zero_shot_at_delta_zero_is_plain_zero_shot(tiny)
  _group_outcomes_are_fractions_of_each_groups_predictions(tiny)
  _direction_is_the_held_out_gap_and_groups_follow_the_latent(tiny)
  _figures_and_report_come_from_the_saved_run(tiny, tmp_path, capsys)


def test_unknown_key_is_rejected(tmp_path, capsys):
  out = str(tmp_path / "d")
  assert ds.main(["--tiny", "--out", out, "--set", "n_clases=4"]) == 2
  assert "argument --set n_clases: unknown key" in capsys.readouterr().err
  assert not os.path.exists(out)


@pytest.mark.parametrize("over, field", [
    (dict(flag_classes=4), "flag_classes"),  # tiny has 6 classes: two sets of at most 3
    (dict(group_coord=8), "group_coord"),
    (dict(n_classes=1, flag_classes=1), "n_classes"),
    (dict(taus=[0.0]), "taus"),
    (dict(mismatch=[1.5]), "mismatch"),
    (dict(zs_delta_step=0.3), "zs_delta_step"),
    (dict(fair_delta_max=-1.0), "fair_delta_step"),
    (dict(n_test=1), "n_test"),
    (dict(saved_items=65), "saved_items"),  # tiny has n_test = 64
    (dict(dtype="float16"), "dtype"),
])
def test_bad_values_name_the_key(over, field):
  with pytest.raises(ConfigError) as e:
    ds.config("tiny", **over)
  assert e.value.field == field


def test_grid_is_symmetric_with_zero_on_it():
  np.testing.assert_array_equal(ds.grid("x", 1.0, 0.25), [-1, -0.75, -0.5, -0.25, 0, 0.25, 0.5,
                                                         0.75, 1])
  assert ds.grid("x", 5.0, 0.25).size == 41 and 0.0 in ds.grid("x", 5.0, 0.25)


def test_groups_and_sets_by_hand():
  cfg = {"group_coord": 1, "flag_classes": 1}
  means = np.array([[0.0, 2.0], [0.0, -1.0], [0.0, 0.5]])
  labels = np.array([0, 1, 2, 2])
  latent = np.array([[9.0, 2.5], [9.0, -1.5], [9.0, 0.4], [9.0, 0.6]])
  groups, sets = ds.groups_and_sets(cfg, latent, labels, means)
  np.testing.assert_array_equal(groups, [1, 0, 0, 1])
  assert sets == {"high": [0], "low": [1]}
