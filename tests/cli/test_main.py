"""The command line: help texts, one-line errors with exit status 2, and that
nothing already written is touched by a refused or failed command."""
import argparse
import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from gaplab.cli import main as cli
from gaplab.cli import options
from gaplab.cone.config import ConeConfig
from gaplab.io import results
from clihelp import run_cli

TINY = ["--activations", "relu,tanh", "--depth", "3", "--width", "8",
        "--input-dim", "5", "--n-samples", "12", "--seeds", "2", "--n-bins", "10"]


@pytest.mark.parametrize("argv", [[], ["cone"], ["plot", "cone"], ["reproduce"],
                                  ["bench", "cone"]])
def test_help_explains_defaults(argv, capsys):
  rc, out, _ = run_cli(argv + ["--help"], capsys)
  assert rc == 0
  assert "usage: gaplab" in out
  if argv and argv != ["plot"]:
    assert "default" in out


def test_defaults_formatter_shows_values_not_none_or_flags():
  p = argparse.ArgumentParser(formatter_class=options.Defaults)
  p.add_argument("--n", type=int, default=3, help="count")
  p.add_argument("--xs", type=options.listof(float, "numbers"),
                 default=options.spelt((0.1, 1 / 3)), help="values")
  p.add_argument("--out", default=None, help="folder (default: here)")
  p.add_argument("--force", action="store_true", help="replace (default: refuse)")
  text = " ".join(p.format_help().split())
  assert "count (default: 3)" in text
  assert f"values (default: 0.1,{1 / 3!r})" in text
  assert "folder (default: here) --force" in text and text.endswith("replace (default: refuse)")
  xs = p.parse_args([]).xs  # a string default is parsed with the option's type
  assert xs == (0.1, 1 / 3) and np.array(xs).tobytes() == np.array([0.1, 1 / 3]).tobytes()


@pytest.mark.parametrize("argv", [["cone"], ["theory"], ["plot", "cone"], ["check"],
                                  ["run"], ["landscape"], ["reproduce"], ["bench", "cone"],
                                  ["bench", "train"], ["train"], ["sphere"]])
def test_help_shows_no_placeholder_defaults(argv, capsys):
  rc, out, _ = run_cli(argv + ["--help"], capsys)
  assert rc == 0
  for word in ("None", "False", "True"):
    assert f"(default: {word})" not in " ".join(out.split())


def test_cone_defaults_are_the_config_defaults(capsys):
  p = cli.build_parser()
  assert options.config_from_args(p.parse_args(["cone"])) == ConeConfig()
  assert p.parse_args(["landscape"]).logit_scales == (100.0, 50.0, 30.0, 20.0, 10.0, 1.0)
  _, out, _ = run_cli(["cone", "--help"], capsys)
  out = " ".join(out.split())
  for text in ("(default: relu)", f"(default: {ConeConfig().sigma_b[0]!r})",
               "new run directory (default: runs/cone)", "(default: 512)"):
    assert text in out, text


def _npy(tmp_path, name, array):
  path = tmp_path / name
  np.save(path, array)
  return str(path)


def bad_inputs(tmp_path):
  nan = np.ones((4, 3))
  nan[1, 2] = np.nan
  return {
      "--depth": ["--depth", "0"],
      "--width": ["--width", "0"],
      "--activations": ["--activations", "relu,swish"],
      "--inits": ["--inits", "kaiming"],
      "--sigma-w": ["--sigma-w", "-1"],
      "--sigma-b": ["--sigma-b", "nan"],
      "--n-samples": ["--n-samples", "1"],
      "--seeds": ["--seeds", "0"],
      "--block": ["--block", "act-act"],
      "--inputs": ["--inputs", _npy(tmp_path, "three_d.npy", np.ones((2, 3, 4)))],
  }


def test_bad_values_give_one_line_naming_the_argument(tmp_path, capsys):
  for flag, argv in bad_inputs(tmp_path).items():
    rc, out, err = run_cli(["cone", "--out", str(tmp_path / "never")] + argv, capsys)
    assert rc == 2, flag
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("gaplab cone: error: argument " + flag), err
    assert "expected" in err or "invalid choice" in err, err
    assert not os.path.exists(tmp_path / "never")


