"""The training experiments at tiny size, their command line and the benchmark."""
import json
import os

import numpy as np
import pytest

from clihelp import run_cli
from gaplab.bench import train as bench_train
from gaplab.io import results
from gaplab.training import store as train_store
from gaplab.simulations import init_vs_optimisation as ivo
from gaplab.simulations import interventions as iv


@pytest.mark.slow
def test_gaplab_train_flags_reach_the_preset(tmp_path, capsys):
  out = str(tmp_path / "t")
  rc, stdout, _ = run_cli(["train", "--tiny", "--out", out, "--taus", "1,0.1", "--swap", "0.25",
                           "--mismatch", "0.1"], capsys)
  assert rc == 0 and "| 0.1 | tau=0.1 |" in stdout
  run = results.load_run(out)
  assert run.meta["config"]["taus"] == [1.0, 0.1] and run.meta["config"]["swap"] == 0.25
  np.testing.assert_allclose(run.arrays["hp_swap"], 0.25)
  assert run.arrays["eval_gap"].shape[:2] == (1, 1)  # one share setting, one mismatch level


@pytest.mark.parametrize("argv, msg", [
    (["--taus", "1,-0.1"], "argument --taus: expected temperatures > 0"),
    (["--taus", "1,x"], "argument --taus: expected comma-separated numbers"),
    (["--schedule", "linear:1"], "argument --schedule: expected MODE:START:END"),
    (["--image-encoder", "cnn"], "argument --image-encoder: expected one of mlp"),
    (["--set", "tau=1"], "argument --set tau: unknown key"),
    (["--mismatch", "2"], "argument --mismatch: expected fractions in [0, 1]")])
def test_gaplab_train_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, msg):
  out = str(tmp_path / "t")
  rc, _, err = run_cli(["train", "--tiny", "--out", out, *argv], capsys)
  assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1
  assert not os.path.exists(out)


@pytest.mark.slow
def test_procrustes_amendment_run_reports_both_models(tmp_path, capsys):
  out = str(tmp_path / "ivo")
  assert ivo.main(["--tiny", "--out", out]) == 0
  assert "| 0.2 | amended (Procrustes at init) |" in capsys.readouterr().out
  run = results.load_run(out)
  g0 = train_store.summary(run, point=0)[0, 0, :, 0]  # plain, amended at init
  assert g0[1] < 0.5 * g0[0]  # the amendment closes most of the gap at init
  rot = run.arrays["rotation"][0, 0]  # (run, D, D): identity for plain runs
  plain = np.array(run.meta["coords"]["run"]["variant"]) == 0
  np.testing.assert_allclose(rot[plain], np.broadcast_to(np.eye(rot.shape[-1]), rot[plain].shape))


@pytest.mark.slow
def test_interventions_share_seeds_and_sharing_is_its_own_setting(tmp_path, capsys):
  out = str(tmp_path / "iv")
  assert iv.main(["--tiny", "--out", out]) == 0
  text = capsys.readouterr().out
  assert "| shared | 0.2 | modality swap 0.5 |" in text
  run = results.load_run(out)
  g = run.arrays["eval_gap"]  # (share, mismatch, run, point)
  assert g.shape[:2] == (2, 1) and run.meta["shares"] == ["none", "all"]
  # same seed -> same towers at init for every intervention (step-0 gap equal)
  by = train_store.by_variant(run, "eval_gap")[:, :, 0]  # (variant, seed)
  np.testing.assert_allclose(by, np.broadcast_to(by[0], by.shape), rtol=1e-6)
  hp = run.arrays
  assert set(np.unique(hp["hp_tau_mode"])) == {0, 1, 2}
  assert hp["hp_swap"].max() == 0.5 and hp["hp_w_unif"].max() == 1.0


@pytest.mark.slow
def test_bench_train_tiny_writes_a_complete_report(tmp_path, capsys):
  out = tmp_path / "b.json"
  report = bench_train.run("tiny", repeats=1, out=str(out))
  assert json.loads(out.read_text()) == json.loads(json.dumps(report))
  row = report["rows"][0]
  assert row["runs"] == 8 and set(row["warm_s"]) == set(row["run_steps_per_s"])
  # the three ways train the same runs: the same numbers (float32 summation order)
  for v in row["max_abs_gap_difference"].values():
    assert v < 1e-4
  assert "run-steps/s" in capsys.readouterr().out
  with pytest.raises(Exception, match="expected a new file"):
    bench_train.run("tiny", out=str(out))


@pytest.mark.slow
def test_one_temperature_reports_no_trend(tmp_path, capsys):
  from gaplab.simulations import two_tower_training as tt
  out = str(tmp_path / "tt")
  assert tt.main(["--tiny", "--out", out, "--set", "taus=[0.01]", "learnable=false"]) == 0
  report = tt.report(out)
  assert "one fixed temperature, so no trend over tau" in report
  assert "nan" not in report and "does NOT fall" not in report
