"""The sweep engine vs the float64 NumPy reference forward pass + brute-force
statistics, with the engine's own random numbers (``explicit_weights`` /
``explicit_inputs``).

Compilation dominates the cost (a few seconds per program on CPU, nearly flat
in the number of variants), so each program carries many variants, the seed /
rerun / CRN / retrace tests share one module-scoped run, and every sweep is a
small sub-grid chosen so that together they cover each activation, init
scheme, family and block order (the full product would take minutes).
"""
import dataclasses

import chex
import numpy as np
import pytest

from gaplab.nets import activations
from gaplab.cone import engine
from gaplab.nets import inits
from gaplab.cone import stats
from gaplab.cone.config import ConeConfig

import reference as ref

SCALAR_KEYS = tuple(stats.SCALARS)
ELEMENTWISE = tuple(n for n in activations.NAMES if n != "maxout")

# float64: inputs, weights and every statistic are O(1) and the nets are 3
# layers deep, so both sides agree to ~1e-14 (2e-15 seen; the engine computes
# (h @ base) * scale, the reference h @ (scale * base)); 1e-9 leaves a huge
# margin for other platforms' BLAS and libm, while a
# wrong weight, scale, bias, parameter or row order moves results by >= 1e-3.
F64_TOL = dict(rtol=1e-9, atol=1e-9)
F64_EDGE = 1e-9  # pairs this close to a bin edge may land in either bin
# float32 engine vs float64 reference on the same draws: float32 rounding
# (eps 6e-8) through 3 layers of width <= 8 and a normalisation gives <= 1e-6
# absolute error on O(1) statistics (7e-7 seen); 2e-5 leaves > 20x margin.
F32_TOL = dict(rtol=2e-5, atol=2e-5)
F32_EDGE = 2e-5


def small_config(**kw):
  base = dict(depth=3, widths=(6,), input_dim=5, n_samples=9, seeds=2,
              seed_chunk=2, dtype="float64", precision="highest", pair_block=4)
  base.update(kw)
  return ConeConfig(**base)


# -- reference -----------------------------------------------------------------


def reference_arrays(cfg, variants):
  """Reference statistics with the engine's axes (variant, seed, layer[, bin]),
  plus ``slack``: per entry, the pairs whose cosine is near a bin edge."""
  width, n_bins = cfg.widths[0], cfg.n_bins
  shape = (len(variants), cfg.seeds, cfg.depth + 1)
  want = {k: np.full(shape, np.nan) for k in SCALAR_KEYS}
  want["hist"] = np.zeros(shape + (n_bins,), np.int64)
  want["slack"] = np.zeros(shape, np.int64)
  memo = {}
  for vi, v in enumerate(variants):
    for s in range(cfg.seeds):
      for layer, h in enumerate(ref.variant_layers(cfg, v, s, width, memo)):
        st = ref.cone_stats(h, n_bins)
        for k in SCALAR_KEYS + ("hist",):
          want[k][vi, s, layer] = st[k]
        pairs = ref.distinct_pairs(ref.cosine_matrix(h))
        window = F64_EDGE if cfg.dtype == "float64" else F32_EDGE
        want["slack"][vi, s, layer] = ref.near_edge_count(pairs, n_bins, window)
  return want


def _first_bad(mask, variants):
  i = tuple(int(a[0]) for a in np.nonzero(mask))
  return f"variant {variants[i[0]].label}, seed {i[1]}, layer {i[2]}", i


