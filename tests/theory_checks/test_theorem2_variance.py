"""Theorem 2: the check end to end (tiny), the per-seed moments of the random
MLP against a NumPy layer loop (and per setting, several settings in one
program), the variance decomposition and the estimates' ratios of seed means
and paired jackknife errors against NumPy brute force, unbiasedness of the
ANOVA correction, β from moments, the proof's bound on brute-force Monte
Carlo, the mean-field shares against closed forms, claims that fail on wrong
data, and one-line errors for bad input."""
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gaplab.io import results
from gaplab.analysis import variance
from gaplab.analysis import variance_estimates as ve
from gaplab.nets import activations
from gaplab.theory_checks import theorem2_variance as t2


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("t2") / "run")
  rc = t2.main(["--tiny", "--out", out])
  return rc, out


@pytest.mark.slow
def test_tiny_command_passes_and_writes_figures(tiny_run, capsys):
  rc, out = tiny_run
  assert rc == 0
  for name in ("theorem2_variance", "theorem2_variance_general", "theorem2_variance_fig2b",
               "theorem2_variance_margin"):
    for ext in ("png", "pdf"):
      assert os.path.getsize(os.path.join(out, "figures", f"{name}.{ext}")) > 0
  run = results.load_run(out)
  assert run.meta["kind"] == "check" and run.meta["check"] == t2.NAME
  assert run.meta["provenance"]["dtype"] == "float64"
  cfg = run.meta["config"]
  sets = run.meta["coords"]["sphere_setting"]
  # the theorem first, then the general grid without its duplicate cell
  assert sets[0]["part"] == "theorem" and len(sets) == len(cfg["sigma_w2s"]) * len(
      cfg["bias_ratios"]) + (0 if 1.0 in cfg["bias_ratios"] else 1)
  # the theorem's law: every entry of W and b has variance 1/width
  np.testing.assert_allclose(np.square(sets[0]["w_std"]), 1 / cfg["width"])
  assert sets[0]["b_std"] ** 2 == pytest.approx(1 / cfg["width"])
  assert run.arrays["sphere_pre_g_diag"].shape == (len(sets), cfg["seeds"], cfg["depth"])
  assert run.arrays["fig2b_pre_g_diag"].shape == (len(cfg["fig2b_activations"]),
                                                  cfg["seeds"], cfg["fig2b_depth"])
  assert [c.passed for c in t2.claims(out)] == [c["passed"] for c in run.meta["claims"]]
  assert all(c["passed"] for c in run.meta["claims"])
  est = t2._estimates(run)
  # a linear network's post-activation coordinate is its pre-activation one
  lin = cfg["fig2b_activations"].index("linear")
  np.testing.assert_allclose(est["fig2b"]["share_post"][0, lin],
                             est["fig2b"]["share_pre"][0, lin], rtol=1e-9, atol=1e-12)
  # unit-norm inputs: |h^(0)|^2 = 1 exactly, so the paper's beta = the scale-free one there
  np.testing.assert_allclose(est["sphere"]["q_prev"][0, :, 0], 1.0, rtol=1e-12)
  np.testing.assert_allclose(est["sphere"]["beta_paper"][0, :, 0],
                             est["sphere"]["beta"][0, :, 0], atol=1e-12)
  report = t2.report(out)
  assert "### 1. The theorem's setting" in report and "fails" not in report.split("###")[1]


def test_claims_fail_when_the_data_break_the_bound(tiny_run):
  _, out = tiny_run
  run = results.load_run(out)
  est = t2._estimates(run)
  s = est["sphere"]
  s["share_post"] = s["share_post"].copy()
  s["margin_paper"] = s["margin_paper"].copy()
  s["margin_paper"][0, 0, 1] = -1.0  # R far below β at layer 2 of the theorem's setting
  s["margin_bound"] = s["margin_bound"].copy()
  s["margin_bound"][0, -1, 1] = -1.0  # and below the proof's bound in a general cell
  passed = {c.name: c.passed for c in t2._claims(est, run.meta)}
  assert not passed[next(n for n in passed if "R >= β (the paper's" in n)]
  assert not passed[next(n for n in passed if n.startswith("general setting (") )]
  assert passed[next(n for n in passed if "E|h^(l)|² = 1" in n)]


