"""Linear separability: cases with known answers, rotation invariance, keyed
determinism, and the L-BFGS fit against a float64 Newton solve of the same
convex objective. Every call has 400 pairs used and 16 dims, so one compiled fit."""
import jax
import numpy as np
import pytest

from gaplab.embeddings import separability as sep

N, D = 400, 16


def _unit(x):
  return x / np.linalg.norm(x, axis=1, keepdims=True)


def _shifted(seed, shift=0.5, n=N):
  """Two Gaussian clouds offset by -+shift along e_1, on the sphere: partly
  separable (held-out accuracy near 0.7)."""
  rng = np.random.default_rng(seed)
  e = np.eye(D)[0] * shift
  return (_unit(rng.normal(size=(n, D)) + e).astype(np.float32),
          _unit(rng.normal(size=(n, D)) - e).astype(np.float32))


def test_orthogonal_cones_are_separable():
  # a in span(e_1..e_8), b in span(e_9..e_16), each a cone around its first
  # axis: w = e_1 - e_9 separates them (orthogonal subspaces alone would not be
  # linearly separable if each were symmetric about the origin)
  rng = np.random.default_rng(1)
  h = D // 2
  z = np.zeros((N, h))
  a = _unit(np.c_[rng.normal(size=(N, h)) * 0.3 + np.eye(h)[0], z])
  b = _unit(np.c_[z, rng.normal(size=(N, h)) * 0.3 + np.eye(h)[0]])
  got = sep.separability(a, b, jax.random.key(0))
  assert got["accuracy"] == 1.0 and got["train_accuracy"] == 1.0 and got["stderr"] == 0.0
  assert got["n_test"] == 2 * 80 and got["n_train"] == 2 * 320 and got["n_pairs"] == N


def test_identical_modalities_are_at_chance():
  a, _ = _shifted(2)
  got = sep.separability(a, a, jax.random.key(0))
  # each test row appears with both labels, so exactly one of the two is right
  # whatever the classifier: 0.5 (within 3 binomial standard errors a fortiori)
  assert abs(got["accuracy"] - 0.5) <= 3 * got["stderr"]
  assert got["accuracy"] == 0.5


def test_rotation_leaves_accuracy_unchanged_and_key_determines_result():
  a, b = _shifted(3)
  q = np.linalg.qr(np.random.default_rng(4).normal(size=(D, D)))[0]
  key = jax.random.key(5)
  base = sep.separability(a, b, key)
  assert 0.6 < base["accuracy"] < 0.85  # a case between the two extremes
  rot = sep.separability(a @ q, b @ q, key)
  # same split (same key); only the per-coordinate standardisation and the weak
  # penalty are not rotation invariant, so the predictions barely move: well
  # within one binomial standard error (~0.036 at 160 test rows)
  assert abs(rot["accuracy"] - base["accuracy"]) <= base["stderr"]
  assert sep.separability(a, b, key) == base
  other = sep.separability(a, b, jax.random.key(6))
  assert other != base and other["n_test"] == base["n_test"]


def test_subset_of_pairs_above_max_rows():
  a, b = _shifted(7, n=500)
  got = sep.separability(a, b, jax.random.key(0), max_rows=N)
  assert got["n_pairs"] == N and got["n_test"] + got["n_train"] == 2 * N


def _newton(z, y, l2, iters=30):
  """Float64 Newton's method on mean BCE + l2/2 |w|^2 (bias unpenalised)."""
  x = np.c_[z, np.ones(len(z))]
  p = np.zeros(x.shape[1])
  reg = np.r_[np.full(z.shape[1], l2), 0.0]
  for _ in range(iters):
    s = 1 / (1 + np.exp(-x @ p))
    g = x.T @ (s - y) / len(y) + reg * p
    h = (x * (s * (1 - s))[:, None]).T @ x / len(y) + np.diag(reg)
    p = p - np.linalg.solve(h, g)
  return p


def test_lbfgs_fit_reaches_the_newton_optimum():
  a, b = _shifted(8)
  x = np.concatenate([a[:320], b[:320]]).astype(np.float64)
  y = np.repeat([0.0, 1.0], 320)
  mean, scale = sep._standardiser(x)
  np.testing.assert_allclose(mean, x.mean(0), rtol=1e-12, atol=1e-15)
  np.testing.assert_allclose(scale, x.std(0), rtol=1e-12)
  z = ((x - mean) / scale).astype(np.float32)
  w, c, iters = sep._fit(z, y.astype(np.float32), np.float32(1e-4), 500)
  ref = _newton(z.astype(np.float64), y, 1e-4)
  assert 0 < int(iters) < 500  # stopped on the gradient tolerance
  # float32 L-BFGS on a well-conditioned problem (non-separable data): the
  # optimum to ~1e-4 relative (float32 gradients bound it near 1e-6 x cond)
  np.testing.assert_allclose(np.r_[np.asarray(w), float(c)], ref, rtol=2e-4, atol=2e-5)


def test_bad_arguments_are_refused():
  a, b = _shifted(9, n=10)
  with pytest.raises(ValueError, match="test_fraction"):
    sep.separability(a, b, jax.random.key(0), test_fraction=1.0)
  with pytest.raises(ValueError, match="one shape"):
    sep.separability(a, b[:5], jax.random.key(0))
