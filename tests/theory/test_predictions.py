"""Predictions for a sweep: pair kernels, the control-variate average, block
orders, 1 - cos deep in the cone, agreement with wide float64 networks, and
the ``gaplab theory`` / ``plot cone --theory`` commands."""
import math
import os

import numpy as np
import pytest

from gaplab.cone import engine
from gaplab.theory import meanfield as mf
from gaplab.theory import propagation as pr
from gaplab.theory import predictions as theory
from gaplab.cone.config import ConeConfig
from clihelp import run_cli

SMALL = dict(activations=("relu", "tanh"), depth=4, widths=(64,), input_dim=16,
             n_samples=24, seeds=3, dtype="float64")




def test_input_pairs_are_the_engines_inputs():
  cfg = ConeConfig(**SMALL)
  pairs = theory.input_pairs(cfg, n_pairs=10_000)
  assert pairs["exhaustive"] and pairs["sets"] == 3
  n = cfg.n_samples * (cfg.n_samples - 1) // 2
  x = engine.explicit_inputs(cfg, 2)  # the last seed's block of pairs
  i, j = np.triu_indices(cfg.n_samples, k=1)
  d = cfg.input_dim
  np.testing.assert_allclose(pairs["q1"][2 * n:], np.sum(x[i] ** 2, 1) / d, rtol=1e-14)
  np.testing.assert_allclose(pairs["c12"][2 * n:], np.sum(x[i] * x[j], 1) / d, atol=1e-15)
  np.testing.assert_allclose(pairs["dist"][2 * n:], np.sum((x[i] - x[j]) ** 2, 1) / d,
                             rtol=1e-14)
  # exact all-pairs moments of the input cosine vs brute force, averaged over seeds
  brute = []
  for s in range(3):
    x = engine.explicit_inputs(cfg, s)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    c = (u @ u.T)[i, j]
    brute.append((c.mean(), (c * c).mean()))
  np.testing.assert_allclose(pairs["c0_means"], np.mean(brute, 0), atol=1e-15)


def test_sampled_prediction_agrees_with_every_pair_within_its_error():
  # Sampled pairs with control variates estimate the all-pairs average; the
  # difference must be within 4 standard errors (a 6e-5 two-sided chance per
  # value if the error is right), and the control variates must beat the plain
  # average's error at layer 1 by a wide margin.
  cfg = ConeConfig(**dict(SMALL, n_samples=60, seeds=1))
  exact = theory.predict(cfg, n_pairs=10_000)
  sampled = theory.predict(cfg, n_pairs=300, pair_seed=3)
  assert exact.pairs["exhaustive"] and not sampled.pairs["exhaustive"]
  diff = sampled.arrays["mean_cos"] - exact.arrays["mean_cos"]
  se = sampled.arrays["mean_cos_se"]
  assert np.all(se[..., 1:] > 0) and np.all(exact.arrays["mean_cos_se"] == 0)
  assert np.all(np.abs(diff[..., 1:]) <= 4 * se[..., 1:] + 1e-12)
  pairs = sampled.pairs
  omc = pr.propagate("relu", sigma_w2=1.0, sigma_b2=1 / 512, depth=1, q1=pairs["q1"],
                     q2=pairs["q2"], dist=pairs["dist"])["one_minus_cos"][1]
  plain_se = omc.std(ddof=1) / math.sqrt(len(omc))
  assert se[0, 0, 1] < plain_se / 5


def test_layer_variances_follow_each_layers_fan_in():
  cfg = ConeConfig(**dict(SMALL, inits=("xavier",), block="linear-act-linear"))
  v = cfg.variants()[0]
  sw2, sb2 = theory.layer_variances(cfg, v, width=64, input_dim=16)
  assert sw2.shape == (4, 2)
  # xavier: Var W = 2/(fan_in + fan_out), so sigma_w^2 = 2 fan_in/(fan_in + fan_out)
  assert sw2[0, 0] == pytest.approx(2 * 16 / 80) and sw2[0, 1] == pytest.approx(1.0)
  assert sw2[1, 0] == pytest.approx(1.0)
  np.testing.assert_allclose(sb2, v.sigma_b ** 2)


@pytest.mark.parametrize("block", ["linear-act", "act-linear", "linear-act-linear"])
def test_prediction_matches_wide_float64_networks(block, tmp_path):
  # Engine in float64 at width 1024 against the exact (all-pairs) prediction,
  # on one fixed input array (so seeds differ only in their weights). Per seed
  # the mean cosine scatters by O(1/sqrt(width)) and its expectation is off by
  # O(1/width): allow 4 standard errors of the seed mean plus 2/width (at
  # widths 1024 and 2048 the worst value used under half of this allowance).
  x = np.random.default_rng(0).standard_normal((16, 16)) * 1.5
  np.save(tmp_path / "x.npy", x)
  cfg = ConeConfig(activations=("relu", "tanh", "gelu"), depth=3, widths=(1024,),
                   inputs=str(tmp_path / "x.npy"), seeds=8, block=block,
                   dtype="float64", pairwise=False, sigma_w=(1.3,), sigma_b=(0.2,))
  measured = engine.run(cfg).arrays["mean_cos"][0]  # (variant, seed, layer)
  pred = theory.predict(cfg, n_pairs=10_000).arrays["mean_cos"][0]
  mean = measured.mean(axis=1)
  se = measured.std(axis=1, ddof=1) / math.sqrt(cfg.seeds)
  np.testing.assert_array_less(np.abs(mean - pred), 4 * se + 2 / 1024)
  np.testing.assert_allclose(mean[:, 0], pred[:, 0], atol=1e-14)  # the inputs