def assert_hist_sums(out):
  """Every defined histogram counts each distinct pair once."""
  n = out.n_samples
  h = out.arrays["hist"]
  defined = np.all(h >= 0, axis=-1)
  np.testing.assert_array_equal(h.sum(-1)[defined], n * (n - 1) // 2)
  # undefined ones (a zero/non-finite row) are all -1, as documented
  np.testing.assert_array_equal(h[~defined], -1)


def assert_matches_reference(out, want, tol):
  variants = out.variants
  got = {k: v[0] for k, v in out.arrays.items()}  # the one width
  degenerate = want["frac_degenerate"] > 0
  # dead ReLU rows occur at width <= 8 (p ~ 2^-width per row); they must stay
  # rare here or the comparisons below would be mostly NaN == NaN
  assert degenerate.mean() < 0.05
  for k in SCALAR_KEYS:
    g, w = got[k], want[k]
    if k == "q":  # the library reports q = NaN for a zero row (see report)
      g, w = g[~degenerate], w[~degenerate]
    if k == "frac_degenerate":  # k / N; the library averages in float32 (~1e-8)
      g, w = np.round(g * out.n_samples), np.round(w * out.n_samples)
    close = np.isclose(g, w, equal_nan=True, **tol)
    if not np.all(close):
      where, i = _first_bad(~close, variants) if k != "q" else ("", ())
      raise AssertionError(f"{k}: {where}: got {g[i]}, want {w[i]} "
                           f"({np.sum(~close)} of {close.size} differ)")
  # histograms: exact but for near-edge pairs, each moving one count
  diff = np.abs(got["hist"] - want["hist"]).sum(-1)
  bad = ~degenerate & (diff > 2 * want["slack"])
  if np.any(bad):
    where, i = _first_bad(bad, variants)
    raise AssertionError(f"hist: {where}: got {got['hist'][i]}, want {want['hist'][i]}")
  np.testing.assert_array_equal(got["hist"][degenerate], -1)


def check_run(cfg, tol=F64_TOL):
  out = engine.run(cfg)
  assert out.variants == cfg.variants()
  v, s, l = len(out.variants), cfg.seeds, cfg.depth + 1
  for k in SCALAR_KEYS:
    assert out.arrays[k].shape == (1, v, s, l), k
  assert out.arrays["hist"].shape == (1, v, s, l, cfg.n_bins)
  assert_hist_sums(out)
  assert_matches_reference(out, reference_arrays(cfg, out.variants), tol)
  return out


# -- every activation, init and block vs the reference ---------------------------

# Every activation (both parameterised ones also at a non-default value), under
# the normal family at two weight scales (gaussian, he) and two sigma_b (0 and
# not).
ALL_ACTIVATIONS = small_config(
    activations=ELEMENTWISE + ("maxout", "leaky_relu:0.2", "elu:0.5"),
    inits=("gaussian", "he"), sigma_w=(1.2,), sigma_b=(0.0, 0.4))

# Every init scheme (all three families, interleaved in variant order so the
# group -> variant reordering is exercised); first layer tall (fan_in 9 > 6);
# N = 10 with pair_block 4 pads the pairwise pass.
ALL_INITS = small_config(
    activations=("relu", "maxout", "leaky_relu:0.2"), inits=inits.NAMES,
    sigma_w=(0.8, 1.5), sigma_b=(0.3,), input_dim=9, n_samples=10)

# act-linear: param-free and parameterised phi (different broadcasting on the
# shared first-layer input); first layer wide (fan_in 4 < 7); two blocks of 4.
# sigma_b > 0: without a bias, an input row with no positive entry (p = 1/16
# at d = 4) stays a zero row at every layer.
ACT_LINEAR = small_config(
    block="act-linear", activations=("relu", "leaky_relu:0.2"),
    inits=("lecun", "torch", "orthogonal"), sigma_w=(1.2,), sigma_b=(0.2, 0.5),
    input_dim=4, widths=(7,), n_samples=8)

# linear-act-linear: two maps per block, fan_in of the second = width;
# N = 12 in four blocks of 3.
LINEAR_ACT_LINEAR = small_config(
    block="linear-act-linear", activations=("elu:0.5",),
    inits=("xavier", "xavier_uniform", "orthogonal"), sigma_w=(1.0, 1.4),
    sigma_b=(0.2,), n_samples=12, pair_block=3)


@pytest.mark.parametrize("cfg", [ALL_ACTIVATIONS, ALL_INITS, ACT_LINEAR,
                                 LINEAR_ACT_LINEAR],
                         ids=["all_activations", "all_inits", "act_linear",
                              "linear_act_linear"])
def test_engine_matches_reference(cfg):
  check_run(cfg)


# -- seeds, reruns, common random numbers, retracing -----------------------------

SEEDS = small_config(activations=("relu", "leaky_relu:0", "tanh"),
                     inits=("gaussian",), sigma_w=(1.0, 1.5), sigma_b=(0.1,),
                     n_samples=8, seeds=3, seed_chunk=3, seed=11)


@pytest.fixture(scope="module")
def seeds_run():
  return check_run(SEEDS)  # per-seed loop over the reference, seeds 0..2


def _assert_same(a, b):
  for k in engine.STAT_KEYS:
    np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=k)


