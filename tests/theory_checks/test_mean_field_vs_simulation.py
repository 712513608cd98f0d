"""The mean-field vs simulation check and the ``gaplab check`` command."""
import math
import os

import numpy as np
import pytest

from gaplab.harness import checks
from gaplab.theory_checks import mean_field_vs_simulation as mfc
from clihelp import run_cli




@pytest.mark.slow
def test_tiny_main_passes_and_claims_come_from_saved_data(tmp_path, capsys):
  out = str(tmp_path / "mf")
  assert mfc.main(["--tiny", "--out", out]) == 0
  stdout = capsys.readouterr().out
  assert "| mean_field_vs_simulation |" in stdout and "FAIL" not in stdout
  assert os.path.isfile(os.path.join(out, "figures", "mean_field_vs_simulation.png"))
  run = checks.load(out, mfc.NAME)
  saved = [checks.Claim(**c) for c in run.meta["claims"]]
  assert saved == mfc.claims(out)
  # the prediction at layer 0 is the inputs' own mean cosine: exact
  m0 = run.arrays["measured_omc"][:, :, :, 0]
  p0 = np.broadcast_to(run.arrays["predicted_omc"][None, :, None, 0], m0.shape)
  np.testing.assert_allclose(m0, p0, rtol=1e-12)


def synthetic(scale, bias=0.0, seeds=40, widths=(64, 256, 1024, 4096), rng=None):
  """Measured = predicted + bias + N(0, (0.3 / sqrt(width))^2) per seed."""
  rng = rng or np.random.default_rng(0)
  widths = np.asarray(widths)
  pred = np.tile(np.linspace(0.9, 0.1, 6), (2, 1))  # (activation, layer)
  noise = rng.standard_normal((len(widths), 2, seeds, 6))
  measured = pred[None, :, None] + bias + scale * noise / np.sqrt(widths)[:, None, None, None]
  return {"width": widths, "measured_omc": measured, "predicted_omc": pred,
          "predicted_se": np.zeros_like(pred)}


def test_analysis_recovers_the_fluctuation_rate_and_flags_a_bias():
  cfg = dict(mfc.PRESET, activations=["a", "b"], widths=[64, 256, 1024, 4096], seeds=40)
  s = mfc.analyse(synthetic(0.3), cfg)
  for f in s["slopes"]:
    # RMS over 40 seeds x 5 layers: ~5% relative noise per point, so the
    # slope is within about 0.05 of -1/2
    assert f.slope == pytest.approx(-0.5, abs=0.06)
  assert all(c.passed for c in mfc._claims(s, cfg)[:2])
  # the simultaneous 95% band holds for 95% of pure-noise draws: of 400, the
  # pass count is binomial with sd 4.4, so [368, 392] is +-2.7 sd
  passed = sum(mfc._claims(mfc.analyse(synthetic(0.3, rng=np.random.default_rng(k)),
                                       cfg), cfg)[-1].passed for k in range(400))
  assert 368 <= passed <= 392
  # a bias of 10 seed-standard-errors at the largest width breaks the band
  se = 0.3 / math.sqrt(4096) / math.sqrt(40)
  s = mfc.analyse(synthetic(0.3, bias=10 * se), cfg)
  band = mfc._claims(s, cfg)[-1]
  assert not band.passed and "width 4096" in band.name
  # deviations that do not shrink with width fail the rate claim
  flat = synthetic(0.3)
  flat["measured_omc"] = flat["predicted_omc"][None, :, None] + 0.01 * np.random.default_rng(
      1).standard_normal(flat["measured_omc"].shape)
  s = mfc.analyse(flat, cfg)
  assert not any(c.passed for c in mfc._claims(s, cfg)[:2])


def test_bad_override_is_one_line_and_writes_nothing(tmp_path, capsys):
  out = str(tmp_path / "mf")
  assert mfc.main(["--tiny", "--out", out, "--set", "widths=[16,32]"]) == 2
  err = capsys.readouterr().err
  assert "argument --set widths: expected at least 3 widths" in err
  assert len(err.strip().splitlines()) == 1 and not os.path.exists(out)
  assert mfc.main(["--tiny", "--out", out, "--set", "width=64"]) == 2
  assert "unknown key" in capsys.readouterr().err


def test_check_command(tmp_path, capsys):
  out = str(tmp_path / "checks")
  rc, stdout, _ = run_cli(["check", "theorem2_variance", "--tiny", "--out", out], capsys)
  assert rc == 0 and "| theorem2_variance |" in stdout and "claims hold" in stdout
  before = os.path.getmtime(os.path.join(out, "theorem2_variance", "config.json"))
  rc, _, err = run_cli(["check", "theorem2_variance", "--tiny", "--out", out], capsys)
  assert rc == 2 and "argument --out" in err and "--overwrite" in err
  assert os.path.getmtime(os.path.join(out, "theorem2_variance", "config.json")) == before
  rc, _, err = run_cli(["check", "theorem3", "--tiny", "--out", out], capsys)
  assert rc == 2 and "argument NAME" in err and "theorem3" in err
