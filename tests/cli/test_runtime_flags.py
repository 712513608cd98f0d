"""The flags every command and every sweep takes: progress on stderr (lines
off a terminal, nothing with --quiet), --dry-run plans, --max-memory refusals,
the cache flags and the multi-process flags' checks."""
import os

import jax
import pytest

from clihelp import run_cli

TINY = ["cone", "--depth", "2", "--width", "8", "--input-dim", "4", "--n-samples", "6",
        "--seeds", "3", "--seed-chunk", "2"]


def test_progress_goes_to_stderr_one_line_per_stage_and_quiet_silences_it(tmp_path, capsys):
  rc, out, err = run_cli(TINY + ["--out", str(tmp_path / "a")], capsys)
  assert rc == 0 and out == f"wrote {tmp_path / 'a'}\n"  # results on stdout only
  # off a terminal: one line per finished stage (compiling is its own stage)
  lines = err.splitlines()
  assert lines[-1].startswith("cone sweep, width 8: 2/2 chunks in ")
  assert all("compile cone program" in ln for ln in lines[:-1]) and len(lines) <= 2
  rc, out, err = run_cli(TINY + ["--out", str(tmp_path / "b"), "--quiet"], capsys)
  assert rc == 0 and err == ""


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
  out = str(tmp_path / "plan")
  rc, text, err = run_cli(TINY + ["--seeds", "10", "--dry-run", "--out", out], capsys)
  assert rc == 0 and os.listdir(tmp_path) == []  # no run, no OUT.partial
  n = len(jax.devices())
  # 2 seeds per device and call: ceil(10 / (2 n)) chunks
  assert f"chunk: {2 * n} seeds per compiled call" in text
  assert f"{-(-10 // (2 * n))} chunks" in text and "estimated peak memory" in text
  rc, text, _ = run_cli(["train", "--tiny", "--dry-run", "--out", out], capsys)
  assert rc == 0 and "training sweep:" in text and "runs per compiled call" in text
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("argv, flag, says", [
    (TINY + ["--max-memory", "1K"], "--max-memory", "expected room for one seed"),
    (TINY + ["--max-memory", "lots"], "--max-memory", "expected a size such as 8G"),
    (TINY + ["--coordinator", "localhost:1"], "--num-processes", "together"),
    (TINY + ["--coordinator", "nohost", "--num-processes", "2", "--process-id", "0"],
     "--coordinator", "expected HOST:PORT"),
    (["train", "--tiny", "--max-memory", "1K"], "--max-memory", "expected room for one run"),
    (["run", "gap_at_init", "--tiny", "--resume"], "--resume",
     "expected an experiment that takes it"),
])
def test_bad_scale_flags_are_one_line_errors(tmp_path, capsys, argv, flag, says):
  out = str(tmp_path / "x")
  rc, _, err = run_cli(argv + ["--out", out], capsys)
  assert rc == 2 and err.count("\n") == 1 and f"argument {flag}:" in err and says in err
  assert os.listdir(tmp_path) == []  # nothing written, OUT.partial included


def test_a_bad_cache_dir_is_refused(tmp_path, capsys):
  f = tmp_path / "file"
  f.write_text("")
  rc, _, err = run_cli(TINY + ["--cache-dir", str(f), "--out", str(tmp_path / "x")], capsys)
  assert rc == 2 and "argument --cache-dir:" in err and "writable directory" in err