def _moments_numpy(keys, act, w_std, b_std, sphere, width, depth, input_dim, n_inputs):
  """mlp_moments' statistics from a float64 NumPy layer loop on the same draws."""
  p = max(width, input_dim)
  per = []
  for key in keys:
    x = np.asarray(jax.random.normal(jax.random.fold_in(key, 0), (n_inputs, input_dim)))
    x = x / np.linalg.norm(x, axis=1, keepdims=True) if sphere else x
    x = np.pad(x, ((0, 0), (0, p - input_dim)))
    rows = []
    for l in range(depth):
      wb = np.asarray(jax.random.normal(jax.random.fold_in(jax.random.fold_in(key, 1), l + 1),
                                        (p + 1, width)))
      z = x @ (wb[:p] * w_std[l]) + b_std * wb[p]
      y = act(z)
      sq = np.sum(x * x, axis=1)
      g = x @ x.T
      norm = np.linalg.norm(x, axis=1, keepdims=True)  # a dead ReLU row counts as u = 0
      u = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
      rows.append(dict(prev_sq=sq.mean(), prev_off=g[~np.eye(n_inputs, dtype=bool)].mean(),
                       prev_cos_diag=np.mean(u @ u.T), pre_m=z.mean(0), post_m=y.mean(0),
                       pre_within=z.var(0, ddof=1).mean(), post_within=y.var(0, ddof=1).mean()))
      x = np.pad(y, ((0, 0), (0, p - width)))
    per.append({k: np.stack([r[k] for r in rows]) for k in rows[0]})
  out = {k: np.stack([s[k] for s in per]) for k in per[0]}
  for kind in ("pre", "post"):
    m = out.pop(f"{kind}_m")
    m = m - m.mean(0)
    out[f"{kind}_g_diag"] = np.sum(m * m, -1)
    out[f"{kind}_g_row"] = np.sum(m * m.sum(0), -1)
  return out


@pytest.mark.parametrize("index, sphere, input_dim", [(0, 1.0, 6), (1, 0.0, 3)])
def test_mlp_moments_match_a_numpy_layer_loop(index, sphere, input_dim):
  # inputs wider (6) and narrower (3) than the layers (4): both paddings
  width, depth, n_inputs = 4, 3, 5
  keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(3), jnp.arange(4))
  w_std, b_std = np.array([0.9, 0.5, 0.7]), 0.3
  got = variance.mlp_moments(keys, index, jnp.asarray([np.nan, np.nan]), jnp.asarray(w_std),
                             b_std, sphere, acts=("relu", "tanh"), width=width, depth=depth,
                             input_dim=input_dim, n_inputs=n_inputs, batch=2)
  act = (lambda z: np.maximum(z, 0), np.tanh)[index]
  want = _moments_numpy(keys, act, w_std, b_std, sphere, width, depth, input_dim, n_inputs)
  assert set(got) == set(want)
  for k in want:
    np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-12, err_msg=k)


def test_settings_moments_give_each_setting_its_own_activation_and_inputs():
  shape = dict(width=4, depth=2, input_dim=3, n_inputs=5)
  keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(4), jnp.arange(4))
  sets = [dict(activation=a, w_std=[0.9, 0.6], b_std=b, inputs=inputs)
          for a, b, inputs in (("tanh", 0.3, "gaussian"), ("relu", 0.0, "sphere"),
                               ("tanh", 0.5, "sphere"), ("leaky_relu:0.2", 0.3, "gaussian"))]
  got = variance.settings_moments(keys, sets, **shape)
  for i, s in enumerate(sets):
    spec = activations.parse(s["activation"])
    want = variance.mlp_moments(keys, 0, jnp.asarray([spec.param]), jnp.asarray(s["w_std"]),
                                s["b_std"], float(s["inputs"] == "sphere"), acts=(spec.name,),
                                batch=1, **shape)
    for name in want:
      assert got[name].shape == (len(sets),) + want[name].shape
      np.testing.assert_allclose(got[name][i], want[name], rtol=1e-12, atol=1e-14, err_msg=name)


