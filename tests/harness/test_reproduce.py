"""`gaplab reproduce` and the experiment files, at tiny sizes."""
import os

import pytest

from gaplab.cli import registry
from gaplab.harness import reproduce
from gaplab.io import results
from gaplab._errors import ConfigError
from gaplab.simulations import cone_depth


def test_every_registered_experiment_and_check_is_complete():
  # each one's own test runs it at tiny size; here: the interface reproduce uses
  for name, mod in registry.everything().items():
    assert mod.NAME == name and mod.TITLE
    for fn in ("run", "figures", "report"):
      assert callable(getattr(mod, fn))
    reproduce._validate(mod, "tiny")


@pytest.mark.slow
def test_reproduce_writes_data_figures_and_report(tmp_path):
  # one experiment and one theory check (every registered one has its own
  # tiny test; running them all here again would double the suite's time)
  out = str(tmp_path / "figs")
  reproduce.main(registry.everything(), out=out, size="tiny", only=["cone_depth", "theorem2_variance"])
  report = open(os.path.join(out, "REPORT.md")).read()
  assert "| theorem2_variance |" in report and "FAIL" not in report
  for ext in ("png", "pdf"):
    assert os.path.isfile(os.path.join(out, f"cone_depth.{ext}"))
  report = open(os.path.join(out, "REPORT.md")).read()
  assert "| relu | 1 | 0.319 (nb) |" in report
  run = results.load_run(os.path.join(out, "data", "cone_depth"))
  assert run.meta["config"]["activations"] == cone_depth.PRESET["activations"]
  # a second run refuses to replace anything, before doing any work
  before = open(os.path.join(out, "REPORT.md")).read()
  with pytest.raises(ConfigError, match="--overwrite"):
    reproduce.main(registry.everything(), out=out, size="tiny", only=["cone_depth"])
  assert open(os.path.join(out, "REPORT.md")).read() == before
  with pytest.raises(ConfigError, match="expected experiment names"):
    reproduce.main(registry.everything(), out=out, size="tiny", only=["fig9"], overwrite=True)
  # --resume keeps the finished runs (nothing is run again) and redraws the figures
  os.remove(os.path.join(out, "cone_depth.png"))
  with pytest.MonkeyPatch.context() as mp:
    for n in ("cone_depth", "theorem2_variance"):
      mp.setattr(registry.everything()[n], "run", lambda *a, **k: pytest.fail("ran again"))
    reproduce.main(registry.everything(), out=out, size="tiny",
                   only=["cone_depth", "theorem2_variance"], resume=True)
  assert os.path.isfile(os.path.join(out, "cone_depth.png"))
  assert open(os.path.join(out, "REPORT.md")).read() == before


def test_preset_is_the_papers_fig2b():
  cfg = cone_depth.config("full")
  assert (cfg.n_samples, cfg.input_dim, cfg.widths, cfg.depth) == (1024, 512, (512,), 25)
  assert cfg.sigma_w == (1.0,) and cfg.sigma_b == pytest.approx((512 ** -0.5,), rel=1e-15)
  assert set(cfg.activations) == {"linear", "relu", "leaky_relu", "sigmoid", "tanh",
                                  "gelu", "elu"}
  assert cfg.seeds == 10


def test_experiment_file_rejects_unknown_keys(capsys, tmp_path):
  rc = cone_depth.main(["--tiny", "--out", str(tmp_path / "o"), "--set", "dept=3"])
  err = capsys.readouterr().err
  assert rc == 2 and "argument --set dept: unknown key" in err
  assert not os.path.exists(tmp_path / "o")


def _stub(claims=None, fail=None):
  """A module with the runnable-file interface that computes nothing."""
  import types
  from gaplab.harness import checks
  m = types.ModuleType("stub", "A stub file.\n\nMore text.")
  m.NAME = "stub"

  def run(out, size, overwrite, **overrides):
    if fail:
      raise ConfigError(fail, "expected a good value, got a bad one")
    return f"{out}-{size}"
  m.run = run
  m.figures = lambda path, fig_dir: [fig_dir + "/a.png"]
  m.report = lambda path: f"## report of {path}"
  if claims is not None:
    m.claims = lambda path: [checks.Claim(f"c{i}", "1", "2", ok) for i, ok in enumerate(claims)]
  return m


@pytest.mark.parametrize("claims, rc", [([True, True], 0), ([True, False], 1)])
def test_check_main_prints_report_then_claims_and_exits_on_them(capsys, claims, rc):
  from gaplab.harness import checks
  assert checks.check_main(_stub(claims), ["--quick", "--out", "o"]) == rc
  out = capsys.readouterr().out.splitlines()
  assert out[:2] == ["wrote o-quick/figures/a.png", "## report of o-quick"]
  assert out[2:4] == ["| check | claim | measured | expected | result |", "|---|---|---|---|---|"]
  assert out[4:] == [f"| stub | c{i} | 1 | 2 | {'pass' if ok else 'FAIL'} |"
                     for i, ok in enumerate(claims)]


def test_experiment_main_prints_the_report(capsys):
  from gaplab.harness import experiment
  assert experiment.experiment_main(_stub(), ["--out", "o"]) == 0
  assert capsys.readouterr().out == "wrote o-full/figures/a.png\n## report of o-full\n"


@pytest.mark.parametrize("field, arg", [("out", "--out"), ("seeds", "--set seeds")])
def test_file_mains_name_the_bad_argument_in_one_line(capsys, field, arg):
  from gaplab.harness import checks, experiment
  for main, folder, mod in ((experiment.experiment_main, "simulations", _stub(fail=field)),
                            (checks.check_main, "theory_checks", _stub([True], fail=field))):
    assert main(mod, ["--tiny", "--out", "o"]) == 2
    io = capsys.readouterr()
    assert io.out == "" and io.err == (f"python {folder}/stub.py: error: argument {arg}: "
                                       "expected a good value, got a bad one\n")
