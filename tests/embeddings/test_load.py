"""Loading user embeddings: every layout round-trips to x / |x|, every bad input
is one ConfigError naming its field and the problem."""
from __future__ import annotations

import os

import numpy as np
import pytest

from gaplab._errors import ConfigError
from gaplab.embeddings import load as L
from gaplab.nets import inputs


def _x(shape, dtype=np.float32, seed=0):
  return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _unit64(x):
  x = np.asarray(x, np.float64)
  return x / np.linalg.norm(x, axis=1, keepdims=True)


# float32 output of a float64 computation: each entry (|u| <= 1) is rounded once,
# error <= 2^-24 ~ 6e-8, hence atol 1e-7. float64 input: a few ulps, 1e-15.
F32_ATOL, F64_ATOL = 1e-7, 1e-15


def _raises(match, fn, *args, field="emb", **kw):
  with pytest.raises(ConfigError, match=match) as e:
    fn(*args, **kw)
  assert e.value.field == field and "\n" not in str(e.value)
  return e.value


def test_stacked_npy_round_trips_memory_mapped(tmp_path):
  x = _x((2, 40, 7))
  p = str(tmp_path / "emb.npy")
  np.save(p, x)
  e = L.load([p])
  assert e.names == ("image", "text") and (e.n_pairs, e.dim) == (40, 7)
  assert e.labels is None and e.groups is None
  for k in range(2):
    assert e.rows[k].dtype == np.float32 and not e.rows[k].flags.writeable
    np.testing.assert_allclose(e.rows[k], _unit64(x[k]), rtol=0, atol=F32_ATOL)
  a, b = e.pair()
  assert a is e.rows[0] and b is e.pair("text", "image")[0]
  assert e.source == {"paths": [p], "format": "npy_stacked",
                      "modalities": ["image", "text"], "dtype": "float32",
                      "n_pairs": 40, "dim": 7,
                      "sha256": [inputs.fingerprint(x[0]), inputs.fingerprint(x[1])]}
  assert isinstance(L.read_array(p, "emb"), np.memmap)
  assert L.load(p).names == ("image", "text")  # a bare string is one path


def test_stacked_three_modalities_named_and_selected(tmp_path):
  p = str(tmp_path / "emb.npy")
  x = _x((3, 10, 4))
  np.save(p, x)
  assert L.load([p]).names == ("m0", "m1", "m2")
  e = L.load([p], modalities=["m2", "m0"])
  assert e.names == ("m2", "m0")
  np.testing.assert_allclose(e.rows[0], _unit64(x[2]), rtol=0, atol=F32_ATOL)


def test_npz_round_trips_with_labels_groups_and_selection(tmp_path):
  x, y, z = (_x((30, 5), np.float64, seed) for seed in (1, 2, 3))
  labels = np.arange(30, dtype=np.int32) % 4
  groups = np.array(["a", "b", "c"] * 10)
  p = str(tmp_path / "e.npz")
  np.savez(p, audio=x, caption=y, video=z, labels=labels, groups=groups)
  e = L.load([p])
  assert e.names == ("audio", "caption", "video") and e.source["format"] == "npz"
  assert e.rows[0].dtype == np.float64 and e.source["dtype"] == "float64"
  for r, ref in zip(e.rows, (x, y, z)):
    np.testing.assert_allclose(r, _unit64(ref), rtol=0, atol=F64_ATOL)
  assert e.labels.dtype == np.int64 and np.array_equal(e.labels, labels)
  np.testing.assert_array_equal(e.groups, groups)
  s = L.load([p], modalities=["video", "audio"])
  assert s.names == ("video", "audio") and s.source["sha256"] == [
      inputs.fingerprint(z), inputs.fingerprint(x)]
  np.savez(p, a=x, b=y, groups=np.arange(30) % 2)
  g = L.load([p]).groups
  assert g.dtype == np.int64 and g[1] == 1


def test_one_npy_per_modality_named_by_stem(tmp_path):
  x, y = _x((12, 3), seed=1), _x((12, 3), np.float16, 2)
  pa, pb = str(tmp_path / "img.npy"), str(tmp_path / "txt.npy")
  np.save(pa, x)
  np.save(pb, y)
  e = L.load([pa, pb])
  assert e.names == ("img", "txt") and e.source["format"] == "npy_each"
  assert e.source["dtype"] == "float32" and e.source["dtypes"] == ["float32", "float16"]
  np.testing.assert_allclose(e.rows[1], _unit64(y), rtol=0, atol=F32_ATOL)
  os.mkdir(tmp_path / "d")
  pc = str(tmp_path / "d" / "img.npy")
  np.save(pc, y)
  assert L.load([pa, pc]).names == ("m0", "m1")
  assert L.load([pa, pb], modalities=["txt", "img"]).names == ("txt", "img")