def test_seed_batch_divides_the_seeds_under_the_memory_cap():
  assert variance.seed_batch(64, 1024, 128) == 64  # cap 2^24 / 2^17 = 128
  assert variance.seed_batch(64, 1024, 512) == 32  # cap 32
  assert variance.seed_batch(12, 2**18, 16) == 4  # cap 4: 4 divides 12
  assert variance.seed_batch(14, 2**18, 16) == 2  # cap 4: 3 and 4 do not divide 14
  assert variance.seed_batch(7, 2**30, 16) == 1  # cap 0: one seed at a time


def test_zscores_lowest_and_largest():
  x = np.array([[1.0, -2.0, 0.0], [3.0, -1.0, 2.0]])
  se = np.array([[0.5, 0.0, 0.0], [1.0, 0.5, 0.0]])
  np.testing.assert_array_equal(ve.zscores(x, se), [[2.0, -np.inf, 0.0], [3.0, -2.0, np.inf]])
  pair, ok = np.stack([x, se]), np.array([[True, False, True], [True, True, True]])
  assert ve.lowest(pair, ok) == (-2.0, (1, 1))
  assert ve.largest(pair, ok) == (np.inf, (1, 2))
  assert ve.largest(pair, ok & (x < 2)) == (2.0, (0, 0))  # ties: the first cell
  assert ve.lowest(pair, np.zeros_like(ok)) == (np.inf, (0, 0))


def test_estimates_are_ratios_of_seed_means_with_paired_jackknife_errors():
  # per-seed statistics of raw outputs h (setting, layer, seed, input, coordinate)
  # and of a previous layer; every estimate and its SE recomputed by brute force
  # on each seed subset (the full set, then each delete-one set)
  rng = np.random.default_rng(5)
  n_set, depth, k, n_in, width, d = 2, 3, 6, 5, 4, 7
  h = {kind: 0.7 * rng.normal(size=(n_set, depth, k, 1, width))
       + rng.normal(size=(n_set, depth, k, n_in, width)) for kind in ("pre", "post")}
  stats = {}
  for kind, x in h.items():
    m = x.mean(3) - x.mean((2, 3))[:, :, None]
    stats[f"{kind}_g_diag"] = np.sum(m * m, -1).transpose(0, 2, 1)  # (setting, seed, layer)
    stats[f"{kind}_g_row"] = np.sum(m * m.sum(2, keepdims=True), -1).transpose(0, 2, 1)
    stats[f"{kind}_within"] = x.var(3, ddof=1).mean(-1).transpose(0, 2, 1)
  sq = rng.uniform(0.5, 2, (n_set, k, depth))
  stats.update(prev_sq=sq, prev_off=sq * rng.uniform(0.1, 0.9, sq.shape),
               prev_cos_diag=rng.uniform(0.3, 0.9, sq.shape))
  w_std, b_std = rng.uniform(0.2, 1, (n_set, depth)), rng.uniform(0.1, 0.5, n_set)
  est = ve.estimates(stats, w_std, b_std, n_inputs=n_in, width=width, input_dim=d, depth=depth)

  def brute(seeds):
    mean = {name: v[:, seeds].mean(1) for name, v in stats.items()}
    sw2, sb2, e_sq, e_off = w_std ** 2, b_std[:, None] ** 2, mean["prev_sq"], mean["prev_off"]
    share = {kind: np.array([[variance.variance_share(h[kind][i, l][seeds])[0]
                              for l in range(depth)] for i in range(n_set)]) for kind in h}
    beta = e_off / e_sq
    omega = sw2 * e_sq / (sw2 * e_sq + sb2)
    return {"beta": beta, "beta_paper": 1 - e_sq + e_off, "omega": omega,
            "q": e_sq / np.array([d] + [width] * (depth - 1)),
            "pred_pre": (sw2 * e_off + sb2) / (sw2 * e_sq + sb2),
            "cos_mean": (n_in * mean["prev_cos_diag"] - 1) / (n_in - 1),
            "share_pre": share["pre"], "share_post": share["post"],
            "margin_post": share["post"] - beta,
            "margin_bound": share["post"] - (1 - omega * (1 - beta) * math.pi / (math.pi - 1))}

  full = brute(np.arange(k))
  loo = [brute(np.delete(np.arange(k), i)) for i in range(k)]
  for name, want in full.items():
    reps = np.stack([r[name] for r in loo])
    se = np.sqrt((k - 1) / k * np.sum((reps - reps.mean(0)) ** 2, axis=0))
    assert est[name].shape == (2, n_set, depth)
    np.testing.assert_allclose(est[name][0], want, rtol=1e-10, err_msg=name)
    np.testing.assert_allclose(est[name][1], se, rtol=1e-8, err_msg=name)


