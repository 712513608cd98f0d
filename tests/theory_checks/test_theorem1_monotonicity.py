"""Theorem 1 check: the CLI contract, and a float64 NumPy brute force (explicit
d_in-dimensional inputs and weight matrices) against the 2-D embedded JAX
estimate, per draw and in distribution."""
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gaplab.harness import checks
from gaplab.theory_checks import theorem1_monotonicity as t1

D_IN = 7


def np_cosine(w, b, u, v):
  """cos(relu(W u + b), relu(W v + b)) by brute force; W (..., d_out, d_in),
  b (..., d_out); NaN where a feature vector is zero."""
  hu = np.maximum(np.einsum("...ij,j->...i", w, u) + b, 0.0)
  hv = np.maximum(np.einsum("...ij,j->...i", w, v) + b, 0.0)
  nu, nv = np.linalg.norm(hu, axis=-1), np.linalg.norm(hv, axis=-1)
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where((nu > 0) & (nv > 0), np.sum(hu * hv, -1) / (nu * nv), np.nan)


def pair_2d(r, c, s=1.0):
  return np.array([r * s * c, r * s * math.sqrt(1 - c * c)]), np.array([s, 0.0])


def rotation(rng, d):
  q, rr = np.linalg.qr(rng.standard_normal((d, d)))
  return q * np.sign(np.diag(rr))


@pytest.mark.slow
def test_tiny_main_writes_figures_and_claims_pass(tmp_path, capsys):
  out = str(tmp_path / "run")
  assert t1.main(["--tiny", "--out", out]) == 0
  names = sorted(os.listdir(os.path.join(out, "figures")))
  assert names == sorted(f"{t1.NAME}_{k}.{e}" for k in ("decay", "map")
                         for e in ("png", "pdf"))
  claims = t1.claims(out)
  assert len(claims) >= 3 and all(c.passed for c in claims)
  assert checks.load(out, t1.NAME).meta["claims"] == checks.save_claims(claims)
  assert "tail slope" in t1.report(out) and "| pass |" in capsys.readouterr().out


@pytest.mark.parametrize("setting, key", [
    ("d_out=[0]", "d_out"), ("bogus=1", "bogus"), ("c=[0.5,1.0]", "c"),
    ("r=[0]", "r"), ("draws=0", "draws"), ("d_out=[16,8]", "d_out")])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, setting, key):
  out = tmp_path / "x"
  assert t1.main(["--tiny", "--out", str(out), "--set", setting]) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and f"--set {key}" in err and "error" in err
  assert not out.exists()


def test_jax_cosine_equals_numpy_for_the_same_draw():
  key, d = jax.random.key(11), 16
  pairs = [pair_2d(r, c, s) for r, c, s in [(1, 0.5, 1), (2, 0.9, 1), (3, -0.3, 0.5)]]
  us = jnp.asarray(np.stack([u for u, _ in pairs]))
  # the draw the sweep uses: rows of a padded draw are the unpadded numbers
  got = np.asarray(t1.draw_cosines(key, us, jnp.asarray(pairs[0][1]), d, width=d,
                                   draws=5, batch=2))
  pad = np.asarray(t1.draw_cosines(key, us, jnp.asarray(pairs[0][1]), d, width=4 * d,
                                   draws=5, batch=5))
  np.testing.assert_allclose(pad, got, rtol=0, atol=1e-14)
  for i in range(5):
    w, b = (np.asarray(x) for x in t1.draw_weights(jax.random.fold_in(key, i), d))
    assert w.shape == (d, 2) and w.dtype == np.float64
    want = [np_cosine(w, b, u, pairs[0][1]) for u, _ in pairs]
    np.testing.assert_allclose(got[i], want, rtol=0, atol=1e-14)
  # explicit d_in-dimensional W, u, v: W Q (Q orthonormal, d_in x 2) is what
  # the 2-D embedding sees, and the cosines agree draw by draw
  rng = np.random.default_rng(0)
  q = rotation(rng, D_IN)[:, :2]
  for r, c, s in [(1.5, 0.7, 1.0), (4.0, 0.2, 2.0)]:
    u2, v2 = pair_2d(r, c, s)
    w = rng.standard_normal((d, D_IN)) / math.sqrt(d)
    b = rng.standard_normal(d) / math.sqrt(d)
    want = np_cosine(w, b, q @ u2, q @ v2)
    got = t1.relu_cosines(jnp.asarray(w @ q), jnp.asarray(b), jnp.asarray(u2[None]),
                          jnp.asarray(v2))
    np.testing.assert_allclose(np.asarray(got)[0], want, rtol=0, atol=1e-13)


def test_violation_probability_matches_numpy_brute_force():
  """Explicit d_in = 7 inputs under a random rotation and explicit W, b,
  against the embedded JAX estimate with independent draws. The pooled
  two-proportion z statistic must stay under 4 (a false failure has
  probability about 6e-5 per comparison; the seeds are fixed anyway)."""
  rng = np.random.default_rng(1)
  cells = [(1.0, 0.5), (2.0, 0.7), (3.0, 0.9), (1.5, 0.95)]
  n = 3000
  us = jnp.asarray(np.stack([pair_2d(r, c)[0] for r, c in cells]))
  for d in (8, 32):
    cos = np.asarray(t1.draw_cosines(jax.random.fold_in(jax.random.key(5), d), us,
                                     jnp.asarray([1.0, 0.0]), d, width=32, draws=n,
                                     batch=n))
    p_jax = np.mean(~(cos > np.array([c for _, c in cells])), 0)
    for (r, c), pj in zip(cells, p_jax):
      q = rotation(rng, D_IN)
      u2, v2 = pair_2d(r, c)
      u, v = q[:, :2] @ u2, q[:, :2] @ v2
      assert abs(np.linalg.norm(u) - r) < 1e-12 and abs(u @ v / r - c) < 1e-12
      w = rng.standard_normal((n, d, D_IN)) / math.sqrt(d)
      b = rng.standard_normal((n, d)) / math.sqrt(d)
      p_np = np.mean(~(np_cosine(w, b, u, v) > c))
      pool = (pj + p_np) / 2
      se = math.sqrt(pool * (1 - pool) * 2 / n)
      assert abs(pj - p_np) <= 4 * se + 1e-12, (d, r, c, pj, p_np, se)


def test_infinite_width_limit():
  """The arc-cosine limit: the threshold solves limit_cos = c, lies above the
  bound, and the mean cosine at d_out = 2048 is close to the limit."""
  assert t1.bound(1.0) == 1.0 and abs(t1.bound(2.0) - 0.8) < 1e-15
  t = t1.limit_threshold(2.0, 1.0)
  assert abs(t1.limit_cos(2.0, t, 1.0) - t) < 1e-9 and 0.8 < t < 0.9
  assert t1.limit_threshold(1.0, 1.0) == 1.0
  cells = [(1.0, 0.5), (2.0, 0.9), (5.0, 0.0)]
  us = jnp.asarray(np.stack([pair_2d(r, c)[0] for r, c in cells]))
  cos = np.asarray(t1.draw_cosines(jax.random.key(2), us, jnp.asarray([1.0, 0.0]),
                                   2048, width=2048, draws=200, batch=200))
  want = [t1.limit_cos(r, c, 1.0) for r, c in cells]
  se = cos.std(0) / math.sqrt(len(cos))
  # ratio-estimator bias is O(1/d_out); 5 se covers the sampling error
  np.testing.assert_array_less(np.abs(cos.mean(0) - want), 5 * se + 2 / 2048)
