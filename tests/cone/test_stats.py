"""Cone statistics vs brute force over the full N x N cosine matrix."""
import functools
import math

import hypothesis
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gaplab.cone import stats

import reference as ref

SCALAR_KEYS = tuple(stats.SCALARS)
# float64: every statistic is an O(N d) sum of O(1) terms, good to ~1e-15;
# 1e-10 leaves a 1e5 margin and still catches any wrong formula (>= 1e-3).
F64_TOL = dict(rtol=1e-10, atol=1e-12)
# A cosine within this distance of a bin edge may fall on either side of it
# depending on rounding (the library bins 1 - D with D from a centred Gram,
# the reference bins u_i . u_j): such a pair may move one count between two
# neighbouring bins. 1e-9 is >> the 1e-15 rounding of either side.
EDGE_WINDOW = 1e-9


@functools.partial(jax.jit, static_argnames=("n_bins", "block", "pairwise"))
def _cone_stats_batch(xs, n_bins, block, pairwise=True):
  f = functools.partial(stats.cone_stats, n_bins=n_bins, block=block,
                        pairwise=pairwise)
  return jax.vmap(f)(xs)


def lib_stats(xs, n_bins=50, block=256, pairwise=True):
  """Library statistics of a batch of sets (B, N, d), as NumPy dicts."""
  out = _cone_stats_batch(jnp.asarray(xs), n_bins, block, pairwise)
  return [{k: np.asarray(v[i]) for k, v in out.items()} for i in range(len(xs))]


def assert_hist_close(got, x, n_bins):
  """got equals np.histogram of the pair cosines, up to near-edge pairs."""
  pairs = ref.distinct_pairs(ref.cosine_matrix(x))
  want = ref.pair_histogram(pairs, n_bins)
  assert got.shape == (n_bins,)
  assert got.sum() == len(pairs) == x.shape[0] * (x.shape[0] - 1) // 2
  # each near-edge pair may move one count from one bin to its neighbour
  slack = ref.near_edge_count(pairs, n_bins, EDGE_WINDOW)
  assert np.abs(got - want).sum() <= 2 * slack, (got, want, slack)


def assert_stats_close(got, x, n_bins, keys=SCALAR_KEYS, tol=F64_TOL,
                       hist=True):
  want = ref.cone_stats(x, n_bins)
  for k in keys:
    np.testing.assert_allclose(got[k], want[k], err_msg=k, **tol)
  if not hist:
    return
  if np.all(want["hist"] >= 0):
    assert_hist_close(got["hist"], x, n_bins)
  else:
    np.testing.assert_array_equal(got["hist"], want["hist"])


def _sets(n, d, seed):
  """Two sets: centred Gaussian rows (mean cosine ~ 0, |m|^2 < 1/2) and a
  narrow cone (rows 3 + N(0, 1), |m|^2 > 1/2): both branches of mean_cos."""
  rng = np.random.default_rng(seed)
  return np.stack([rng.normal(size=(n, d)), 3.0 + rng.normal(size=(n, d))])


# (N, d, block): the pairwise pass splits N rows into nb blocks of b rows,
# b = a divisor of N in (block/2, block] if one exists (no padding), else block
# (the last block padded). Odd and even nb take different block-pair paths.
LAYOUTS = {
    "n2": (2, 3, 256),  # N = 2: one pair, one block
    "n_lt_block": (7, 4, 16),  # N < block: one block
    "odd_nb": (12, 5, 4),  # b = 4, nb = 3
    "even_nb": (16, 3, 4),  # b = 4, nb = 4
    "pad_odd_nb": (10, 3, 4),  # no divisor in (2, 4]: b = 4, pad 2, nb = 3
    "pad_even_nb": (13, 5, 4),  # b = 4, pad 3, nb = 4
    "pad_b3": (11, 6, 3),  # b = 3, pad 1, nb = 4
    "pad_b2": (9, 4, 2),  # b = 2, pad 1, nb = 5
    "b1": (5, 3, 1),  # b = 1: diagonal blocks hold no pair at all
    "many_blocks": (20, 4, 3),  # b = 2, nb = 10
}