def test_seed_chunks_equal_one_vmapped_call(seeds_run):
  # exact: each seed runs the same vmapped per-seed program on the same key
  # (a chunk that does not divide the seeds is covered in the user-input test)
  _assert_same(engine.run(SEEDS.replace(seed_chunk=1)), seeds_run)


def test_seeds_differ(seeds_run):
  q = seeds_run.arrays["q"][0, 0]  # (seed, layer)
  assert len({float(v) for v in q[:, 0]}) == SEEDS.seeds  # fresh inputs per seed
  assert len({float(v) for v in q[:, -1]}) == SEEDS.seeds


def test_rerun_is_bitwise_identical(seeds_run):
  _assert_same(engine.run(SEEDS), seeds_run)


def test_relu_equals_leaky_relu_slope_zero(seeds_run):
  # common random numbers: same base draws, and max(x, 0) == where(x >= 0, x,
  # 0 * x) exactly (up to the sign of zero), in groups of the same shape
  labels = [v.label.split("/")[0] for v in seeds_run.variants]
  relu = [i for i, l in enumerate(labels) if l == "relu"]
  leaky = [i for i, l in enumerate(labels) if l == "leaky_relu:0"]
  assert len(relu) == len(leaky) == 2
  for k in engine.STAT_KEYS:
    a = seeds_run.arrays[k]
    np.testing.assert_array_equal(a[:, relu], a[:, leaky], err_msg=k)
  # and the activation is not just ignored: tanh differs
  tanh = [i for i, l in enumerate(labels) if l == "tanh"]
  assert not np.allclose(seeds_run.arrays["mean_cos"][:, relu, :, 1:],
                         seeds_run.arrays["mean_cos"][:, tanh, :, 1:])


def test_other_activations_do_not_change_numbers(seeds_run):
  alone = engine.run(SEEDS.replace(activations=("tanh",)))
  rows = [i for i, v in enumerate(seeds_run.variants) if v.activation == "tanh"]
  assert [seeds_run.variants[i].label for i in rows] == [v.label for v in alone.variants]
  # exact: the tanh group's program and random numbers are the same either way
  for k in engine.STAT_KEYS:
    np.testing.assert_array_equal(seeds_run.arrays[k][:, rows], alone.arrays[k],
                                  err_msg=k)


@pytest.fixture
def max_traces(monkeypatch):
  """``max_traces(n)``: from a fresh program cache on, the per-seed program may
  be traced at most n times in this test (``chex.assert_max_traces``)."""
  def limit(n):
    chex.clear_trace_counter()
    engine.compiled.cache_clear()
    monkeypatch.setattr(engine, "_seed_program",
                        chex.assert_max_traces(engine._seed_program, n=n))
  yield limit
  engine.compiled.cache_clear()  # drop the programs built on the wrapper


def test_new_sigma_values_do_not_retrace(seeds_run, max_traces):
  max_traces(1)
  cfg = SEEDS.replace(sigma_w=(0.7, 2.0), sigma_b=(0.25,))
  out = check_run(cfg)  # the one trace; the new values are used: matches its reference
  _assert_same(engine.run(SEEDS), seeds_run)  # other sigma values: no second trace
  assert not np.allclose(out.arrays["q"][..., 1:], seeds_run.arrays["q"][..., 1:])


def test_retrace_is_detected(seeds_run, max_traces):
  # the check above can fail: a new array shape (here N) is a new trace
  max_traces(1)
  _assert_same(engine.run(SEEDS), seeds_run)
  with pytest.raises(AssertionError, match="traced > 1 times"):
    engine.run(SEEDS.replace(n_samples=SEEDS.n_samples + 1))


def test_float32_engine_vs_float64_reference(seeds_run):
  cfg = SEEDS.replace(dtype="float32")
  out = check_run(cfg, tol=F32_TOL)
  for k in SCALAR_KEYS:
    assert out.arrays[k].dtype == np.float32, k


