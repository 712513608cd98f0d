"""Zero-shot curve: the notebook's formula by brute force, blocks, prompts, summary."""
import numpy as np
import pytest

from gaplab._errors import ConfigError
from gaplab.embeddings import zeroshot as zs


def unit(a):
  return a / np.linalg.norm(a, axis=-1, keepdims=True)


def task(n=200, c=5, d=8, seed=0, offset=1.5, noise=1.2):
  """Images near their class prototype, both modalities offset (a gap)."""
  rng = np.random.default_rng(seed)
  protos = rng.normal(size=(c, d))
  y = rng.integers(0, c, n)
  gap = offset * np.eye(d)[0]
  x = unit(protos[y] + noise * rng.normal(size=(n, d)) + gap)
  t = unit(protos + 0.3 * rng.normal(size=(c, d)) - gap)
  return x, y, t


def notebook(x, y, t, deltas, d, ks=(1, 5)):
  """shift_features.ipynb's move_features, float64, one delta at a time."""
  out = {"gap": [], **{k: [] for k in ks}}
  for delta in deltas:
    tt = unit(t + 0.5 * delta * d)
    xx = unit(x - 0.5 * delta * d)
    sim = xx @ tt.T
    order = sim.argsort(axis=-1)
    for k in ks:
      out[k].append(np.mean([y[i] in order[i, -k:] for i in range(len(y))]))
    out["gap"].append(np.linalg.norm(tt.mean(0) - xx.mean(0)))
  return out


def test_default_grid_is_the_notebooks():
  np.testing.assert_array_equal(zs.DEFAULT_DELTAS, np.arange(-5, 5, 0.25))
  assert zs.DEFAULT_DELTAS.size == 40 and 0 in zs.DEFAULT_DELTAS and 5 not in zs.DEFAULT_DELTAS


def test_curve_equals_notebook_brute_force():
  x, y, t = task()
  c = zs.curve(x, y, t)
  d = unit(x.mean(0) - t.mean(0))
  ref = notebook(x, y, t, zs.DEFAULT_DELTAS, d)
  assert c["direction_source"] == "task"
  np.testing.assert_allclose(c["direction"], d, rtol=1e-12)
  # accuracies are counts / N: equal unless a cosine tie flips (none on this data)
  np.testing.assert_array_equal(c["top1"], ref[1])
  np.testing.assert_array_equal(c["top5"], ref[5])  # C = 5: every label is in the top 5
  # float64 sums in another order and the expanded norms: ~1e-15 relative
  np.testing.assert_allclose(c["gap"], ref["gap"], rtol=1e-11, atol=1e-13)
  assert 0.2 < c["top1"].min() < c["top1"].max() < 1  # a task the shift changes


def test_top5_and_given_direction_against_brute_force():
  x, y, t = task(n=150, c=12, d=16, seed=3, noise=3.0)
  rng = np.random.default_rng(4)
  raw = rng.normal(size=16)
  deltas = np.arange(-8, 9) * 0.5
  c = zs.curve(x, y, t, deltas=deltas, direction=3 * raw, topk=(1, 5, 20))
  ref = notebook(x, y, t, deltas, unit(raw), ks=(1, 5))
  assert c["direction_source"] == "given" and "top20" not in c  # k > C left out
  np.testing.assert_array_equal(c["top1"], ref[1])
  np.testing.assert_array_equal(c["top5"], ref[5])
  np.testing.assert_allclose(c["gap"], ref["gap"], rtol=1e-11, atol=1e-13)
  assert np.all(c["top5"] >= c["top1"]) and c["top5"].min() < 1


def test_delta_zero_is_plain_zero_shot_accuracy():
  x, y, t = task(seed=1)
  c = zs.curve(x, y, t, deltas=[-1.0, 0.0, 2.0])
  plain = np.mean(np.argmax(x @ t.T, axis=1) == y)
  assert c["top1"][1] == plain
  assert c["gap"][1] == pytest.approx(np.linalg.norm(x.mean(0) - t.mean(0)), rel=1e-12)
  s = zs.summary(c)
  assert s["top1_at_0"] == plain and s["gain"] == s["best_top1"] - plain >= 0