def test_float16_gives_float32_and_float64_extremes_are_safe():
  x = _x((20, 6), np.float16)
  u = L.unit_rows(x, "emb")
  assert u.dtype == np.float32
  # the float16 values are exact in float64, so the reference is exact
  np.testing.assert_allclose(u, _unit64(x), rtol=0, atol=F32_ATOL)
  # |x|^2 would overflow (1e300) or underflow (1e-300) in float64: rows are
  # scaled by a power of two first, so the result is still x / |x|
  base = _x((3, 4), np.float64)
  for scale in (1e300, 1e-300):
    u = L.unit_rows(base * scale, "emb")
    np.testing.assert_allclose(u, _unit64(base), rtol=0, atol=1e-15)
  tiny = base * 1e-320  # subnormal: its own rounded values, scaled exactly by 2^1074
  np.testing.assert_allclose(L.unit_rows(tiny, "emb"), _unit64(np.ldexp(tiny, 1074)),
                             rtol=0, atol=F64_ATOL)


def test_blocked_normalisation_equals_unblocked(tmp_path):
  x = _x((2, 23, 5))
  p = str(tmp_path / "e.npy")
  np.save(p, x)
  a, b = L.load([p], block=3), L.load([p])
  for r, s in zip(a.rows, b.rows):  # each row is computed alone: bit-identical
    np.testing.assert_array_equal(r, s)
  assert a.source == b.source  # the blocked sha256 equals the whole-array one
  assert inputs.fingerprint(x[0], block=3) == inputs.fingerprint(x[0])
  np.testing.assert_array_equal(L.unit_rows(x[0], "emb", block=3), b.rows[0])


def test_bad_rows_counted_and_named():
  x = _x((30, 4))
  x[[17, 20, 21]] = 0
  x[25, 1], x[28, 0] = np.nan, np.inf
  _raises(r"expected finite nonzero rows, got 3 zero rows and 2 rows with NaN or inf "
          r"in 'text' \(first bad row 17\)", L.unit_rows, x, "emb", "text", block=4)
  _raises(r"got 2 rows with NaN or inf \(first bad row 25\)", L.unit_rows,
          np.where(x == 0, 1, x), "emb")
  _raises(r"got 3 zero rows in 'a'", L.unit_rows, np.nan_to_num(x, posinf=1), "inp", "a",
          field="inp")


def test_bad_arrays_refused(tmp_path):
  def save(name, *arrays, **named):
    p = str(tmp_path / name)
    (np.savez(p, **named) if name.endswith(".npz") else np.save(p, arrays[0]))
    return p
  x = _x((10, 4))
  _raises(r"shape \(M >= 2, N, D\).*got shape \(10, 4\)", L.load, [save("a.npy", x)])
  _raises(r"got shape \(1, 10, 4\)", L.load, [save("b.npy", x[None])])
  _raises(r"got shape \(2, 1, 10, 4\)", L.load, [save("c.npy", np.stack([x[None]] * 2))])
  _raises(r"same number of rows N.*10 in 'x' and 9 in 'y'", L.load,
          [save("x.npy", x), save("y.npy", x[:9])])
  _raises(r"same number of dimensions D.*4 in 'x' and 3 in 'z'", L.load,
          [save("x.npy", x), save("z.npy", x[:, :3])])
  _raises(r"at least 2 pairs, got 1", L.load, [save("d.npy", np.stack([x[:1]] * 2))])
  _raises(r"float array \(float16, float32, float64\), got dtype int64 in 'image'",
          L.load, [save("e.npy", np.ones((2, 5, 3), np.int64))])
  bad = np.stack([x, x])
  bad[1, 3] = np.nan
  _raises(r"1 rows with NaN or inf in 'text' \(first bad row 3\)", L.load,
          [save("f.npy", bad)])
  _raises(r"D >= 1 columns", L.load, [save("g.npy", np.zeros((2, 5, 0), np.float32))])
  _raises(r"two or more modality arrays.*\['a'\]", L.load,
          [save("h.npz", a=x, labels=np.arange(10))])
  _raises(r"labels of shape \(10,\).*got shape \(9,\)", L.load,
          [save("i.npz", a=x, b=x, labels=np.arange(9))])
  _raises(r"integer class labels, got dtype float64", L.load,
          [save("j.npz", a=x, b=x, labels=np.arange(10.0))])
  _raises(r"labels >= 0, got 1 negative labels \(first at row 0\)", L.load,
          [save("k.npz", a=x, b=x, labels=np.arange(10) - 1)])
  _raises(r"groups of shape \(10,\).*got shape \(2, 5\)", L.load,
          [save("l.npz", a=x, b=x, groups=np.zeros((2, 5), np.int64))])
  _raises(r"integer or string groups, got dtype float64", L.load,
          [save("m.npz", a=x, b=x, groups=np.zeros(10))])
  _raises(r"modality arrays.*shape \(N, D\), got shape \(10,\) in 'ids'", L.load,
          [save("n.npz", a=x, b=x, ids=np.arange(10.0))])


