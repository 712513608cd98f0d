"""simulations/phase_diagram.py at its tiny size: the run, its figures and
report, the summary against its sub-runs, phases against the theory."""
import contextlib
import io
import math
import os

import numpy as np
import pytest

from gaplab.theory import phases, propagation
from gaplab.io import results
from gaplab._errors import ConfigError
from gaplab.simulations import phase_diagram as pd


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("pd") / "run")
  buf = io.StringIO()
  with contextlib.redirect_stdout(buf):
    rc = pd.main(["--tiny", "--out", out])
  return rc, out, buf.getvalue()


def _cell(run, act, sw2, sb2):
  c = run.meta["coords"]
  return (c["activation"].index(act), c["sigma_w2"].index(sw2),
          c["sigma_b2"].index(sb2))


@pytest.mark.slow
def test_main_writes_run_figures_and_report(tiny):
  rc, out, stdout = tiny
  assert rc == 0
  for ext in ("png", "pdf"):
    assert os.path.isfile(os.path.join(out, "figures", f"phase_diagram.{ext}"))
  for sub in ("cone", "theory"):
    assert results.load_run(os.path.join(out, sub)).meta["kind"] == sub
  assert pd.TITLE in stdout and "Is the cone effect general" in stdout
  rows = stdout.splitlines()
  for act in ("relu", "tanh"):  # one row in the agreement and the phase tables
    assert sum(r.startswith(f"| {act} |") for r in rows) == 2
  run = results.load_run(out)
  assert run.meta["kind"] == "phase_diagram"
  assert run.meta["config"] == pd.config("tiny").to_dict()
  # drawn again from the saved run alone
  figs = pd.figures(out, os.path.join(os.path.dirname(out), "again"))
  assert len(figs) == 2 and all(os.path.isfile(f) for f in figs)


def test_summary_equals_the_cone_and_theory_subruns(tiny):
  _, out, _ = tiny
  run = results.load_run(out)
  cone = results.load_run(os.path.join(out, "cone"))
  theory = results.load_run(os.path.join(out, "theory"))
  layers = run.meta["coords"]["layer"]
  assert layers == [3, 6]
  checked = 0
  for v, var in enumerate(cone.meta["variants"]):
    cell = _cell(run, var["activation"], round(var["sigma_w"] ** 2, 12),
                 round(var["sigma_b"] ** 2, 12))
    np.testing.assert_array_equal(run.arrays["measured_mean_cos_seeds"][cell],
                                  cone.arrays["mean_cos"][0, v][:, layers])
    seeds = cone.arrays["mean_cos"][0, v][:, layers].astype(np.float64)
    np.testing.assert_allclose(run.arrays["measured_mean_cos"][cell], seeds.mean(0),
                               rtol=1e-12)
    np.testing.assert_array_equal(run.arrays["predicted_mean_cos"][cell],
                                  theory.arrays["mean_cos"][0, v][layers])
    fp = theory.meta["variants"][v]["fixed_point"][0]
    assert run.arrays["chi1"][cell] == fp["chi1"]
    assert phases.PHASES[run.arrays["phase"][cell]] == fp["phase"]
    checked += 1
  assert checked == run.arrays["measured_mean_cos"][..., 0].size == 12


@pytest.mark.parametrize("act, sw2, sb2, phase, regime", [
    ("relu", 2.0, 0.0, "critical", "critical"),  # the edge of chaos
    ("relu", 1.0, 0.1, "ordered", "ordered"),  # chi_1 = 1/2
    ("relu", 4.0, 0.1, "critical", "critical"),  # chi_1 = 2, but q* = inf, c* = 1
    ("relu", 1.0, 0.0, "critical", "critical"),  # q* = 0: homogeneous, power law
    ("tanh", 4.0, 0.0, "chaotic", "chaotic"),  # c* = 0: the cone stays open
    ("tanh", 4.0, 0.1, "chaotic", "chaotic"),
    ("tanh", 1.0, 0.1, "ordered", "ordered"),
])
def test_phases_match_the_fixed_point(tiny, act, sw2, sb2, phase, regime):
  _, out, _ = tiny
  run = results.load_run(out)
  cell = _cell(run, act, sw2, sb2)
  fp = propagation.fixed_point(act, sw2, sb2)
  assert fp.phase == phase
  assert phases.PHASES[run.arrays["phase"][cell]] == phase
  assert phases.REGIMES[run.arrays["regime"][cell]] == regime
  assert run.arrays["chi1"][cell] == pytest.approx(fp.chi1, rel=1e-9)
  assert run.arrays["cos_star"][cell] == pytest.approx(fp.cos_star, abs=1e-9)
  if act == "relu":
    assert fp.chi1 == pytest.approx(sw2 / 2, rel=1e-9)


