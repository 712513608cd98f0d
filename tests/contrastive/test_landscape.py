"""The embedding-shift loss landscape (Fig 3b-d probe)."""
import math

import chex
import numpy as np
import pytest

from gaplab.analysis import gap
from gaplab.contrastive import landscape as ls
from gaplab.contrastive import losses
from gaplab._errors import ConfigError


def _pair(seed, n=23, d=6, dtype=np.float64):
  rng = np.random.default_rng(seed)
  return rng.normal(size=(n, d)).astype(dtype), rng.normal(size=(n, d)).astype(dtype) + 0.8


def _offset_toy(n, d, s, seed=0):
  """Pairs sharing content u_i (unit, orthogonal to e0) plus a modality offset:
  x_i = sqrt(1 - s^2) u_i + s e0, y_i = sqrt(1 - s^2) u_i - s e0 (unit rows).
  Gap 2 s along e0. The shift gives, with t = s - delta/2 and k = 1 - s^2,
  x'_i = (sqrt k u_i + t e0)/sqrt(k + t^2), y'_j likewise with -t, so
  signed gap = 2 t / sqrt(k + t^2) and x'_i.y'_j = (c_ij - t^2/k)/(1 + t^2/k),
  c = u u^T. Then logit_ij - logit_ii = scale (c_ij - 1)/(1 + t^2/k): every
  row's and column's margins shrink as |t| grows, so the CLIP loss is smallest
  exactly at t = 0 (delta = 2 s, where x' = y' = u), for every scale."""
  rng = np.random.default_rng(seed)
  u = rng.normal(size=(n, d))
  u[:, 0] = 0.0
  u /= np.linalg.norm(u, axis=1, keepdims=True)
  e0 = np.eye(d)[0]
  k = math.sqrt(1 - s * s)
  return k * u + s * e0, k * u - s * e0, u


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-6), (np.float64, 1e-12)])
def test_shifted_rows_stay_on_sphere(dtype, tol):
  x, y = _pair(0, dtype=dtype)
  x_hat, y_hat = losses.normalize_rows(x), losses.normalize_rows(y)
  d = losses.normalize_rows((x_hat.mean(0) - y_hat.mean(0))[None])[0]
  for delta in ls.DEFAULT_DELTAS:
    for rows in ls.shift(x_hat, y_hat, dtype(delta), d):
      assert rows.dtype == dtype
      np.testing.assert_allclose(np.linalg.norm(np.asarray(rows, np.float64), axis=1), 1.0, atol=tol)


def test_defaults_and_original_gap():
  x, y = _pair(1, n=120)
  r = ls.landscape(x, y)
  assert r.deltas.shape == (41,) and r.deltas[0] == -5 and r.deltas[-1] == 5
  assert r.deltas[20] == 0.0 and np.allclose(np.diff(r.deltas), 0.25)
  np.testing.assert_array_equal(r.logit_scales, [100, 50, 30, 20, 10, 1])
  assert r.loss.shape == (41, 6) and r.signed_gap.shape == r.gap_norm.shape == (41,)
  assert r.n_batches == 2  # batches of 50; the last 20 pairs are dropped
  want = gap.decomposition(x, y)["gap"]
  assert r.original_gap == pytest.approx(want, rel=1e-12)
  assert r.signed_gap[20] == pytest.approx(want, rel=1e-12)
  assert r.gap_norm[20] == pytest.approx(want, rel=1e-12)
  np.testing.assert_allclose(r.loss, 0.5 * (r.loss_i2t + r.loss_t2i), rtol=1e-14)
  assert np.all(r.gap_norm >= np.abs(r.signed_gap) - 1e-12)


def test_loss_at_zero_is_batched_clip_loss():
  x, y = _pair(2, n=23)  # batch 5: four batches, the last 3 pairs dropped
  scales = np.array([100.0, 7.0, 1.0])
  r = ls.landscape(x, y, deltas=[-1.0, 0.0, 1.0], logit_scales=scales, batch_size=5)
  assert r.n_batches == 4
  for j, s in enumerate(scales):
    dirs = [losses.clip_loss_directions(x[b:b + 5], y[b:b + 5], logit_scale=s)
            for b in range(0, 20, 5)]
    i2t, t2i = np.mean([float(a) for a, _ in dirs]), np.mean([float(b) for _, b in dirs])
    np.testing.assert_allclose([r.loss_i2t[1, j], r.loss_t2i[1, j]], [i2t, t2i], rtol=1e-12)
    np.testing.assert_allclose(r.loss[1, j], 0.5 * (i2t + t2i), rtol=1e-12)
  same = ls.landscape(x, y, deltas=[0.0, 1.0], temperatures=1 / scales, batch_size=5)
  np.testing.assert_allclose(same.loss[0], r.loss[1], rtol=1e-12)


