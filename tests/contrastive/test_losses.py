"""CLIP and SigLIP losses: hand values, float64 NumPy references, stability."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gaplab.contrastive import losses
from gaplab._errors import ConfigError


def _np_unit(a):
  a = np.asarray(a, np.float64)
  return a / np.sqrt(np.sum(a * a, axis=1, keepdims=True))


def _np_lse_rows(m):
  top = np.max(m, axis=1)
  return top + np.log(np.sum(np.exp(m - top[:, None]), axis=1))


def _np_clip(x, y, scale):
  """Reference: (i2t, t2i) with logsumexp by max shift, rows then columns."""
  logits = scale * _np_unit(x) @ _np_unit(y).T
  diag = np.diag(logits)
  return np.mean(_np_lse_rows(logits) - diag), np.mean(_np_lse_rows(logits.T) - diag)


def _np_siglip(x, y, scale, bias):
  logits = scale * _np_unit(x) @ _np_unit(y).T + bias
  z = (2 * np.eye(len(x)) - 1) * logits
  log_sig = np.minimum(z, 0) - np.log(1 + np.exp(-np.abs(z)))  # log sigmoid(z)
  return -np.sum(log_sig) / len(x)


def _pair(seed, n=7, d=5, dtype=np.float64):
  rng = np.random.default_rng(seed)
  return rng.normal(size=(n, d)).astype(dtype), rng.normal(size=(n, d)).astype(dtype)


def test_two_by_two_by_hand():
  # x = (e1, e2), y = (e1, e1 + e2): cosines C = [[1, r], [0, r]], r = 1/sqrt 2,
  # logits = s C. Rows (i2t):  log(1 + e^{s(r-1)}),  log(1 + e^{-s r}).
  # Columns (t2i):             log(1 + e^{-s}),      log 2 (both entries s r).
  x = np.array([[1.0, 0.0], [0.0, 1.0]])
  y = np.array([[1.0, 0.0], [1.0, 1.0]])
  s, r = 2.0, 1 / math.sqrt(2)
  i2t_hand = 0.5 * (math.log1p(math.exp(s * (r - 1))) + math.log1p(math.exp(-s * r)))
  t2i_hand = 0.5 * (math.log1p(math.exp(-s)) + math.log(2.0))
  i2t, t2i = losses.clip_loss_directions(x, y, logit_scale=s)
  assert float(i2t) == pytest.approx(i2t_hand, abs=1e-14)
  assert float(t2i) == pytest.approx(t2i_hand, abs=1e-14)
  assert abs(i2t_hand - t2i_hand) > 0.05  # the two directions really differ here
  sym = losses.clip_loss(x, y, temperature=1 / s)
  assert float(sym) == pytest.approx(0.5 * (i2t_hand + t2i_hand), abs=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("scale", [1.0, 14.3, 100.0])
def test_clip_matches_numpy_float64(seed, scale):
  x, y = _pair(seed)
  i2t, t2i = losses.clip_loss_directions(x, y, logit_scale=scale)
  ref_i2t, ref_t2i = _np_clip(x, y, scale)
  assert i2t.dtype == jnp.float64
  np.testing.assert_allclose([float(i2t), float(t2i)], [ref_i2t, ref_t2i], rtol=1e-12, atol=1e-12)
  assert abs(ref_i2t - ref_t2i) > 1e-6  # not symmetric: both directions matter
  sym = losses.clip_loss(x, y, temperature=1 / scale)
  np.testing.assert_allclose(float(sym), 0.5 * (ref_i2t + ref_t2i), rtol=1e-12, atol=1e-12)


def test_swapping_modalities_swaps_directions():
  x, y = _pair(3)
  a = losses.clip_loss_directions(x, y, logit_scale=10.0)
  b = losses.clip_loss_directions(y, x, logit_scale=10.0)
  np.testing.assert_allclose([float(a[0]), float(a[1])], [float(b[1]), float(b[0])], rtol=1e-13)


def test_stable_at_small_temperature_float32():
  tau = 1e-3
  x, _ = _pair(4, n=16, d=8, dtype=np.float32)
  aligned = losses.clip_loss(x, x, temperature=tau)
  assert aligned.dtype == jnp.float32 and np.isfinite(float(aligned))
  # Each row's true logit 1/tau is the largest; the others are 1/tau * cos with
  # cos well below 1 for random rows, so the loss is ~ sum e^{-(1-cos)/tau} ~ 0.
  assert 0.0 <= float(aligned) < 1e-6
  # y = -x: true logit -1/tau is each row's smallest; with c = x_hat x_hat^T,
  # max_j logit_ij = -min_j c_ij / tau, so row loss lies in
  # [(1 - min_j c_ij)/tau, (1 - min_j c_ij)/tau + log N]; t2i the same (c symmetric).
  i2t, t2i = losses.clip_loss_directions(x, -x, temperature=tau)
  c = _np_unit(x) @ _np_unit(x).T
  low = np.mean((1 - c.min(axis=1)) / tau)
  for v in (i2t, t2i):
    v = float(v)
    assert np.isfinite(v)
    assert low * (1 - 1e-5) <= v <= (low + math.log(16)) * (1 + 1e-5)
  np.testing.assert_allclose(float(i2t), _np_clip(x, -x, 1 / tau)[0], rtol=1e-5)


def test_grad_finite_at_small_temperature():
  x, y = _pair(5, dtype=np.float32)
  for yy in (y, x, -x):
    gx, gt = jax.grad(lambda a, t: losses.clip_loss(a, yy, temperature=t), argnums=(0, 1))(
        jnp.asarray(x), jnp.float32(1e-3))
    assert np.all(np.isfinite(np.asarray(gx))) and np.isfinite(float(gt))


def test_vmap_over_temperatures_equals_loop():
  x, y = _pair(6)
  taus = jnp.array([1e-3, 0.01, 0.07, 0.5, 1.0])
  batched = jax.vmap(lambda t: losses.clip_loss(x, y, temperature=t))(taus)
  looped = [float(losses.clip_loss(x, y, temperature=float(t))) for t in taus]
  np.testing.assert_allclose(np.asarray(batched), looped, rtol=1e-13)
  jitted = jax.jit(lambda a, b, t: losses.clip_loss(a, b, temperature=t))(x, y, 0.07)
  np.testing.assert_allclose(float(jitted), looped[2], rtol=1e-13)


def test_float32_inputs_stay_float32():
  x, y = _pair(9, dtype=np.float32)
  assert losses.clip_loss(x, y, temperature=np.float64(0.1)).dtype == jnp.float32
  assert losses.siglip_loss(x, y, logit_scale=np.float64(10.0), logit_bias=-10.0).dtype == jnp.float32


def test_logit_scale_clamp():
  assert float(losses.logit_scale_from_log(losses.INIT_LOG_LOGIT_SCALE)) == pytest.approx(1 / 0.07)
  assert float(losses.logit_scale_from_log(math.log(50.0))) == pytest.approx(50.0)
  assert float(losses.logit_scale_from_log(math.log(1e4))) == pytest.approx(100.0)
  assert float(jax.grad(losses.logit_scale_from_log)(math.log(1e4))) == 0.0  # clamped
  assert float(jax.grad(losses.logit_scale_from_log)(0.0)) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("scale,bias", [(10.0, -10.0), (1.0, 0.0), (100.0, 3.0)])
def test_siglip_matches_numpy(seed, scale, bias):
  x, y = _pair(seed)
  got = losses.siglip_loss(x, y, logit_scale=scale, logit_bias=bias)
  np.testing.assert_allclose(float(got), _np_siglip(x, y, scale, bias), rtol=1e-12)


def test_siglip_stable_float32():
  x, _ = _pair(7, dtype=np.float32)
  for yy in (x, -x):
    v = float(losses.siglip_loss(x, yy, logit_scale=1000.0, logit_bias=-10.0))
    assert np.isfinite(v)


def _raises(field, fn):
  with pytest.raises(ConfigError) as err:
    fn()
  assert err.value.field == field
  assert "\n" not in str(err.value)


def test_bad_inputs():
  x, y = _pair(8)
  clip = losses.clip_loss
  _raises("y", lambda: clip(x, y[:-1], temperature=0.1))  # mismatched N
  _raises("x", lambda: clip(x[0], y[0], temperature=0.1))  # wrong rank
  _raises("x", lambda: clip(x[:0], y[:0], temperature=0.1))  # no rows
  z = x.copy()
  z[2] = 0.0
  _raises("x", lambda: clip(z, y, temperature=0.1))  # an all-zero row
  bad = y.copy()
  bad[1, 1] = np.nan
  _raises("y", lambda: clip(x, bad, temperature=0.1))
  _raises("temperature", lambda: clip(x, y, temperature=0.0))
  _raises("temperature", lambda: clip(x, y, temperature=-1.0))
  _raises("logit_scale", lambda: clip(x, y, logit_scale=0.0))
  _raises("temperature", lambda: clip(x, y))  # neither
  _raises("temperature", lambda: clip(x, y, temperature=0.1, logit_scale=10.0))  # both
  _raises("logit_scale", lambda: losses.siglip_loss(x, y, logit_scale=-1.0, logit_bias=0.0))
  _raises("logit_bias", lambda: losses.siglip_loss(x, y, logit_scale=1.0, logit_bias=np.inf))
