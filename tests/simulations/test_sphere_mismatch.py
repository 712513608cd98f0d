"""Mismatched pairs on a sphere: the paper's Fig 3e-g toy, its generalisation and
the second (mirror) toy."""
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gaplab.contrastive import losses
from gaplab.contrastive import mirror_toy
from gaplab.io import results
from gaplab.contrastive import sphere
from gaplab._errors import ConfigError
from gaplab.simulations import sphere_mismatch

DELTAS = np.arange(-90.0, 91.0)  # the full preset's grid, 1 degree
SCALES = np.asarray(sphere.PAPER_LOGIT_SCALES)


def _ref_loss(x, y, scale):
  """Symmetric InfoNCE in float64 NumPy, log-sum-exp written out."""
  logits = scale * (np.asarray(x, np.float64) @ np.asarray(y, np.float64).T)

  def lse(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)

  d = np.diag(logits)
  return 0.5 * (np.mean(lse(logits, 1) - d) + np.mean(lse(logits, 0) - d))


def _curves(swap):
  loss, gap, t = sphere.toy_curves(jnp.asarray(DELTAS), jnp.asarray(SCALES), swap)
  return np.asarray(loss), np.asarray(gap), float(t)


@pytest.mark.parametrize("swap", [False, True])
def test_toy_points_are_unit_at_the_stated_longitudes_and_latitude(swap):
  deltas = np.array([-90.0, -35.0, 0.0, 12.5, 90.0])
  xs, ys = jax.vmap(lambda d: sphere.paper_toy(d, swap))(jnp.asarray(deltas))
  text_lon = np.array([0, -20, 20, 40, 60, 80] if swap else [-20, 0, 20, 40, 60, 80], float)
  for x, y, d in zip(np.asarray(xs), np.asarray(ys), deltas):
    # float64 trigonometry: 1e-12 degrees is ~1e4 ulps of slack
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1, atol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1, atol=1e-15)
    np.testing.assert_allclose(np.rad2deg(np.arctan2(x[:, 1], x[:, 0])),
                               sphere.PAPER_LONGITUDES, atol=1e-12)
    np.testing.assert_array_equal(x[:, 2], 0.0)
    np.testing.assert_allclose(np.rad2deg(np.arcsin(y[:, 2])), d, atol=1e-6)  # arcsin at +-1
    if abs(d) < 90:  # longitude undefined at the poles
      np.testing.assert_allclose(np.rad2deg(np.arctan2(y[:, 1], y[:, 0])), text_lon, atol=1e-12)
    one_x, one_y = sphere.paper_toy(float(d), swap)  # vmapped == one call
    np.testing.assert_allclose(one_y, y, atol=1e-15)


def test_without_the_swap_the_minimum_is_at_zero_for_every_scale():
  loss, _, t_star = _curves(False)
  zero = int(np.flatnonzero(DELTAS == 0)[0])
  assert np.all(np.argmin(loss, axis=0) == zero)
  # strictly: 1 degree away is already worse at every scale
  assert np.all(loss[zero] < loss[zero - 1]) and np.all(loss[zero] < loss[zero + 1])
  assert t_star == np.inf  # the loss falls with the effective scale for ever


def test_swap_repels_only_at_low_temperature():
  loss, gap, t_star = _curves(True)
  zero = int(np.flatnonzero(DELTAS == 0)[0])
  # the loss is even in delta: cos is even and x . e_3 = 0
  np.testing.assert_array_equal(loss, loss[::-1])
  # t* against a brute-force float64 minimisation over t (step 0.01)
  ts = np.arange(15.0, 30.0, 0.01)
  x, y0 = sphere.paper_toy(0.0, True)
  ref = ts[np.argmin([_ref_loss(x, y0, t) for t in ts])]
  assert abs(t_star - ref) < 0.01
  for j, s in enumerate(SCALES):
    best = abs(DELTAS[np.argmin(loss[:, j])])
    if s < t_star:  # scales 1 and 5: closing the gap is best
      assert best == 0
      assert loss[zero, j] < min(loss[zero - 1, j], loss[zero + 1, j])
    else:  # 35, 50, 100: delta = 0 is a local maximum; minimum at arccos(t*/s)
      assert loss[zero, j] > max(loss[zero - 1, j], loss[zero + 1, j])
      assert abs(best - np.rad2deg(np.arccos(t_star / s))) <= 0.5  # grid step 1 degree
  xbar = np.linalg.norm(np.asarray(sphere.paper_images()).mean(0))
  th = np.deg2rad(DELTAS)
  np.testing.assert_allclose(gap, np.sqrt(np.sin(th) ** 2 + (1 - np.cos(th)) ** 2 * xbar ** 2),
                             atol=1e-14)