def _brute(h):
  """(K, N, n) -> plug-in (ddof 0) total, within and between variances,
  averaged over coordinates, and the ddof-1 S_between and S_within."""
  total = h.reshape(-1, h.shape[-1]).var(axis=0).mean()
  within = h.var(axis=1).mean()
  means = h.mean(axis=1)
  return (total, within, means.var(axis=0).mean(), means.var(axis=0, ddof=1).mean(),
          h.var(axis=1, ddof=1).mean())


def _parts(h):
  means, within = jax.vmap(variance.coord_moments)(jnp.asarray(h))
  gd, gr = variance.gram_sums(means)
  return variance.decompose(np.asarray(gd), np.asarray(gr), np.asarray(within),
                            h.shape[1], h.shape[2])


def test_decomposition_matches_numpy_and_total_is_within_plus_between():
  rng = np.random.default_rng(0)
  k, n_in, n = 6, 7, 3
  h = 5.0 + rng.normal(size=(k, 1, n)) + 0.7 * rng.normal(size=(k, n_in, n))
  total, w0, b0, s_b, s_w = _brute(h)
  parts = _parts(h)
  np.testing.assert_allclose(parts["s_between"][0], s_b, rtol=1e-12)
  np.testing.assert_allclose(parts["within"][0], s_w, rtol=1e-12)
  # plug-in identity: total = within + between, exactly (balanced design)
  np.testing.assert_allclose(w0 + b0, total, rtol=1e-12)
  plug_w = parts["within"][0] * (n_in - 1) / n_in
  plug_b = parts["s_between"][0] * (k - 1) / k
  np.testing.assert_allclose(plug_w + plug_b, total, rtol=1e-12)
  # every delete-one replicate is the brute force on the other seeds
  for drop in range(k):
    _, _, _, s_b, s_w = _brute(np.delete(h, drop, axis=0))
    np.testing.assert_allclose(parts["s_between"][1 + drop], s_b, rtol=1e-12)
    np.testing.assert_allclose(parts["within"][1 + drop], s_w, rtol=1e-12)
  np.testing.assert_allclose(parts["between"][0],
                             parts["s_between"][0] - parts["within"][0] / n_in)
  # the NumPy entry point gives the same share and the delete-one jackknife SE
  r, se = variance.variance_share(h)
  assert r == pytest.approx(parts["share"][0], rel=1e-12)
  assert se == pytest.approx(float(variance.jackknife_se(parts["share"][1:])), rel=1e-12)