# -- user inputs, depth 1, no bias ----------------------------------------------


def test_user_inputs_depth_one_no_bias(tmp_path):
  x = np.random.default_rng(5).uniform(-2, 3, size=(7, 3))
  path = str(tmp_path / "inputs.npy")
  np.save(path, x)
  cfg = small_config(inputs=path, depth=1, bias=False, activations=("relu", "gelu"),
                     inits=("gaussian", "torch"), sigma_w=(1.3,),
                     sigma_b=(0.0, 0.5), input_dim=99, n_samples=99, seeds=3,
                     seed_chunk=2)  # 2 calls, the second padded with a copy
  out = check_run(cfg)
  assert (out.n_samples, out.input_dim) == x.shape  # taken from the array
  for s in range(cfg.seeds):
    np.testing.assert_array_equal(engine.explicit_inputs(cfg, s), x)
  # layer 0 is the user array for every seed and variant
  want0 = ref.cone_stats(x, cfg.n_bins)
  for k in SCALAR_KEYS:
    np.testing.assert_allclose(out.arrays[k][..., 0], want0[k], err_msg=k, **F64_TOL)
  # bias off: no bias at all (torch included), so sigma_b cannot matter
  for v in out.variants:
    for (_, b) in engine.explicit_weights(cfg, v, 0, 1, 6, x.shape[1]):
      np.testing.assert_array_equal(b, 0.0)
  sb = np.array([v.sigma_b for v in out.variants])
  for k in engine.STAT_KEYS:
    np.testing.assert_array_equal(out.arrays[k][:, sb == 0.0],
                                  out.arrays[k][:, sb == 0.5], err_msg=k)
  # different seeds, different weights: layer 1 differs across seeds
  q1 = out.arrays["q"][0, :, :, 1]
  assert np.all(np.std(q1, axis=1) > 0)


# -- pairwise statistics at chosen layers ----------------------------------------

# SEEDS (the module's shared run, pairwise statistics at every layer of its
# 3) with pairwise statistics at layers 0 and 2 only: the scan over layers 2..3
# then mixes layers with and without them (the lax.cond path), as "auto" does
# at depth >= 4 (at depth 3 "auto" is every layer)
CHOSEN = SEEDS.replace(pairwise_layers=(0, 2))
# the same sweep on the command line (the same program: no second compile)
CHOSEN_ARGV = ["cone", "--activations", "relu,leaky_relu:0,tanh", "--inits", "gaussian",
               "--sigma-w", "1.0,1.5", "--sigma-b", "0.1", "--depth", "3", "--width", "6",
               "--input-dim", "5", "--n-samples", "8", "--seeds", "3", "--seed-chunk", "3",
               "--seed", "11", "--pair-block", "4", "--dtype", "float64", "--quiet",
               "--pairwise-layers", "0,2"]


def test_auto_pairwise_layers():
  assert small_config(depth=3).measured_pairwise_layers() == (0, 1, 2, 3)
  assert small_config(depth=7).measured_pairwise_layers() == (0, 1, 2, 5, 7)
  assert ConeConfig().measured_pairwise_layers() == (0, 1, 2, 5, 10, 25)
  assert ConeConfig(pairwise=False).measured_pairwise_layers() == ()
  assert ConeConfig(pairwise_layers=(7, 3)).measured_pairwise_layers() == (3, 7)
  assert ConeConfig(pairwise_layers="all", depth=2).measured_pairwise_layers() == (0, 1, 2)


@pytest.mark.parametrize("bad", ["some", (), (1, 1), (-1,), (4,), (True,), (1.0,)])
def test_bad_pairwise_layers_are_refused(bad):
  from gaplab._errors import ConfigError
  with pytest.raises(ConfigError, match="pairwise_layers"):
    small_config(pairwise_layers=bad).validate()  # depth 3: layer 4 is out