@pytest.mark.parametrize("array,words", [
    (np.ones((1, 3)), "N >= 2"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
    (np.array([["a", "b"], ["c", "d"]]), "numeric"),
])
def test_bad_input_files(tmp_path, capsys, array, words):
  path = _npy(tmp_path, "x.npy", array)
  rc, _, err = run_cli(["cone", "--inputs", path, "--out", str(tmp_path / "o")], capsys)
  assert rc == 2 and "--inputs" in err and words in err and err.count("\n") == 1


def test_missing_file_and_wrong_suffix(tmp_path, capsys):
  for path in [str(tmp_path / "nope.npy"), str(tmp_path / "x.csv")]:
    rc, _, err = run_cli(["cone", "--inputs", path, "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "--inputs" in err and path in err


def test_existing_run_is_refused_and_kept(tmp_path, capsys):
  out = tmp_path / "run"
  out.mkdir()
  (out / "precious.txt").write_text("keep me")
  rc, _, err = run_cli(["cone", "--out", str(out)] + TINY, capsys)
  assert rc == 2 and "--out" in err and "--overwrite" in err
  # bad input with --overwrite is refused before the directory is touched
  rc, _, err = run_cli(["cone", "--out", str(out), "--overwrite", "--depth", "0"], capsys)
  assert rc == 2
  assert (out / "precious.txt").read_text() == "keep me"
  assert sorted(os.listdir(tmp_path)) == ["run"]  # no temp dirs left behind


def test_cone_run_plot_and_round_trip(tmp_path, capsys):
  out = str(tmp_path / "run")
  rc, stdout, err = run_cli(["cone", "--out", out] + TINY, capsys)
  assert rc == 0, err
  assert sorted(os.listdir(out)) == ["arrays.npz", "config.json", "results.csv"]
  run = results.load_run(out)
  meta = run.meta
  assert meta["config"]["depth"] == 3 and meta["config"]["widths"] == [8]
  prov = meta["provenance"]
  for key in ("gaplab", "jax", "jaxlib", "numpy", "device", "matmul_precision",
              "dtype", "x64", "git", "created"):
    assert key in prov
  assert meta["resolved"]["seeds"]["indices"] == [0, 1]
  for name, axes in meta["axes"].items():
    assert run.arrays[name].ndim == len(axes)
    assert run.arrays[name].shape[:4] == (1, 2, 2, 4)  # width, variant, seed, layer
  with open(os.path.join(out, "results.csv")) as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 1 * 2 * 2 * 4
  # the tidy table carries the same numbers as the arrays
  r = rows[-1]
  assert r["activation"] == "tanh" and r["seed"] == "1" and r["layer"] == "3"
  assert float(r["mean_cos"]) == run.arrays["mean_cos"][0, 1, 1, 3]
  # overwrite replaces the run
  rc, _, _ = run_cli(["cone", "--out", out, "--overwrite", "--seed", "7"] + TINY, capsys)
  assert rc == 0
  assert results.load_run(out).meta["config"]["seed"] == 7
  rc, stdout, _ = run_cli(["plot", "cone", out, "--stat", "mean_cos_diag"], capsys)
  assert rc == 0
  for ext in ("png", "pdf"):
    assert os.path.getsize(os.path.join(out, "figures", f"cone.{ext}")) > 1000


def test_plot_of_a_missing_run(tmp_path, capsys):
  rc, _, err = run_cli(["plot", "cone", str(tmp_path)], capsys)
  assert rc == 2 and err.startswith("gaplab plot: error: argument RUN: expected a run")


def test_console_script_has_no_traceback(tmp_path):
  """The real entry point, in a fresh process."""
  p = subprocess.run([sys.executable, "-m", "gaplab", "cone", "--depth", "-3",
                      "--out", str(tmp_path / "o")], capture_output=True, text=True)
  assert p.returncode == 2
  assert p.stderr == ("gaplab cone: error: argument --depth: expected an integer "
                      ">= 1, got -3\n")


@pytest.mark.parametrize("argv,flag", [(["--repeats", "0"], "--repeats"),
                                       (["--reference-seeds", "11"], "--reference-seeds")])
def test_bench_arguments_are_checked_before_timing(argv, flag, capsys):
  rc, _, err = run_cli(["bench", "cone"] + argv, capsys)
  assert rc == 2 and err.startswith(f"gaplab bench: error: argument {flag}: expected")


def test_bench_refuses_to_overwrite_its_output(tmp_path, capsys):
  out = tmp_path / "bench.json"
  out.write_text("earlier results")
  rc, _, err = run_cli(["bench", "cone", "--out", str(out)], capsys)
  assert rc == 2 and "--out" in err and out.read_text() == "earlier results"