def test_blocked_equals_unblocked_and_float32():
  x, y, t = task(n=97, seed=2)
  full = zs.curve(x, y, t, block=10**6)
  part = zs.curve(x, y, t, block=7)
  for key in ("top1", "top5"):
    np.testing.assert_array_equal(part[key], full[key])
  np.testing.assert_allclose(part["gap"], full["gap"], rtol=1e-13)
  # float32 rows are read as float64 per block: same as their float64 copy
  x32 = x.astype(np.float32)
  np.testing.assert_array_equal(zs.curve(x32, y, t, block=9)["top1"],
                                zs.curve(x32.astype(np.float64), y, t)["top1"])


def test_ties_rank_as_argmax():
  x, y, t = task(n=60, c=5, seed=5)
  t2 = np.vstack([t, t[2:3]])  # class 5 duplicates class 2: exact ties
  y2 = np.where(y == 2, 5, y)
  c = zs.curve(x, y2, t2, deltas=[0.0])
  assert c["top1"][0] == np.mean(np.argmax(x @ t2.T, axis=1) == y2)
  assert c["top5"][0] == np.mean(zs.ranks((x @ t2.T)[None], y2)[0] < 5)


def test_shifted_cosines_direct_for_any_coefficients():
  rng = np.random.default_rng(6)
  x, t, v = rng.normal(size=(9, 4)), rng.normal(size=(3, 4)), rng.normal(size=4)
  b, c = np.array([0.0, -1.3, 0.7]), np.array([0.4, 0.0, -2.0])
  cos, nx, nt = zs.shifted_cosines(x, t, v, b, c)
  for k in range(3):
    xs, ts = x - b[k] * v, t + c[k] * v
    np.testing.assert_allclose(cos[k], unit(xs) @ unit(ts).T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(nx[k], np.linalg.norm(xs, axis=1), rtol=1e-12)


def test_class_embeddings_prompt_averaging():
  rng = np.random.default_rng(7)
  p = rng.normal(size=(4, 3, 6)) * rng.uniform(0.5, 3, size=(4, 3, 1))
  ref = unit(unit(p).mean(axis=1))
  np.testing.assert_allclose(zs.class_embeddings(p), ref, rtol=1e-12)
  np.testing.assert_allclose(zs.class_embeddings(p[:, 0]), unit(p[:, 0]), rtol=1e-12)
  # float32 prompts: normalised in float64, stored float32 (~1e-7 relative)
  np.testing.assert_allclose(zs.class_embeddings(p.astype(np.float32)), ref, rtol=1e-6)
  cancel = np.stack([p[:, 0], -p[:, 0]], axis=1)
  with pytest.raises(ConfigError, match="cancel"):
    zs.class_embeddings(cancel)
  with pytest.raises(ConfigError, match="classes"):
    zs.class_embeddings(p[0, 0])


def test_summary_best_delta_and_ties():
  c = {"delta": np.array([-1.0, -0.5, 0.0, 0.5, 1.0]), "top1": np.array([.5, .7, .6, .7, .2]),
       "gap": np.array([1.2, 1.0, 0.8, 0.6, 0.4])}
  s = zs.summary(c)
  assert s == {"original_gap": 0.8, "top1_at_0": 0.6, "best_delta": -0.5, "best_top1": 0.7,
               "gap_at_best": 1.0, "gain": pytest.approx(0.1)}
  with pytest.raises(ConfigError, match="containing 0"):
    zs.summary({**c, "delta": c["delta"] + 0.1})


@pytest.mark.parametrize("kw, field, words", [
    ({"deltas": [-1.0, 1.0]}, "deltas", "containing 0"),
    ({"deltas": [1.0, 0.0]}, "deltas", "increasing"),
    ({"direction": np.zeros(8)}, "direction", "nonzero"),
    ({"direction": np.ones(3)}, "direction", "length D = 8"),
    ({"topk": (0,)}, "topk", ">= 1"),
    ({"block": 0}, "block", ">= 1"),
])
def test_bad_arguments(kw, field, words):
  x, y, t = task(n=20)
  with pytest.raises(ConfigError, match=words) as e:
    zs.curve(x, y, t, **kw)
  assert e.value.field == field


def test_bad_shapes_and_labels():
  x, y, t = task(n=20)
  for args, field in (((x, y, t[:, :5]), "classes"), ((x, y[:-1], t), "labels"),
                      ((x, y + 5, t), "labels"), ((x, y.astype(float), t), "labels")):
    with pytest.raises(ConfigError) as e:
      zs.curve(*args)
    assert e.value.field == field