def test_chosen_layers_agree_with_all_layers(seeds_run, tmp_path, capsys):
  """Pairwise statistics at chosen layers (in a lax.cond, the fast default's
  path) give, at those layers, what the all-layers program gives; elsewhere
  NaN and a histogram of -1, while the mean-cosine statistics are computed at
  every layer. The saved run records the layers."""
  from clihelp import run_cli
  from gaplab.io import results
  every = seeds_run  # pairwise statistics at every layer, checked vs the reference
  out = engine.run(CHOSEN)
  on = np.array(CHOSEN.measured_pairwise_layers())
  off = np.setdiff1d(np.arange(CHOSEN.depth + 1), on)
  for k in engine.STAT_KEYS:
    got, want = out.arrays[k], every.arrays[k]
    if k in stats.PAIRWISE + ("hist",):
      # skipped layers: NaN, hist -1, as documented (and as with --no-pairwise)
      np.testing.assert_array_equal(got[:, :, :, off], np.nan if k != "hist" else -1)
      got, want = got[:, :, :, on], want[:, :, :, on]
    if k == "hist":  # the same bins of the same cosines: counts are exact
      np.testing.assert_array_equal(got, want)
      continue
    # float64, the same operations on the same numbers: XLA may fuse the
    # conditional's branch differently from the unconditional program, i.e.
    # at most reorder sums of O(1) terms (~1e-16 of each statistic; on the
    # CPU they agree bitwise); a wrong layer or variant differs by > 1e-3
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=k)
  # the command line: the layers are recorded as asked and resolved
  rc, _, err = run_cli(CHOSEN_ARGV + ["--out", str(tmp_path / "run")], capsys)
  assert rc == 0, err
  run = results.load_run(str(tmp_path / "run"))
  assert run.meta["config"]["pairwise_layers"] == [0, 2]
  assert run.meta["resolved"]["pairwise_layers"] == [0, 2]
  for k in engine.STAT_KEYS:
    np.testing.assert_array_equal(run.arrays[k], out.arrays[k], err_msg=k)
  rc, _, err = run_cli(CHOSEN_ARGV + ["--pairwise-layers", "1,4", "--out",
                                      str(tmp_path / "never")], capsys)
  assert rc == 2 and err.count("\n") == 1
  assert err.startswith("gaplab cone: error: argument --pairwise-layers: expected")


def _jaxprs(jaxpr):
  """``jaxpr`` and every jaxpr nested in its equations (scan, cond, pjit)."""
  import jax.extend
  yield jaxpr
  for eqn in jaxpr.eqns:
    for sub in jax.extend.core.jaxprs_in_params(eqn.params):
      yield from _jaxprs(sub)


def test_pairwise_condition_stays_a_cond_under_the_seed_vmap():
  """Under vmap a lax.cond with a batched predicate becomes a select that
  runs both branches; the layer flag is not batched, so the sweep's program
  (vmapped over seeds) keeps a real cond, with a scalar predicate, and
  skipped layers cost no Gram."""
  import jax
  stacks = engine.family_stacks(CHOSEN.variants())
  plan = engine.Plan(
      families=tuple((f, engine.segments(vs)) for f, vs in stacks.items()),
      block=CHOSEN.block, depth=CHOSEN.depth, width=CHOSEN.widths[0],
      input_dim=CHOSEN.input_dim, n_samples=CHOSEN.n_samples, inputs="gaussian",
      n_bins=CHOSEN.n_bins, pair_block=CHOSEN.pair_block, pairwise=True,
      dtype="float32", precision="highest",
      pairwise_layers=CHOSEN.measured_pairwise_layers())
  params = engine.family_params(CHOSEN, stacks, CHOSEN.widths[0], CHOSEN.input_dim,
                                np.float32)
  closed = jax.make_jaxpr(engine.compiled(plan))(engine.seed_keys(CHOSEN), None, params)
  conds = [e for j in _jaxprs(closed.jaxpr) for e in j.eqns if e.primitive.name == "cond"]
  assert len(conds) == 1
  assert conds[0].invars[0].aval.shape == ()
  # and the check can fail: with every layer on, the body has no cond at all
  every = jax.make_jaxpr(engine.compiled(
      dataclasses.replace(plan, pairwise_layers=None)))(engine.seed_keys(CHOSEN), None, params)
  assert not [e for j in _jaxprs(every.jaxpr) for e in j.eqns if e.primitive.name == "cond"]