@pytest.mark.parametrize("swap", [False, True])
def test_toy_loss_matches_numpy_reference(swap):
  loss, _, _ = _curves(swap)
  for d in (-73.0, -10.0, 0.0, 25.0, 90.0):
    x, y = sphere.paper_toy(d, swap)
    i = int(np.flatnonzero(DELTAS == d)[0])
    want = [_ref_loss(x, y, s) for s in SCALES]
    # float64, O(1) losses summed in a different order: 1e-12 relative
    np.testing.assert_allclose(loss[i], want, rtol=1e-12)


def test_matrix_loss_averages_both_directions():
  # the toys cannot tell the directions apart (C = x x^T P: i2t == t2i exactly),
  # so check the loss on a generic logit matrix, where they differ
  logits = np.random.default_rng(0).normal(size=(5, 5)) * 3
  want = _ref_loss(np.eye(5), logits.T, 1.0)  # eye @ logits = the logits
  np.testing.assert_allclose(sphere.matrix_loss(jnp.asarray(logits)), want, rtol=1e-13)
  x, y = sphere.paper_toy(40.0, True)
  i2t, t2i = losses.clip_directions_from_logits(50.0 * x @ y.T)
  np.testing.assert_allclose(i2t, t2i, rtol=1e-13)


def test_slope_is_the_derivative_of_the_loss():
  x, y0 = sphere.paper_toy(0.0, True)
  cmat = x @ y0.T
  auto = jax.jit(jax.vmap(jax.grad(lambda t: sphere.matrix_loss(t * cmat))))
  ts = jnp.array([0.5, 21.0, 80.0])
  np.testing.assert_allclose(jax.jit(jax.vmap(sphere.loss_slope, in_axes=(None, 0)))(cmat, ts),
                             auto(ts), rtol=1e-10, atol=1e-14)  # two float64 routes


_DERANGE = jax.jit(jax.vmap(sphere.derangement, in_axes=(0, None, None)), static_argnums=1)


@pytest.mark.parametrize("n,m", [(6, 2), (10, 0), (10, 3), (10, 10), (64, 19)])
def test_derangement_moves_exactly_m_pairs(n, m):
  keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(7), i))(jnp.arange(20))
  sig = np.asarray(_DERANGE(keys, n, m))  # m traced: one compile per n
  for s in sig:
    assert sorted(s) == list(range(n))  # a permutation
    moved = s != np.arange(n)
    assert moved.sum() == m  # every chosen pair really mismatched: none fixed
    if m:  # one cycle through the moved set
      i, seen = int(np.flatnonzero(moved)[0]), 1
      j = s[i]
      while j != i:
        j, seen = s[j], seen + 1
      assert seen == m
  if m:  # the key picks the subset and the cycle order
    assert len({tuple(s) for s in sig}) > 1


@pytest.fixture(scope="module")
def general():
  return sphere.generalised(3, n=12, d=5, ps=[0.0, 0.25, 0.5, 1.0],
                            logit_scales=[1.0, 4.0, 30.0, 200.0],
                            thetas_deg=np.arange(0.0, 90.5, 0.5), seeds=3)


