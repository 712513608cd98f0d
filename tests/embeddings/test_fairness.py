"""Group-wise outcomes under a gap shift: the FairFace notebook's formula by brute force."""
import numpy as np
import pytest

from gaplab._errors import ConfigError
from gaplab.embeddings import fairness as fa


def unit(a):
  return a / np.linalg.norm(a, axis=-1, keepdims=True)


def task(n=240, c=7, d=8, seed=0):
  """Images of 3 groups near class prototypes; classes 5, 6 are 'flagged' ones
  placed between the image and text clouds, so shifts move predictions in and out."""
  rng = np.random.default_rng(seed)
  protos = rng.normal(size=(c, d))
  y = rng.integers(0, 5, n)
  groups = rng.integers(0, 3, n)
  gap = 1.2 * np.eye(d)[0]
  x = unit(protos[y] + 1.0 * rng.normal(size=(n, d)) + gap + 0.4 * groups[:, None] * np.eye(d)[1])
  t = unit(protos - gap)
  t[5:] = unit(rng.normal(size=(2, d)) + 0.5 * gap)
  g = x.mean(0) - t.mean(0)  # a raw gap vector (the notebook's comes from COCO)
  return x, y, groups, t, g


def notebook(x, groups, t, flagged, deltas, g, mode, y=None):
  """shift_CLIP_FairFace_Bias.ipynb's loop (mode image_raw; image_unit with g
  normalised) or its zero-shot
  variant with a unit direction (both_unit), float64, one delta and image at a time."""
  frac, acc = [], []
  for delta in deltas:
    if mode == "image_raw":
      xx, tt = unit(x - delta * g), t
    elif mode == "image_unit":
      xx, tt = unit(x - delta * unit(g)), t
    else:
      gh = unit(g)
      xx, tt = unit(x - 0.5 * delta * gh), unit(t + 0.5 * delta * gh)
    pred = np.array([np.argmax(xx[i] @ tt.T) for i in range(len(x))])
    frac.append([[np.mean(np.isin(pred[groups == k], idx)) for idx in flagged.values()]
                 for k in range(groups.max() + 1)])
    if y is not None:
      acc.append(np.mean(pred == y))
  return np.array(frac), (np.array(acc) if y is not None else None)


FLAGGED = {"crime": [5], "nonhuman": [6, 5]}


@pytest.mark.parametrize("mode", fa.MODES)
def test_fractions_equal_brute_force(mode):
  x, y, groups, t, g = task()
  deltas = fa.DEFAULT_DELTAS + (2.0, -2.0)
  c = fa.curve(x, groups, t, FLAGGED, deltas=deltas, mode=mode, direction=g, labels=y,
               group_names=["a", "b", "c"])
  frac, acc = notebook(x, groups, t, FLAGGED, deltas, g, mode, y)
  assert c["groups"] == ["a", "b", "c"] and c["sets"] == ["crime", "nonhuman"]
  np.testing.assert_array_equal(c["delta"], deltas)  # the given order is kept
  # fractions are counts / group size: equal unless a cosine tie flips (none here)
  np.testing.assert_array_equal(c["fraction"], frac)
  np.testing.assert_array_equal(c["accuracy"], acc)
  assert c["fraction"].shape == (len(deltas), 3, 2) and np.ptp(c["fraction"][:, :, 0]) > 0.1
  np.testing.assert_array_equal(c["count"].sum(axis=1) / len(x), c["overall"])


def test_gap_after_shift_brute_force():
  x, _, groups, t, g = task(seed=1)
  c = fa.curve(x, groups, t, FLAGGED, deltas=[0.0, -1.0, 0.75], direction=g)
  for k, delta in enumerate(c["delta"]):
    ref = np.linalg.norm(unit(x - delta * g).mean(0) - t.mean(0))
    assert c["gap"][k] == pytest.approx(ref, rel=1e-12)  # float64, ~1e-15 relative


def test_delta_zero_equals_unshifted_predictions():
  x, y, groups, t, g = task(seed=2)
  pred = np.argmax(x @ t.T, axis=1)
  for mode in fa.MODES:
    c = fa.curve(x, groups, t, FLAGGED, deltas=[0.5, 0.0], mode=mode, direction=g, labels=y)
    for s, idx in enumerate(FLAGGED.values()):
      for k in range(3):
        assert c["fraction"][1, k, s] == np.mean(np.isin(pred[groups == k], idx))
    assert c["accuracy"][1] == np.mean(pred == y)


def test_blocked_equals_unblocked():
  x, y, groups, t, g = task(n=101, seed=3)
  full = fa.curve(x, groups, t, FLAGGED, direction=g, labels=y)
  part = fa.curve(x, groups, t, FLAGGED, direction=g, labels=y, block=8)
  for key in ("fraction", "count", "accuracy"):
    np.testing.assert_array_equal(part[key], full[key])
  np.testing.assert_allclose(part["gap"], full["gap"], rtol=1e-13)
  assert full["accuracy"] is not None
  assert fa.curve(x, groups, t, FLAGGED, direction=g)["accuracy"] is None


@pytest.mark.parametrize("kw, field, words", [
    ({"flagged": {"crime": [7]}}, "flagged", r"in \[0, 7\)"),
    ({"flagged": {"crime": []}}, "flagged", "non-empty"),
    ({"flagged": {}}, "flagged", "one or more"),
    ({"mode": "text_raw"}, "mode", "image_raw"),
    ({"deltas": (-0.2, 0.5)}, "deltas", "containing 0"),
    ({"deltas": (0.0, 0.0)}, "deltas", "distinct"),
    ({"group_names": ["a", "b"]}, "group_names", "a name for every group"),
    ({"group_names": ["a", "b", "c", "d"]}, "groups", "none in"),
    ({"direction": np.zeros(8)}, "direction", "nonzero"),
])
def test_bad_arguments(kw, field, words):
  x, _, groups, t, g = task(n=30)
  args = {"flagged": FLAGGED, "direction": g, **kw}
  flagged = args.pop("flagged")
  with pytest.raises(ConfigError, match=words) as e:
    fa.curve(x, groups, t, flagged, **args)
  assert e.value.field == field