def test_anova_share_is_unbiased_on_gaussian_random_effects():
  # h_kij = α_kj + ε_kij, α ~ N(0, vb), ε ~ N(0, vw): true share vb/(vb + vw) = 1/6;
  # the uncorrected share estimates (vb + vw/N)/(vb + vw/N + vw) = 0.31 instead.
  k, n_in, n, vb, vw = 4000, 4, 2, 0.2, 1.0

  def seed(key):
    a = jax.random.normal(jax.random.fold_in(key, 0), (1, n), jnp.float64)
    e = jax.random.normal(jax.random.fold_in(key, 1), (n_in, n), jnp.float64)
    return np.sqrt(vb) * a + np.sqrt(vw) * e

  keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(7), jnp.arange(k))
  parts = _parts(np.asarray(jax.vmap(seed)(keys)))
  share, se = parts["share"][0], variance.jackknife_se(parts["share"][1:])
  # S_between is a chi-square mean: sd = (vb + vw/N) sqrt(2 / (n (K - 1)))
  sd_theory = (vb + vw / n_in) * np.sqrt(2 / (n * (k - 1))) / (vb + vw)
  assert abs(se / sd_theory - 1) < 0.3
  assert abs(share - vb / (vb + vw)) < 4 * sd_theory
  naive = (vb + vw / n_in) / (vb + vw / n_in + vw)
  assert abs(parts["naive"][0] - naive) < 4 * sd_theory
  assert abs(parts["naive"][0] - vb / (vb + vw)) > 20 * sd_theory


def _cos_brute(x):
  g = x @ x.T
  nn = x.shape[0]
  norm = np.sqrt(np.diag(g))
  c = g / np.outer(norm, norm)
  off = ~np.eye(nn, dtype=bool)
  return np.trace(g) / nn, g[off].mean(), c.mean(), c[off].mean()


def test_layer_moments_and_beta_match_numpy_brute_force():
  rng = np.random.default_rng(1)
  k, n_in, fan_in = 5, 9, 4
  xs = (0.8 + rng.normal(size=(k, n_in, fan_in))) * rng.uniform(0.3, 2, (k, n_in, 1))
  brute = np.array([_cos_brute(x) for x in xs])  # (K, 4)
  got = np.array([[float(v) for v in variance.layer_moments(jnp.asarray(x))] for x in xs])
  np.testing.assert_allclose(got, brute[:, :3], rtol=1e-12)
  padded = np.pad(xs[0], ((0, 0), (0, 3)))  # zero columns change nothing
  np.testing.assert_allclose([float(v) for v in variance.layer_moments(jnp.asarray(padded))],
                             brute[0, :3], rtol=1e-12)
  # beta-tilde is a ratio of seed means: E[x.x'] / E|x|^2
  assert variance.projection_beta(xs) == pytest.approx(
      brute[:, 1].mean() / brute[:, 0].mean(), rel=1e-12)


def test_unequal_norms_let_the_plain_mean_cosine_exceed_beta():
  # norms r and 1, cosine c > 0: beta-tilde = 1/2 + r c / (1 + r^2) < 1/2 + c/2
  r, c = 3.0, 0.5
  x = np.array([[r, 0.0], [c, np.sqrt(1 - c * c)]])
  e_diag, e_off, _, cos_distinct = _cos_brute(x)
  assert np.isclose(cos_distinct, c)
  beta_all_pairs = (e_diag + e_off) / (2 * e_diag)  # N = 2, diagonal included
  assert np.isclose(beta_all_pairs, 0.5 + r * c / (1 + r * r))
  assert beta_all_pairs < 0.5 + c / 2


@pytest.mark.parametrize("norms, sb2", [((1.0, 1.0, 1.0), 0.3), ((0.3, 1.0, 2.5), 0.05),
                                        ((1.0, 1.0, 1.0), 0.0), ((1.0, 2.0, 4.0), 2.0)])
def test_proof_bound_holds_on_brute_force_monte_carlo(norms, sb2):
  # One ReLU coordinate h = φ(w·U + b), w ~ N(0, I_3 s_w2), b ~ N(0, sb2), U uniform
  # on 3 fixed inputs of the given norms (Θ^(L-1) absent: Var[x|Θ] = Var U).
  # R = Var_w E_U[h] / Var h from 400,000 (w, b) draws, exact over U.
  rng = np.random.default_rng(3)
  u = rng.normal(size=(3, 3))
  u *= np.asarray(norms)[:, None] / np.linalg.norm(u, axis=1, keepdims=True)
  sw2, m = 0.7, 400_000
  w = rng.normal(size=(m, 3)) * math.sqrt(sw2)
  b = rng.normal(size=(m, 1)) * math.sqrt(sb2)
  h = np.maximum(w @ u.T + b, 0)  # (draw, input)
  cond = h.mean(1)
  total = h.var()
  r = cond.var() / total
  # Monte Carlo sd of r: delta method on (Var cond, Var h), batch means over 40
  # batches of draws; the bound must hold within 4 of them
  rb = np.array([hb.mean(1).var() / hb.var() for hb in np.split(h, 40)])
  sd = rb.std(ddof=1) / math.sqrt(40)
  sq = np.mean(np.sum(u * u, 1))
  # x, x' independent draws from the 3 inputs (x = x' included): E[x.x'] = |E U|^2
  beta = np.sum(u.mean(0) ** 2) / sq
  omega = variance.weight_share(sw2, sq, sb2)
  bound = variance.proof_bound(omega, beta)
  assert r >= bound - 4 * sd
  if omega <= variance.OMEGA_MAX:
    assert r >= beta - 4 * sd