def test_measured_agrees_with_predicted_at_tiny_size(tiny):
  # width 64, 2 seeds: finite-width bias O(1/64) per layer and seed scatter;
  # checked values: max |diff| 0.024 (relu), 0.032 (tanh) at layer 6
  _, out, _ = tiny
  run = results.load_run(out)
  meas = run.arrays["measured_mean_cos"][..., 1]
  pred = run.arrays["predicted_mean_cos"][..., 1]
  half = (run.arrays["measured_hi"] - run.arrays["measured_lo"])[..., 1] / 2
  assert np.all(np.abs(meas - pred) <= 0.05 + half)
  regime = run.arrays["regime"]
  # chaotic tanh at sigma_w^2 = 4: the cone stays open; ordered: it closes
  assert meas[_cell(run, "tanh", 4.0, 0.0)] < 0.1
  assert meas[_cell(run, "tanh", 4.0, 0.1)] < 0.3
  assert meas[_cell(run, "relu", 1.0, 0.1)] > 0.9
  assert np.all(meas[regime == 2] < meas[regime == 0].min())
  # ReLU at sigma_b = 0: the cosine does not depend on sigma_w (homogeneity)
  col = meas[_cell(run, "relu", 1.0, 0.0)[0], :, 0]
  assert np.ptp(col) < 1e-5


def test_config_validates_and_rejects_unknown_keys(tmp_path, capsys):
  cfg = pd.config("full").validate()
  assert cfg.cone.sigma_w == tuple(math.sqrt(x) for x in pd.PRESET["sigma_w2"])
  assert cfg.cone.sigma_b[1] == pytest.approx(512 ** -0.5, rel=1e-15)
  assert "maxout" not in cfg.cone.activations
  for size in ("quick", "tiny"):
    pd.config(size).validate()
  with pytest.raises(ConfigError, match="unknown key"):
    pd.config("tiny", dept=3)
  with pytest.raises(ConfigError, match="sigma_w2"):
    pd.config("tiny", sigma_w=[1.0])
  with pytest.raises(ConfigError, match="increasing"):
    pd.config("tiny", sigma_b2=[0.1, 0.0])
  with pytest.raises(ConfigError, match="> 0"):
    pd.config("tiny", sigma_w2=[0, 1])
  with pytest.raises(ConfigError, match="one width"):
    pd.config("tiny", widths=[32, 64]).validate()
  with pytest.raises(ConfigError, match="mean-field"):
    pd.config("tiny", activations=["maxout"]).validate()
  with pytest.raises(ConfigError, match="order"):
    pd.config("tiny", order=2).validate()
  out = tmp_path / "o"
  rc = pd.main(["--tiny", "--out", str(out), "--set", "dept=3"])
  err = capsys.readouterr().err
  assert rc == 2 and "argument --set dept: unknown key" in err
  assert err.count("\n") == 1 and not os.path.exists(out)


def test_existing_run_is_refused_before_any_work(tiny, capsys):
  _, out, _ = tiny
  before = sorted(os.listdir(out))
  rc = pd.main(["--tiny", "--out", out])
  assert rc == 2 and "--overwrite" in capsys.readouterr().err
  assert sorted(os.listdir(out)) == before
  assert not [p for p in os.listdir(os.path.dirname(out)) if ".parts-" in p]
