"""Theorem 2 check: the command line end to end (tiny), the variance
decomposition against NumPy brute force, unbiasedness of the ANOVA correction,
β from cosines, and one-line errors for bad input."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gaplab import results
from gaplab.theory_checks import theorem2_variance as t2


def test_tiny_command_passes_and_writes_figures(tmp_path, capsys):
  out = str(tmp_path / "run")
  assert t2.main(["--tiny", "--out", out]) == 0
  printed = capsys.readouterr().out
  assert "| theorem2_variance |" in printed and "FAIL" not in printed
  for name in ("theorem2_variance", "theorem2_variance_margin"):
    for ext in ("png", "pdf"):
      assert os.path.getsize(os.path.join(out, "figures", f"{name}.{ext}")) > 0
  run = results.load_run(out)
  assert run.meta["kind"] == "check" and run.meta["check"] == t2.NAME
  assert run.meta["provenance"]["dtype"] == "float64"
  cfg = run.meta["config"]
  assert run.arrays["pre_g_diag"].shape == (len(cfg["activations"]), cfg["seeds"],
                                            cfg["depth"])
  assert [c.passed for c in t2.claims(out)] == [c["passed"] for c in run.meta["claims"]]
  # a linear network's post-activation coordinate is its pre-activation one
  lin = run.meta["coords"]["activation"].index("linear")
  est = t2.estimates(run.arrays, cfg)
  np.testing.assert_allclose(est["share_post"][0, lin], est["share_pre"][0, lin],
                             rtol=1e-9, atol=1e-12)


def _brute(h):
  """(K, N, n) -> plug-in (ddof 0) total, within and between variances,
  averaged over coordinates, and the ddof-1 S_between and S_within."""
  total = h.reshape(-1, h.shape[-1]).var(axis=0).mean()
  within = h.var(axis=1).mean()
  means = h.mean(axis=1)
  return (total, within, means.var(axis=0).mean(), means.var(axis=0, ddof=1).mean(),
          h.var(axis=1, ddof=1).mean())


def _parts(h):
  means, within = jax.vmap(t2.coord_moments)(jnp.asarray(h))
  gd, gr = t2.gram_sums(means)
  return t2.decompose(np.asarray(gd), np.asarray(gr), np.asarray(within),
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
  share, se = parts["share"][0], t2.jackknife_se(parts["share"][1:])
  # S_between is a chi-square mean: sd = (vb + vw/N) sqrt(2 / (n (K - 1)))
  sd_theory = (vb + vw / n_in) * np.sqrt(2 / (n * (k - 1))) / (vb + vw)
  assert abs(se / sd_theory - 1) < 0.3
  assert abs(share - vb / (vb + vw)) < 4 * sd_theory
  naive = (vb + vw / n_in) / (vb + vw / n_in + vw)
  assert abs(parts["naive"][0] - naive) < 4 * sd_theory
  assert abs(parts["naive"][0] - vb / (vb + vw)) > 20 * sd_theory


def _cos_brute(x):
  g = x @ x.T
  nn, fan_in = x.shape
  norm = np.sqrt(np.diag(g))
  c = g / np.outer(norm, norm)
  off = ~np.eye(nn, dtype=bool)
  return (np.trace(g) / nn / fan_in, g[off].mean() / fan_in, c.mean(), c[off].mean())


def test_beta_and_cosines_match_numpy_brute_force():
  rng = np.random.default_rng(1)
  k, n_in, fan_in = 5, 9, 4
  xs = (0.8 + rng.normal(size=(k, n_in, fan_in))) * rng.uniform(0.3, 2, (k, n_in, 1))
  brute = np.array([_cos_brute(x) for x in xs])  # (K, 4)
  got = np.array([[float(v) for v in t2.prev_stats(jnp.asarray(x), fan_in)]
                  for x in xs])
  np.testing.assert_allclose(got, brute[:, :3], rtol=1e-12)
  padded = np.pad(xs[0], ((0, 0), (0, 3)))  # zero columns change nothing
  np.testing.assert_allclose([float(v) for v in t2.prev_stats(jnp.asarray(padded), fan_in)],
                             brute[0, :3], rtol=1e-12)
  cfg = {"n_inputs": n_in, "width": 3, "sigma_w": 1.0, "sigma_b": 0.1}
  arrays = {name: rng.uniform(1, 2, (1, k, 1)) for name in t2.STATS}
  arrays.update(prev_e_diag=got[None, :, 0, None], prev_e_off=got[None, :, 1, None],
                prev_cos_diag=got[None, :, 2, None])
  est = t2.estimates(arrays, cfg)
  np.testing.assert_allclose(est["beta"][0, 0, 0], brute[:, 1].sum() / brute[:, 0].sum(),
                             rtol=1e-12)
  np.testing.assert_allclose(est["cos_mean"][0, 0, 0], brute[:, 3].mean(), rtol=1e-12)
  np.testing.assert_allclose(est["cos_mean_diag"][0, 0, 0], brute[:, 2].mean(),
                             rtol=1e-12)
  pred = (brute[:, 1].mean() + 0.01) / (brute[:, 0].mean() + 0.01)
  np.testing.assert_allclose(est["pred_pre"][0, 0, 0], pred, rtol=1e-12)


def test_unequal_norms_let_the_plain_mean_cosine_exceed_beta():
  # the docstring's example: norms r and 1, cosine c > 0
  r, c = 3.0, 0.5
  x = np.array([[r, 0.0], [c, np.sqrt(1 - c * c)]])
  e_diag, e_off, _, cos_distinct = _cos_brute(x)
  assert np.isclose(cos_distinct, c)
  beta_all_pairs = (e_diag + e_off) / (2 * e_diag)  # N = 2, diagonal included
  assert np.isclose(beta_all_pairs, 0.5 + r * c / (1 + r * r))
  assert beta_all_pairs < 0.5 + c / 2


@pytest.mark.parametrize("sets, key", [(["depth=0"], "depth"), (["seeds=2"], "seeds"),
                                       (["bogus=1"], "bogus"),
                                       (['activations=["maxout"]'], "activations")])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, sets, key):
  out = tmp_path / "run"
  assert t2.main(["--tiny", "--out", str(out), "--set", *sets]) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and f"--set {key}" in err
  assert not out.exists()