def test_generalised_gap_formula_and_counts(general):
  g = general
  np.testing.assert_array_equal(g.counts, [0, 3, 6, 12])
  np.testing.assert_array_equal(g.n_moved, np.broadcast_to(g.counts, (3, 4)))
  # measured centroid distance vs sqrt(sin^2 + (1 - cos)^2 |xbar|^2), float64
  np.testing.assert_allclose(g.gap, np.broadcast_to(g.gap_formula[:, None], g.gap.shape),
                             atol=1e-14)
  # same loss, compiled vmapped vs not: lse - diagonal cancels, so the error is
  # absolute, a few ulps of the largest logit (200 * 2e-16 = 4e-14)
  np.testing.assert_allclose(g.loss[..., 0], g.loss_at_zero, rtol=1e-12, atol=1e-12)
  assert np.all((g.xbar_norm > 0) & (g.xbar_norm < 1))


def test_generalised_loss_matches_numpy_for_one_cell(general):
  key = jax.random.fold_in(jax.random.key(3), 1)  # seed index 1
  x = np.asarray(sphere.equator_points(jax.random.fold_in(key, 0), 12, 5))
  sig = np.asarray(sphere.derangement(jax.random.fold_in(key, 1), 12, 6))  # p = 0.5
  th = np.deg2rad(37.5)
  y = np.cos(th) * x[sig] + np.sin(th) * np.eye(5)[4]
  i = int(np.flatnonzero(general.thetas_deg == 37.5)[0])
  want = [_ref_loss(x, y, s) for s in general.logit_scales]
  np.testing.assert_allclose(general.loss[1, 2, :, i], want, rtol=1e-12)


def test_generalised_optimum(general):
  g = general
  best = g.thetas_deg[np.argmin(g.loss, axis=-1)]  # (seed, p, scale)
  assert np.all(best[:, 0] == 0) and np.all(g.t_star[:, 0] == np.inf)  # p = 0: gap closed
  assert np.all(np.isfinite(g.t_star[:, 1:]))
  exact = np.rad2deg(np.arccos(np.minimum(1, g.t_star[..., None] / g.logit_scales)))
  assert np.all(np.abs(best - exact) <= 0.25 + 1e-9)  # within half a 0.5-degree step
  assert np.all(best[:, 1:, -1] > 0)  # scale 200 beats every finite t* here


@pytest.mark.parametrize("call,field", [
    (lambda: sphere.paper_toy(95.0, False), "delta_theta_deg"),
    (lambda: sphere.paper_toy(10.0, 1), "swap"),
    (lambda: sphere.generalised(0, n=10, d=4, ps=[1.5], logit_scales=[1.0],
                                thetas_deg=[0.0], seeds=1), "p"),
    (lambda: sphere.generalised(0, n=10, d=4, ps=[0.1], logit_scales=[1.0],
                                thetas_deg=[0.0], seeds=1), "p"),  # round(p n) = 1
    (lambda: sphere.generalised(0, n=1, d=4, ps=[0.0], logit_scales=[1.0],
                                thetas_deg=[0.0], seeds=1), "n"),
    (lambda: sphere.generalised(0, n=10, d=1, ps=[0.0], logit_scales=[1.0],
                                thetas_deg=[0.0], seeds=1), "d"),
    (lambda: sphere.generalised(0, n=10, d=4, ps=[0.0], logit_scales=[0.0],
                                thetas_deg=[0.0], seeds=1), "logit_scales"),
    (lambda: sphere.generalised(0, n=10, d=4, ps=[0.0], logit_scales=[1.0],
                                thetas_deg=[91.0], seeds=1), "thetas_deg"),
    (lambda: sphere.generalised(0, n=10, d=4, ps=[0.0], logit_scales=[1.0],
                                thetas_deg=[0.0], seeds=0), "seeds"),
    (lambda: sphere_mismatch.config("tiny", delta_step=7), "delta_step"),
    (lambda: sphere_mismatch.config("tiny", toy_logit_scales=[-1.0]), "toy_logit_scales"),
    (lambda: sphere_mismatch.config("tiny", scale_min=0.0), "scale_min"),
    (lambda: sphere_mismatch.config("tiny", mirror_z_step=0.3), "mirror_z_step"),
    (lambda: sphere_mismatch.config("tiny", mirror_z_step="0.1"), "mirror_z_step"),
    (lambda: sphere_mismatch.config("tiny", mirror_logit_scales=[0.0]), "mirror_logit_scales"),
    (lambda: mirror_toy.points(1.5), "z"),
    (lambda: mirror_toy.label_vector("swapped"), "labels"),
    (lambda: mirror_toy.mirror_curves([0.0, -1.1], [1.0]), "zs"),
])
def test_bad_inputs_name_the_field(call, field):
  with pytest.raises(ConfigError) as e:
    call()
  assert e.value.field == field