def test_offset_toy_minimum_closes_the_gap():
  s = 0.375  # gap 0.75: the grid point delta = 0.75 closes it exactly
  x, y, u = _offset_toy(60, 8, s)
  r = ls.landscape(x, y, batch_size=20)
  assert r.original_gap == pytest.approx(2 * s, rel=1e-12)
  t = s - r.deltas / 2
  np.testing.assert_allclose(r.signed_gap, 2 * t / np.sqrt(1 - s * s + t * t), atol=1e-12)
  np.testing.assert_allclose(r.argmin_delta, 2 * s)
  np.testing.assert_allclose(r.argmin_signed_gap, 0.0, atol=1e-12)
  # at the minimum x' = y' = u: the loss of the shared content alone
  for j, scale in enumerate(r.logit_scales):
    want = np.mean([float(losses.clip_loss(u[b:b + 20], u[b:b + 20], logit_scale=scale))
                    for b in (0, 20, 40)])
    np.testing.assert_allclose(r.loss[r.deltas == 2 * s, j], want, rtol=1e-10)
  # and the loss grows monotonically on either side (margins shrink with |t|)
  i = int(np.flatnonzero(r.deltas == 2 * s)[0])
  assert np.all(np.diff(r.loss[i:], axis=0) > 0) and np.all(np.diff(r.loss[:i + 1], axis=0) < 0)


def test_identical_pairs_need_a_direction_and_minimum_at_zero():
  x, _, _ = _offset_toy(40, 5, 0.0)
  x = x + np.random.default_rng(3).normal(size=x.shape) * 0.1  # any x, with y = x
  with pytest.raises(ConfigError) as err:
    ls.landscape(x, x, batch_size=10)
  assert err.value.field == "direction"
  d = np.zeros(5)
  d[2] = 3.0
  r = ls.landscape(x, x, batch_size=10, direction=d)
  assert r.original_gap == 0.0
  np.testing.assert_array_equal(r.argmin_delta, 0.0)
  # x = y makes delta -> -delta transpose every cosine matrix: the symmetric
  # loss is even in delta, and the signed gap odd.
  np.testing.assert_allclose(r.loss, r.loss[::-1], rtol=1e-12)
  np.testing.assert_allclose(r.signed_gap, -r.signed_gap[::-1], atol=1e-12)


def test_one_compile_serves_new_grids_of_same_length(monkeypatch):
  # the landscape's own jit of its program, traced at most once for both grids
  chex.clear_trace_counter()
  monkeypatch.setattr(ls, "_program", ls._compile(chex.assert_max_traces(ls._grid, n=1)))
  x, y = _pair(4, n=31, d=7, dtype=np.float32)
  a = ls.landscape(x, y, deltas=np.linspace(-2, 2, 9), logit_scales=[100.0, 10.0, 1.0], batch_size=10)
  b = ls.landscape(x, y, deltas=np.linspace(-1, 3, 9), logit_scales=[50.0, 20.0, 2.0], batch_size=10)
  with pytest.raises(AssertionError, match="traced > 1 times"):  # a new length retraces
    ls.landscape(x, y, deltas=np.linspace(-1, 3, 8), logit_scales=[50.0, 20.0, 2.0], batch_size=10)
  assert a.loss.dtype == np.float32 and np.all(np.isfinite(b.loss))
  assert not np.allclose(a.loss, b.loss)


def _raises(field, **kw):
  x, y = _pair(5, n=12)
  kw.setdefault("y", y)
  kw.setdefault("batch_size", 4)
  with pytest.raises(ConfigError) as err:
    ls.landscape(kw.pop("x", x), kw.pop("y"), **kw)
  assert err.value.field == field and "\n" not in str(err.value)


def test_bad_inputs():
  _raises("y", y=np.ones((11, 6)))
  _raises("batch_size", batch_size=13)
  _raises("batch_size", batch_size=1)
  _raises("batch_size", batch_size=2.0)
  _raises("deltas", deltas=[])
  _raises("deltas", deltas=[0.0, 0.0, 1.0])
  _raises("deltas", deltas=[1.0, 0.0])
  _raises("deltas", deltas=[[0.0, 1.0]])
  _raises("logit_scales", logit_scales=[10.0, 0.0])
  _raises("temperatures", temperatures=[-0.1])
  _raises("temperatures", temperatures=[0.1], logit_scales=[10.0])
  _raises("direction", direction=np.zeros(6))
  _raises("direction", direction=np.ones(5))
