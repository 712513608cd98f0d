"""gaplab.io.tables: the one Markdown table writer, and the harness's shared run start."""
import os

import numpy as np
import pytest

from gaplab._errors import ConfigError
from gaplab.harness import checks, experiment
from gaplab.io import tables
from gaplab.nets import inputs


def test_table_writes_header_rule_and_rows():
  text = tables.table(["a", "b c"], [(1, "x"), ("2.50", "|y|")])
  assert text == "| a | b c |\n|---|---|\n| 1 | x |\n| 2.50 | \\|y\\| |"
  assert tables.table(["only"], []) == "| only |\n|---|"
  # rows may be any iterable of sequences (a generator, lists, numpy scalars)
  rows = ([np.int64(k), f"{v:.3f}"] for k, v in enumerate(np.array([0.5, 1 / 3])))
  assert tables.table(["k", "v"], rows).splitlines()[2:] == ["| 0 | 0.500 |", "| 1 | 0.333 |"]


def test_table_alignment():
  assert tables.rule(3) == "|---|---|---|"
  assert tables.table(["a", "b", "c", "d"], [], align=["l", "c", "r", None]) == (
      "| a | b | c | d |\n|:---|:---:|---:|---|")
  assert tables.rule(3, "lrc") == "|:---|---:|:---:|"


@pytest.mark.parametrize("call, field", [
    (lambda: tables.table([], []), "header"),
    (lambda: tables.table(["a", "b"], [("1",)]), "rows"),
    (lambda: tables.table(["a", "b"], [("1", "2", "3")]), "rows"),
    (lambda: tables.table(["a"], [], align=["l", "r"]), "align"),
    (lambda: tables.table(["a"], [], align=["x"]), "align")])
def test_table_rejects_bad_shapes(call, field):
  with pytest.raises(ConfigError) as e:
    call()
  assert e.value.field == field


def test_claims_table_is_a_table():
  rows = [("t1", checks.Claim("slope", "-0.5", "in [-1, -1/2]", True)),
          ("t2", checks.Claim("band", "3 of 4", "all", False))]
  assert checks.table(rows) == (
      "| check | claim | measured | expected | result |\n|---|---|---|---|---|\n"
      "| t1 | slope | -0.5 | in [-1, -1/2] | pass |\n| t2 | band | 3 of 4 | all | FAIL |")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_shared_inputs_file_holds_the_shared_gaussian(dtype):
  cfg = {"input_seed": 7, "n_samples": 5, "input_dim": 3}
  want = inputs.shared_gaussian(7, 5, 3, dtype)
  with experiment.shared_inputs(cfg, dtype) as (x, path):
    assert x.dtype == np.float64 and np.array_equal(x, want)
    assert np.array_equal(np.load(path), want)
  assert not os.path.exists(path)  # the temporary file goes with the block


def test_start_refuses_an_existing_out_before_any_work(tmp_path):
  (tmp_path / "taken").mkdir()
  (tmp_path / "taken" / "f").write_text("x")
  with pytest.raises(ConfigError, match="--overwrite"):
    experiment.start({"dtype": "float32"}, str(tmp_path / "taken"), overwrite=False)

  class Module:
    PRESET = {"n": 2}
    SIZES = {"full": {}, "quick": {}, "tiny": {"n": 1}}

  def validate(cfg):
    if cfg["n"] < 2:
      raise ConfigError("n", f"expected n >= 2, got {cfg['n']!r}")

  assert checks.start(Module, str(tmp_path / "new"), "full", False, {}, validate) == {"n": 2}
  with pytest.raises(ConfigError) as e:  # a bad config is named before `out` is looked at
    checks.start(Module, str(tmp_path / "taken"), "tiny", False, {}, validate)
  assert e.value.field == "n"


def test_a_bar_inside_a_cell_is_escaped_once():
  text = tables.table(["|mean − pred|", "b"], [("E|h|²", r"kept \| as is")])
  assert text.splitlines()[0] == r"| \|mean − pred\| | b |"
  assert text.splitlines()[2] == r"| E\|h\|² | kept \| as is |"
  # the rendered row has as many unescaped column breaks as the header
  import re
  breaks = [len(re.findall(r"(?<!\\)\|", ln)) for ln in text.splitlines()]
  assert breaks == [3, 3, 3]