def test_bad_files_refused(tmp_path):
  p = str(tmp_path / "g.npy")
  with open(p, "wb") as f:
    f.write(b"garbage, not numpy")
  _raises(r"expected a \.npy file, got .*g\.npy' \(not a NumPy \.npy file", L.load, [p])
  q = str(tmp_path / "t.npy")
  with open(q, "wb") as f:
    f.write(np.lib.format.MAGIC_PREFIX + b"\x01\x00trunc")
  _raises(r"expected a readable \.npy file, got .*t\.npy'", L.load, [q])
  _raises(r"existing \.npy file, got .*nope\.npy' \(no such file\)", L.load,
          [str(tmp_path / "nope.npy")])
  os.mkdir(tmp_path / "dir.npy")
  _raises(r"\(a directory\)", L.load, [str(tmp_path / "dir.npy")])
  _raises(r"path ending in \.npy.*e\.txt", L.read_array, str(tmp_path / "e.txt"), "emb")
  _raises(r"existing \.npz file", L.load, [str(tmp_path / "nope.npz")])
  np.save(tmp_path / "x.npy", _x((5, 2)))
  np.savez(tmp_path / "y.npz", a=_x((5, 2)))
  _raises(r"one \.npy \(N, D\) per modality.*y\.npz", L.load,
          [str(tmp_path / "x.npy"), str(tmp_path / "y.npz")])
  _raises(r"one or more embedding files, got none", lambda: L.load([], field="inp"),
          field="inp")


def test_object_arrays_refused(tmp_path):
  obj = np.array([[1.0, "a"], [2.0, "b"]], dtype=object)
  p = str(tmp_path / "o.npy")
  np.save(p, obj)
  msg = r"expected a numeric array, got an object array.*allow_pickle=False"
  _raises(msg, L.load, [p])
  _raises(msg, L.read_array, p, "labels", field="labels")
  q = str(tmp_path / "o.npz")
  np.savez(q, a=_x((2, 2)), b=obj)
  _raises(msg + r"", L.load, [q])
  r = str(tmp_path / "s.npy")
  np.save(r, np.zeros(3, dtype=[("a", "f4")]))
  _raises(r"structured dtype", L.read_array, r, "emb")


def test_modalities_selection_errors(tmp_path):
  p = str(tmp_path / "e.npz")
  np.savez(p, image=_x((6, 3)), text=_x((6, 3), seed=1), audio=_x((6, 3), seed=2))
  assert L.load([p], modalities=("text", "image")).names == ("text", "image")
  _raises(r"modalities among \['image', 'text', 'audio'\], got unknown \['labels'\]",
          L.load, [p], modalities=["image", "labels"])
  _raises(r"two or more distinct modalities, got \['text'\]", L.load, [p],
          modalities=["text"])
  _raises(r"two or more distinct modalities", L.load, [p], modalities=["text", "text"])


def test_read_labels_and_read_array(tmp_path):
  p = str(tmp_path / "y.npy")
  np.save(p, np.array([2, 0, 1], np.uint8))
  y = L.read_labels(p, "labels", 3)
  assert y.dtype == np.int64 and y.tolist() == [2, 0, 1]
  _raises(r"shape \(4,\), one per row, got shape \(3,\) in .*y\.npy", L.read_labels, p,
          "labels", 4, field="labels")
  _raises(r"integer class labels, got dtype bool", L.read_labels, np.ones(3, bool),
          "labels", 3, field="labels")
  _raises(r"labels below 2\*\*63", L.read_labels, np.array([2**63], np.uint64),
          "labels", 1, field="labels")
  q = str(tmp_path / "one.npz")
  np.savez(q, np.arange(3))
  assert L.read_array(q, "labels").tolist() == [0, 1, 2]
  np.savez(q, a=np.arange(3), b=np.arange(3))
  _raises(r"holding one array, got 2 arrays", L.read_array, q, "labels", field="labels")