@pytest.mark.slow
def test_tiny_run_saves_draws_and_reports(tmp_path, capsys):
  out = str(tmp_path / "s")
  assert sphere_mismatch.main(["--tiny", "--out", out]) == 0
  assert "| swapped (t* = 21.22) | 100 | 80° |" in capsys.readouterr().out  # 5-degree grid
  for f in (results.CONFIG, results.ARRAYS, results.TABLE):
    assert os.path.isfile(os.path.join(out, f))
  run = results.load_run(out)
  assert run.axes("gen_loss") == ["seed", "p", "scale", "theta"]
  assert run.arrays["gen_loss"].shape == (2, 3, 4, 46)
  assert run.meta["provenance"]["dtype"] == "float64"
  # figures come from the saved files alone: draw them from a copy of the run
  copy = str(tmp_path / "copy")
  shutil.copytree(out, copy, ignore=shutil.ignore_patterns("figures"))
  assert run.axes("mirror_loss") == ["labels", "z", "mirror_scale"]
  assert run.arrays["mirror_loss"].shape == (3, 41, 7)  # z step 0.05
  assert run.axes("mirror_z_star") == ["labels", "mirror_scale"]
  assert run.meta["coords"]["labels"] == list(mirror_toy.SETTINGS)
  np.testing.assert_array_equal(run.arrays["mirror_labels"][2], [0, 1, 2, 8, 4, 5, 6, 7, 8])
  paths = sphere_mismatch.figures(copy, str(tmp_path / "figs"))
  assert sorted(os.path.basename(p) for p in paths) == [
      "sphere_mismatch.pdf", "sphere_mismatch.png", "sphere_mismatch_map.pdf",
      "sphere_mismatch_map.png", "sphere_mismatch_mirror.pdf", "sphere_mismatch_mirror.png"]
  assert all(os.path.getsize(p) > 1000 for p in paths)
  text = sphere_mismatch.report(copy)
  assert isinstance(text, str) and "| 0 (0) | ∞" in text
  assert "Mirror toy" in text and "| true swap 3↔8 (t* = 24.51) | 50 | 0.7 |" in text
  assert "21/21 (labels, scale) cells of the mirror toy" in text
  with open(os.path.join(out, results.TABLE)) as f:
    assert len(f.readlines()) == 1 + 2 * 5 + 2 * 3 * 4 + 3 * 7  # header, toy, general, mirror

  before = open(os.path.join(out, results.CONFIG)).read()
  assert sphere_mismatch.main(["--tiny", "--out", out]) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "--out" in err and "--overwrite" in err
  assert open(os.path.join(out, results.CONFIG)).read() == before


def test_unknown_key_is_rejected(tmp_path, capsys):
  out = str(tmp_path / "s")
  assert sphere_mismatch.main(["--tiny", "--out", out, "--set", "n_pairs=3"]) == 2
  assert "argument --set n_pairs: unknown key" in capsys.readouterr().err
  assert not os.path.exists(out)


# --- the mirror toy (mismatched_simulation.ipynb) ----------------------------

MIRROR_Z = np.arange(-100, 101) / 100  # step 0.01, z = 0 and +-1 exactly
MIRROR_SCALES = np.asarray(mirror_toy.MIRROR_LOGIT_SCALES)
NOTEBOOK_LABELS = {"matched": np.arange(9), "swap": np.array([0, 1, 2, 8, 4, 5, 6, 7, 3]),
                   "as_executed": np.array([0, 1, 2, 8, 4, 5, 6, 7, 8])}