def test_layouts_exercise_padding_and_block_parity():
  """Guards the intent of LAYOUTS against changes of the block-size rule."""
  for name, (n, _, block) in LAYOUTS.items():
    b = stats.block_size(n, block)
    nb = -(-n // b)
    assert ("pad" in name) == (n % b != 0), name
    if "odd_nb" in name:
      assert nb % 2 == 1 and nb > 1, name
    if "even_nb" in name:
      assert nb % 2 == 0, name


@pytest.mark.parametrize("layout", LAYOUTS)
def test_matches_brute_force(layout):
  n, d, block = LAYOUTS[layout]
  n_bins = 7
  xs = _sets(n, d, seed=n * 100 + d)
  for x, got in zip(xs, lib_stats(xs, n_bins, block)):
    assert_stats_close(got, x, n_bins)


def test_hist_edges():
  # n_bins equal bins on [-1, 1]
  np.testing.assert_array_equal(stats.hist_edges(4), [-1, -0.5, 0, 0.5, 1])
  np.testing.assert_allclose(np.diff(stats.hist_edges(50)), 2 / 50, rtol=1e-12)


def test_orthonormal_rows_exact_values():
  """Rows e_1..e_N: every pairwise cosine is 0, |centroid| = 1/sqrt(N), and the
  angle to the centroid is arccos(1/sqrt(N)) for every row."""
  n = 6
  x = 2.5 * np.eye(n)[None]
  (got,) = lib_stats(x, n_bins=5, block=4)
  # rounding of O(1) sums only
  tol = dict(rtol=0, atol=1e-14)
  np.testing.assert_allclose(got["mean_cos"], 0.0, **tol)
  np.testing.assert_allclose(got["mean_cos_diag"], 1 / n, **tol)
  np.testing.assert_allclose(got["centroid_norm"], 1 / math.sqrt(n), **tol)
  np.testing.assert_allclose(got["cone_radius"], math.acos(1 / math.sqrt(n)), **tol)
  np.testing.assert_allclose([got["min_cos"], got["max_cos"]], 0.0, **tol)
  np.testing.assert_allclose(got["q"], 2.5**2 / n, **tol)
  # 5 bins: cosine 0 is mid-bin [-0.2, 0.2), far from any edge
  np.testing.assert_array_equal(got["hist"], [0, 0, n * (n - 1) // 2, 0, 0])


def test_identical_rows_form_a_closed_cone():
  # one direction at five lengths
  x = (np.arange(1.0, 6.0)[:, None] * np.array([1.0, -2.0, 0.5])[None])[None]
  (got,) = lib_stats(x, n_bins=4, block=2)
  for k in ("mean_cos", "mean_cos_diag", "centroid_norm", "max_cos", "min_cos"):
    np.testing.assert_allclose(got[k], 1.0, rtol=0, atol=1e-15, err_msg=k)
  for k in ("one_minus_mean_cos", "one_minus_max_cos", "cone_radius"):
    np.testing.assert_allclose(got[k], 0.0, rtol=0, atol=1e-15, err_msg=k)
  # cosine 1 belongs to the last, closed bin (np.histogram's convention)
  np.testing.assert_array_equal(got["hist"], [0, 0, 0, 10])


# -- near-cone stability ---------------------------------------------------------


def _near_cone(t, dtype, rotate=False):
  """Rows x_i = e_0 + t_i e_i (i = 1..N), exactly representable.

  For i != j, cos_ij = 1 / sqrt(P), P = (1 + t_i^2)(1 + t_j^2), so
  1 - cos_ij = (P - 1) / (sqrt(P) (sqrt(P) + 1)) with P - 1 = t_i^2 + t_j^2 +
  t_i^2 t_j^2: no cancellation, exact to ~1e-16 relative in float64.
  """
  n = len(t)
  x = np.zeros((n, n + 1))
  x[:, 0] = 1.0
  x[np.arange(n), np.arange(1, n + 1)] = t
  if rotate:  # a random rotation moves coordinates by ~1e-16, D by ~1e-20
    q, _ = np.linalg.qr(np.random.default_rng(7).normal(size=(n + 1, n + 1)))
    x = x @ q
  ti, tj = np.meshgrid(t, t, indexing="ij")
  p = (1 + ti**2) * (1 + tj**2)
  one_minus_cos = (ti**2 + tj**2 + ti**2 * tj**2) / (np.sqrt(p) * (np.sqrt(p) + 1))
  d = ref.distinct_pairs(one_minus_cos)
  return x.astype(dtype), d


@pytest.mark.parametrize("rotate", [False, True])
def test_near_cone_float64(rotate):
  n = 24
  t = 3e-5 * (1 + np.arange(n) / n)  # 1 - cos ~ 1e-9
  x, d = _near_cone(t, np.float64, rotate)
  (got,) = lib_stats(x[None], n_bins=10, block=5)
  # the stable forms lose no digits to 1 - (1 - 1e-9); 1e-5 relative is the
  # bound asked of them (they reach ~1e-12), naive 1 - cos gets ~1e-7
  np.testing.assert_allclose(got["one_minus_mean_cos"], d.mean(), rtol=1e-5)
  np.testing.assert_allclose(got["one_minus_max_cos"], d.min(), rtol=1e-5)
  # 1 - cos_min is ~1e-9 too: min_cos = 1 - max D to float64 rounding of 1
  np.testing.assert_allclose(got["min_cos"], 1 - d.max(), rtol=0, atol=1e-15)
  # tiny angles via arctan2 in the reference are accurate to ~1e-11 relative
  np.testing.assert_allclose(got["cone_radius"], ref.cone_radius(ref.unit_rows(x)[0]),
                             rtol=1e-6)
  assert got["hist"][-1] == n * (n - 1) // 2


def test_near_cone_float32_stable_where_naive_fails():
  n = 24
  t = (3e-4 * (1 + np.arange(n) / n)).astype(np.float32).astype(np.float64)
  x, d = _near_cone(t, np.float32)  # 1 - cos ~ 1e-7, i.e. ~2 float32 ulps of 1
  (got,) = lib_stats(x[None], n_bins=10, block=5)
  assert got["one_minus_mean_cos"].dtype == np.float32
  # stable: errors ~ eps32 relative to the small quantity itself (~3e-7 seen)
  np.testing.assert_allclose(got["one_minus_mean_cos"], d.mean(), rtol=1e-4)
  np.testing.assert_allclose(got["one_minus_max_cos"], d.min(), rtol=1e-4)
  # naive, in float32: 1 - mean of the cosine matrix loses nearly every digit
  u = x / np.linalg.norm(x, axis=1, keepdims=True)
  naive = 1 - np.mean(ref.distinct_pairs(u @ u.T))
  assert u.dtype == np.float32
  assert abs(naive / d.mean() - 1) > 1e-2


# -- degenerate rows -----------------------------------------------------------


@pytest.mark.parametrize("bad", ["zero", "inf", "nan"])
def test_degenerate_row(bad):
  n, d = 9, 4
  x = np.random.default_rng(3).normal(size=(n, d))
  x[4] = {"zero": 0.0, "inf": np.inf, "nan": np.nan}[bad]
  if bad == "inf":
    x[4, 1] = 1.0  # a row with an inf among finite entries
  (got,) = lib_stats(x[None], n_bins=6, block=4)
  for k in stats.PAIRWISE + ("mean_cos", "one_minus_mean_cos", "mean_cos_diag"):
    assert np.isnan(got[k]), k
  np.testing.assert_array_equal(got["hist"], np.full(6, -1))
  # a count over N: the library averages the boolean mask in float32 even for
  # float64 input (~1e-8 relative), plenty to identify k / N
  assert got["frac_degenerate"] == pytest.approx(1 / n, rel=1e-6)


@pytest.mark.parametrize("scale", [1e20, 1e-25])
def test_finite_nonzero_rows_are_not_degenerate_float32(scale):
  """A row of 1e20s (or 1e-25s) in float32 is finite and nonzero, so its
  cosines are defined and the library computes them; but |x|^2 overflows
  (underflows) float32 and frac_degenerate, computed from |x|^2, counts it."""
  rng = np.random.default_rng(4)
  x = rng.normal(size=(6, 5)).astype(np.float32)
  x[2] *= np.float32(scale)
  (got,) = lib_stats(x[None], n_bins=6, block=4)
  want = ref.cone_stats(x.astype(np.float64), 6)
  # the cosines are fine (float32 rounding, 1e-5)
  for k in ("mean_cos", "min_cos", "max_cos", "cone_radius"):
    np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-5, err_msg=k)
  assert got["frac_degenerate"] == 0.0


def test_pairwise_off():
  x = _sets(10, 3, seed=5)
  for xi, got in zip(x, lib_stats(x, n_bins=8, block=4, pairwise=False)):
    for k in stats.PAIRWISE:
      assert np.isnan(got[k]), k
    np.testing.assert_array_equal(got["hist"], np.full(8, -1))
    assert_stats_close(got, xi, 8, hist=False,
                       keys=set(SCALAR_KEYS) - set(stats.PAIRWISE))


# -- property test: chunked pairwise pass == full matrix -------------------------


@st.composite
def _point_sets(draw):
  n = draw(st.integers(2, 9))
  d = draw(st.integers(1, 4))
  ints = draw(hnp.arrays(np.int8, (n, d), elements=st.integers(-2, 2)))
  seed = draw(st.integers(0, 2**16))
  block = draw(st.integers(1, 4))
  # three sets of one shape (one compiled program): the small integers alone
  # (exact ties, cosines of exactly 0 / +-1 / on bin edges, zero rows), and
  # with Gaussian jitter of 1e-3 (near-ties) and 1 (generic positions)
  g = np.random.default_rng(seed).normal(size=(n, d))
  return np.stack([ints + 0.0, ints + 1e-3 * g, ints + g]), block


@hypothesis.settings(max_examples=8, deadline=None)
@hypothesis.given(_point_sets())
def test_chunked_pairwise_equals_full_matrix(case):
  xs, block = case
  n_bins = 6
  for x, got in zip(xs, lib_stats(xs, n_bins, block)):
    want = ref.cone_stats(x, n_bins)
    if np.any(want["hist"] < 0):  # a zero row: undefined cosines, all NaN
      for k in stats.PAIRWISE:
        assert np.isnan(got[k]), k
      np.testing.assert_array_equal(got["hist"], want["hist"])
      continue
    for k in stats.PAIRWISE:
      # float64 rounding of O(1) numbers
      np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-12, err_msg=k)
    assert_hist_close(got["hist"], x, n_bins)


# -- the histogram: its binning rule and its batched counting ----------------------


def _floor_rule(dist, n_bins):
  """NumPy float64 form of the library's bin rule: bin of cos = 1 - D is
  floor((cos + 1) n_bins / 2), clipped to [0, n_bins - 1]."""
  idx = np.clip(np.floor((2.0 - np.asarray(dist, np.float64)) * (n_bins / 2)), 0, n_bins - 1)
  return np.bincount(idx.astype(np.int64).ravel(), minlength=n_bins)


def test_histogram_ties_and_batches_follow_the_floor_rule():
  """``stats.histogram`` under two vmaps (the sweep's seeds x variants, which
  fold into one 1-D count) on distances that sit exactly on bin edges.

  Ties: with 4 bins the edges -1, -0.5, 0, 0.5, 1 of cos and D = 1 - cos are
  exact in binary, so floor((2 - D) * 2) is exact: a cosine on an interior
  edge goes to the bin above it, cos = 1 to the last bin and cos = -1 to the
  first (np.histogram's convention), and cosines rounded past +-1 are clipped
  into the end bins. Masked entries are not counted."""
  n_bins = 4
  edges_d = np.array([2.0, 1.5, 1.0, 0.5, 0.0, -1e-16, 2.0 + 1e-15])  # cos -1 .. 1, past
  rng = np.random.default_rng(8)
  dist = np.concatenate([np.tile(edges_d, (2, 3, 1)), rng.uniform(0, 2, (2, 3, 40))], -1)
  mask = rng.uniform(size=dist.shape) < 0.8
  f = jax.jit(jax.vmap(jax.vmap(functools.partial(stats.histogram, n_bins=n_bins))))
  got, got_masked = np.asarray(f(dist)), np.asarray(f(dist, mask=mask))
  cos = np.clip(1 - dist, -1, 1)
  for s in range(2):
    for v in range(3):
      want = _floor_rule(dist[s, v], n_bins)
      np.testing.assert_array_equal(got[s, v], want)
      np.testing.assert_array_equal(got[s, v], ref.pair_histogram(cos[s, v], n_bins))
      np.testing.assert_array_equal(got_masked[s, v],
                                    _floor_rule(dist[s, v][mask[s, v]], n_bins))
  # the edge values alone: one count per bin of cos -1, -0.5, 0, 0.5, two in
  # the last (cos = 1 and 1 + 1e-16) and the first (cos = -1 and below)
  np.testing.assert_array_equal(_floor_rule(edges_d, n_bins), [2, 1, 1, 3])


def test_histogram_equals_float64_brute_force_over_all_pairs():
  """The cone statistics' histogram, batched like the sweep (seeds x sets),
  equals np.histogram of all N (N - 1) / 2 pair cosines computed in float64
  by brute force: exactly, since no cosine here lies within 1e-9 of a bin
  edge (checked), far beyond the ~1e-15 by which the two float64 cosines can
  differ."""
  n, d, n_bins = 20, 6, 9
  rng = np.random.default_rng(21)
  xs = rng.normal(size=(2, 3, n, d)) + np.array([0.0, 0.5, 2.0])[None, :, None, None]
  f = jax.jit(jax.vmap(jax.vmap(functools.partial(stats.cone_stats, n_bins=n_bins, block=5))))
  got = np.asarray(f(jnp.asarray(xs))["hist"])
  for s in range(2):
    for v in range(3):
      pairs = ref.distinct_pairs(ref.cosine_matrix(xs[s, v]))
      assert ref.near_edge_count(pairs, n_bins, 1e-9) == 0
      np.testing.assert_array_equal(got[s, v], ref.pair_histogram(pairs, n_bins))