def test_one_minus_cos_deep_in_the_cone():
  # Sigmoid is strongly ordered: 1 - cos falls ~ chi_c per layer, far below
  # float64's 1e-16. Kept relative-accurate, the per-layer ratio settles to
  # chi_c at the fixed point (to 1e-6 once q has converged).
  out = pr.propagate("sigmoid", sigma_w2=1.0, sigma_b2=1 / 512, depth=60, q1=1.0,
                     q2=1.2, c12=0.1)
  omc = out["one_minus_cos"]
  assert np.all(omc[1:] > 0) and omc[-1] < 1e-60
  fp = pr.fixed_point("sigmoid", 1.0, 1 / 512)
  np.testing.assert_allclose(omc[41:] / omc[40:-1], fp.chi_c, rtol=1e-6)
  # where 1 - cos is not small, the stable recursion equals the kernel route
  c = mf.post_cosine("sigmoid", out["q1"][1], out["q2"][1], out["c12"][1])
  assert out["cos"][1] == pytest.approx(c, abs=1e-13)


def test_distance_is_relative_accurate_for_tiny_distances():
  # E[(phi(u1) - phi(u2))^2] = D E[phi'(u)^2] (1 + O(D)) for smooth phi, q1 = q2
  q = np.array([0.3, 1.0, 3.0])
  for act in ("tanh", "sigmoid", "gelu", "elu", "softplus"):
    for dist in (1e-20, 1e-60):
      got = mf.distance(act, q, q, np.full(3, dist))
      np.testing.assert_allclose(got, dist * mf.derivative_moment(act, q), rtol=1e-12)
  np.testing.assert_array_equal(mf.distance("linear", 1.0, 2.0, 1e-80), 1e-80)


def test_linear_act_linear_phase_uses_the_composed_map():
  # two maps of sigma_w^2 = 0.81 per layer: ordered, 1 - cos shrinks by
  # chi_c = 0.81^2 / 2 per layer once q has settled
  cfg = ConeConfig(activations=("relu",), block="linear-act-linear", sigma_w=(0.9,),
                   sigma_b=(0.1,), widths=(64,))
  fp = theory.variant_fixed_point(cfg, cfg.variants()[0], 64)
  direct = pr.fixed_point("relu", 0.81 * 0.81, 0.81 * 0.01 + 0.01)
  assert fp.phase == direct.phase == "ordered"
  for key in ("q_star", "chi1", "c_star", "chi_c", "xi_c"):
    assert getattr(fp, key) == pytest.approx(getattr(direct, key), rel=1e-12)
  assert fp.chi_c == pytest.approx(0.81 ** 2 / 2, rel=1e-9)
  out = pr.propagate("relu", sigma_w2=0.81, sigma_b2=0.01, depth=80, q1=1.0, q2=1.0,
                     c12=0.0, block="linear-act-linear")
  rate = out["one_minus_cos"][80] / out["one_minus_cos"][79]
  assert rate == pytest.approx(direct.chi_c, rel=1e-6)


@pytest.mark.slow
def test_theory_command_and_overlay(tmp_path, capsys):
  args = ["--activations", "relu,sigmoid", "--depth", "3", "--width", "32",
          "--input-dim", "8", "--n-samples", "12", "--seeds", "2", "--n-bins", "10"]
  cone_dir, th = str(tmp_path / "cone"), str(tmp_path / "th")
  assert run_cli(["cone", *args, "--out", cone_dir], capsys)[0] == 0
  rc, out, _ = run_cli(["theory", *args, "--out", th], capsys)
  assert rc == 0 and "wrote" in out
  from gaplab.io import results
  run = results.load_run(th)
  assert run.meta["kind"] == "theory" and run.arrays["mean_cos"].shape == (1, 2, 4)
  assert run.meta["variants"][1]["fixed_point"][0]["phase"] == "ordered"
  assert run.meta["resolved"]["exhaustive"]  # 2 x 66 pairs < 512
  # overlay from a given directory, then RUN/theory predicted on the fly
  rc, out, _ = run_cli(["plot", "cone", cone_dir, "--theory", th], capsys)
  assert rc == 0 and os.path.isfile(os.path.join(cone_dir, "figures", "cone.png"))
  rc, out, _ = run_cli(["plot", "cone", cone_dir, "--theory", "--stat",
                        "one_minus_mean_cos"], capsys)
  assert rc == 0 and os.path.isdir(os.path.join(cone_dir, "theory"))
  np.testing.assert_allclose(results.load_run(os.path.join(cone_dir, "theory"))
                             .arrays["mean_cos"], run.arrays["mean_cos"])
  # a prediction for another setting is refused, with the differing fields named
  other = str(tmp_path / "other")
  run_cli(["theory", *args, "--depth", "2", "--out", other], capsys)
  rc, _, err = run_cli(["plot", "cone", cone_dir, "--theory", other], capsys)
  assert rc == 2 and "argument --theory" in err and "depth" in err
  assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv,flag", [
    (["--activations", "relu,maxout"], "--activations"),
    (["--pairs", "1"], "--pairs"), (["--order", "2"], "--order"),
    (["--depth", "0"], "--depth")])
def test_theory_bad_input(tmp_path, capsys, argv, flag):
  out = str(tmp_path / "th")
  rc, _, err = run_cli(["theory", *argv, "--out", out], capsys)
  assert rc == 2 and f"argument {flag}" in err and len(err.strip().splitlines()) == 1
  assert not os.path.exists(out)