def _notebook_points(z):
  """``init_points`` of the notebook, transcribed in float64 NumPy."""
  a, b = (1 - z * z) ** 0.5, ((1 - z * z) / 2) ** 0.5
  th = 0.03 * np.pi + 1.5 * np.pi
  xy = [(a, 0), (-a, 0), (0, a), (0, -a), (b, b), (-b, b), (b, -b), (-b, -b),
        (np.cos(th) * a, np.sin(th) * a)]
  return np.array([(u, v, z) for u, v in xy]), np.array([(u, v, -z) for u, v in xy])


def _ref_ce(logits, labels):
  """torch's CrossEntropyLoss (mean) of the rows of (..., n, n) logits."""
  m = logits.max(axis=-1, keepdims=True)
  lse = m[..., 0] + np.log(np.exp(logits - m).sum(axis=-1))
  return np.mean(lse - logits[..., np.arange(len(labels)), labels], axis=-1)


def _ref_mirror_loss(logits, labels):
  """(CE(S, l) + CE(S^T, l)) / 2, the same labels both ways, as calc_loss."""
  return 0.5 * (_ref_ce(logits, labels) + _ref_ce(np.swapaxes(logits, -1, -2), labels))


def _ref_cmat():
  x, y = _notebook_points(0.0)
  return x @ y.T  # u_i . u_j at z = 0


@pytest.fixture(scope="module")
def mirror():
  return tuple(np.asarray(v) for v in mirror_toy.mirror_curves(MIRROR_Z, MIRROR_SCALES))


def test_mirror_points_are_unit_mirrored_and_the_notebooks():
  zs = np.array([-1.0, -0.6, 0.0, 0.3, 0.98, 1.0])
  xs, ys = jax.vmap(mirror_toy.points)(jnp.asarray(zs))
  lon = [0, 180, 90, 270, 45, 135, 315, 225, 275.4]
  for x, y, z in zip(np.asarray(xs), np.asarray(ys), zs):
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1, atol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1, atol=1e-15)
    np.testing.assert_array_equal(x[:, :2], y[:, :2])  # mirrored in the xy plane
    np.testing.assert_array_equal(x[:, 2], z)
    np.testing.assert_array_equal(y[:, 2], -z)
    want_x, want_y = _notebook_points(z)  # b = sqrt((1 - z^2)/2) vs a/sqrt(2): an ulp
    np.testing.assert_allclose(x, want_x, atol=1e-15)
    np.testing.assert_allclose(y, want_y, atol=1e-15)
    if abs(z) < 1:
      np.testing.assert_allclose(np.rad2deg(np.arctan2(x[:, 1], x[:, 0])) % 360, lon,
                                 atol=1e-12)


@pytest.mark.parametrize("setting", mirror_toy.SETTINGS)
def test_mirror_loss_matches_numpy_reference(mirror, setting):
  loss = mirror[0][mirror_toy.SETTINGS.index(setting)]
  for z in (-0.9, -0.3, 0.0, 0.55, 0.99, 1.0):
    i = int(np.flatnonzero(MIRROR_Z == z)[0])
    x, y = _notebook_points(z)
    want = _ref_mirror_loss(MIRROR_SCALES[:, None, None] * (x @ y.T), NOTEBOOK_LABELS[setting])
    # float64; lse - target cancels, so a few ulps of the largest logit (1000)
    np.testing.assert_allclose(loss[i], want, rtol=1e-12, atol=1e-12)
  np.testing.assert_allclose(loss[MIRROR_Z == 1.0], np.log(9), rtol=1e-14)  # both at poles


