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