def test_sphere_cosines_moments():
  for d in (2, 3, 16, 128):
    t, w = variance.sphere_cosines(d, order=24)
    assert w.sum() == pytest.approx(1.0) and abs(np.sum(w * t)) < 1e-14
    assert np.sum(w * t * t) == pytest.approx(1 / d, rel=1e-12)  # E t^2 = 1/d
    assert np.sum(w * t ** 4) == pytest.approx(3 / (d * (d + 2)), rel=1e-10)
  with pytest.raises(ValueError, match="d >= 2"):
    variance.sphere_cosines(1)


def test_meanfield_shares_match_closed_forms():
  # the theorem's setting at width 128, orthogonal inputs (one pair, cosine 0):
  # layer 1 pre-activation correlation (0 + 1)/2, so R_pre = 1/2; the ReLU
  # arc-cosine kernel gives beta-tilde of layer 2 and R_post of layer 1
  d = 128
  mf = variance.meanfield("relu", sigma_w2=1.0, sigma_b2=1 / d, depth=4, q0=1 / d,
                          c0=[0.0], weights=[1.0])
  g = lambda rho: (math.sin(math.acos(rho)) + (math.pi - math.acos(rho)) * rho) / math.pi
  assert mf["share_pre"][0] == pytest.approx(0.5, rel=1e-12)
  assert mf["beta"][1] == pytest.approx(g(0.5), rel=1e-10)
  assert mf["omega"] == pytest.approx(np.full(4, 0.5), rel=1e-12)  # E|h|^2 = 1 kept
  # R_post = (E φφ' − m²)/(E φ² − m²) = (g(ρ)/2 − 1/(2π))/(1/2 − 1/(2π))
  assert mf["share_post"][0] == pytest.approx((g(0.5) - 1 / math.pi) / (1 - 1 / math.pi),
                                              rel=1e-10)
  # for ReLU 1 − R_post at layer l is π/(π − 1) (1 − beta-tilde of layer l + 1)
  np.testing.assert_allclose(mf["one_minus_share_post"][:-1],
                             math.pi / (math.pi - 1) * mf["one_minus_beta"][1:], rtol=1e-10)
  # near the cone the proof's bound is attained: (R − β)/(1 − β) -> 1 − ωπ/(π − 1)
  deep = variance.meanfield("relu", sigma_w2=1.0, sigma_b2=1 / d, depth=40, q0=1 / d,
                            c0=[0.0], weights=[1.0])
  ratio = 1 - deep["one_minus_share_post"][-1] / deep["one_minus_beta"][-1]
  assert ratio == pytest.approx(1 - 0.5 * math.pi / (math.pi - 1), abs=1e-4)


@pytest.mark.parametrize("sets, key", [(["depth=0"], "depth"), (["seeds=2"], "seeds"),
                                       (["bogus=1"], "bogus"),
                                       (['fig2b_activations=["maxout"]'], "fig2b_activations"),
                                       (['bias_ratios=[-1]'], "bias_ratios"),
                                       (["input_dim=1"], "input_dim")])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, sets, key):
  out = tmp_path / "run"
  assert t2.main(["--tiny", "--out", str(out), "--set", *sets]) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and f"--set {key}" in err
  assert not out.exists()