def test_mirror_loss_is_a_function_of_the_effective_scale(mirror):
  loss, gap = mirror[:2]
  t = MIRROR_SCALES[None, :] * (1 - MIRROR_Z[:, None] ** 2)  # (z, scale)
  cmat = _ref_cmat()
  for k, setting in enumerate(mirror_toy.SETTINGS):
    want = _ref_mirror_loss(t[..., None, None] * cmat, NOTEBOOK_LABELS[setting])
    np.testing.assert_allclose(loss[k], want, rtol=1e-12, atol=1e-12)  # -z^2 cancels
  np.testing.assert_allclose(loss, loss[:, ::-1], rtol=1e-13, atol=1e-13)  # even in z
  np.testing.assert_allclose(gap, 2 * np.abs(MIRROR_Z), atol=1e-15)


def test_mirror_t_star(mirror):
  t = dict(zip(mirror_toy.SETTINGS, mirror[2]))
  assert t["matched"] == np.inf
  assert abs(t["swap"] - 24.52) < 0.01 and abs(t["as_executed"] - 34.20) < 0.01
  ts = np.arange(20.0, 40.0, 0.001)  # brute force over the effective scale
  cmat = _ref_cmat()
  for setting in ("swap", "as_executed"):
    ref = ts[np.argmin(_ref_mirror_loss(ts[:, None, None] * cmat, NOTEBOOK_LABELS[setting]))]
    assert abs(t[setting] - ref) <= 0.001
  matched = _ref_mirror_loss(np.geomspace(1, 1e3, 200)[:, None, None] * cmat, np.arange(9))
  assert np.all(np.diff(matched) < 0)  # falls for ever (until exp underflows): no t*


def test_mirror_exact_optimum_agrees_with_the_grid(mirror):
  loss, _, t, best_loss = mirror
  z_star = np.asarray(mirror_toy.optimal_shift(t[:, None], MIRROR_SCALES))
  # the exact minimum L(min(t*, s)) is below the grid minimum, by little on a 0.01 grid
  # (most at s = 1000, where the minimum is a steep dip next to the pole)
  assert np.all(best_loss <= loss.min(axis=1) + 1e-12)
  assert np.all(loss.min(axis=1) - best_loss < 5e-3)
  np.testing.assert_allclose(z_star[1:, 3:], [[0.714, 0.869, 0.975, 0.988],
                                             [0.562, 0.811, 0.965, 0.983]], atol=5e-4)
  up = MIRROR_Z >= 0
  best = MIRROR_Z[up][np.argmin(loss[:, up], axis=1)]  # (setting, scale)
  assert np.all(np.abs(best - z_star) <= 0.01)  # the grid step
  zero = int(np.flatnonzero(MIRROR_Z == 0)[0])
  for k in range(3):
    for j, s in enumerate(MIRROR_SCALES):
      here, side = loss[k, zero, j], loss[k, zero + 1, j]
      assert (here > side) if s > t[k] else (here < side and best[k, j] == 0)


_LABEL_SLOPE = jax.jit(jax.vmap(lambda c, l, t: sphere.loss_slope(c, t, l),
                                in_axes=(None, None, 0)))


def test_mirror_slope_is_the_derivative_of_the_loss():
  cmat = _ref_cmat()
  ts = np.array([0.5, 24.0, 80.0, 700.0])
  h = 1e-4 * ts[:, None, None]  # central difference: O(h^2) + O(eps / h)
  for labels in NOTEBOOK_LABELS.values():
    fd = (_ref_mirror_loss((ts[:, None, None] + h) * cmat, labels)
          - _ref_mirror_loss((ts[:, None, None] - h) * cmat, labels)) / (2 * h[:, 0, 0])
    got = _LABEL_SLOPE(jnp.asarray(cmat), jnp.asarray(labels), jnp.asarray(ts))
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-10)
  # with the labels on the diagonal it is the first toy's slope
  diag = jax.jit(jax.vmap(sphere.loss_slope, in_axes=(None, 0)))(jnp.asarray(cmat), ts)
  np.testing.assert_allclose(_LABEL_SLOPE(jnp.asarray(cmat), jnp.arange(9), jnp.asarray(ts)),
                             diag, rtol=1e-13, atol=1e-16)
