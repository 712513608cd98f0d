"""Progress reporting (gaplab.runtime.progress): the exact lines off a terminal,
nothing when silent, the reporter a command picks, and a live bar on a real
pseudo-terminal but not in a pipe."""
import io
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

from gaplab.runtime import progress


def _clock(*times):
  """A clock that reads ``times`` in turn (one read per stage start and end)."""
  it = iter(times)
  return lambda: next(it)


class _Tty(io.StringIO):
  """A stream that says it is a terminal."""

  def isatty(self):
    return True


def test_lines_exact_nested_and_described():
  out = io.StringIO()
  r = progress.LineReporter(out, clock=_clock(0.0, 1.0, 3.1, 3.1, 15.4, 20.0, 22.0, 125.0))
  with r.stage("reproduce", total=2, unit="experiments") as outer:
    outer.describe("experiment 1/2: cone")  # the live label; the line names the stage
    with r.stage("compile cone program"):
      pass
    with r.stage("cone sweep, width 512", total=5) as sweep:
      for _ in range(5):
        sweep.advance()
    outer.advance()
    with r.stage("files", unit="files") as files:  # counted, no total
      files.advance(4)
    outer.advance()
  # 2.1 s; 5 / 12.3 s = 0.4065/s; 4 / 2 s; 2 / 125 s = 0.016/s, 125 s = 2 min 05 s
  assert out.getvalue() == (
      "  compile cone program: 2.1 s\n"
      "  cone sweep, width 512: 5/5 chunks in 12.3 s (0.41 chunks/s)\n"
      "  files: 4 files in 2.0 s (2.00 files/s)\n"
      "reproduce: 2/2 experiments in 2 min 05 s (0.016 experiments/s)\n")


def test_lines_exception_prints_nothing_and_restores_depth():
  out = io.StringIO()
  # a stopped stage reads no end time: outer and inner start, after starts and ends
  r = progress.LineReporter(out, clock=_clock(0.0, 1.0, 3.0, 4.5))
  with pytest.raises(KeyError):
    with r.stage("outer", total=3):
      with r.stage("inner", total=3) as inner:
        inner.advance()
        raise KeyError("boom")
  assert out.getvalue() == ""
  with r.stage("after", total=3) as after:  # depth 0 again: no indent
    after.advance(0)
  assert out.getvalue() == "after: 0/3 chunks in 1.5 s\n"


def test_summary_duration_rate():
  assert progress.summary("x", 0, None, "chunks", 0.04) == "x: 0.0 s"
  assert progress.summary("x", 3, 3, "runs", 0.0) == "x: 3/3 runs in 0.0 s"
  assert [progress.duration(s) for s in (59.9, 60.0, 3599.0, 3725.0)] == [
      "59.9 s", "1 min 00 s", "59 min 59 s", "1 h 02 min"]
  assert [progress.rate(x) for x in (0.0033, 0.406, 2.5, 12.34, 1234.5)] == [
      "0.0033", "0.41", "2.50", "12.3", "1234"]


def test_silent_prints_nothing_and_is_current_by_default(capsys):
  assert progress.current() is progress.SILENT
  with progress.SILENT.stage("anything", total=3) as s:
    s.advance()
    s.describe("label")
    with progress.SILENT.stage("nested"):
      pass
  assert capsys.readouterr() == ("", "")


def test_use_sets_and_restores_current():
  a, b = progress.lines(io.StringIO()), progress.lines(io.StringIO())
  with progress.use(a):
    assert progress.current() is a
    with pytest.raises(RuntimeError):
      with progress.use(b):
        assert progress.current() is b
        raise RuntimeError
    assert progress.current() is a
  assert progress.current() is progress.SILENT
  with pytest.raises(TypeError):
    with progress.use(object()):
      pass


def test_for_stream_choices(capsys):
  assert progress.for_stream(quiet=True, stream=_Tty()) is progress.SILENT
  assert isinstance(progress.for_stream(stream=io.StringIO()), progress.LineReporter)
  assert isinstance(progress.for_stream(stream=_Tty()), progress.BarReporter)
  closed = io.StringIO()
  closed.close()  # isatty raises ValueError: not a terminal
  assert isinstance(progress.for_stream(stream=closed), progress.LineReporter)
  r = progress.for_stream()  # pytest's captured stderr is no terminal
  assert isinstance(r, progress.LineReporter)
  with r.stage("done", total=1) as s:
    s.advance()
  out, err = capsys.readouterr()
  assert out == "" and re.fullmatch(r"done: 1/1 chunks in \d+\.\d s( \(\S+ chunks/s\))?\n", err)


def test_bar_on_a_fake_terminal_renders_with_escapes():
  tty = _Tty()
  r = progress.for_stream(stream=tty)
  with r.stage("outer", total=1, unit="runs") as outer:
    outer.describe("run 1/1: many")
    with r.stage("many", total=10000) as many:
      for _ in range(10000):  # advances in a tight loop: rich throttles the redraws
        many.advance()
    outer.advance()
  many.advance()  # a closed stage is a no-op
  with r.stage("compile"):  # a second outermost stage: a new display
    pass
  text = tty.getvalue()
  assert "\x1b[" in text  # rendered as a terminal
  # the outermost stages' last state stays on screen, with the described label
  assert "run 1/1: many" in text and "1/1 runs" in text and "compile" in text
  with pytest.raises(ValueError):
    with r.stage("failing", total=2):
      raise ValueError
  with r.stage("after", total=2) as after:  # the display was stopped: a fresh one
    after.advance(2)
  assert "2/2 chunks" in tty.getvalue()


SNIPPET = r"""
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("progress_under_test", sys.argv[1])
progress = importlib.util.module_from_spec(spec)
spec.loader.exec_module(progress)  # loaded by path: no gaplab package, no jax
reporter = progress.for_stream()
with reporter.stage("demo", total=1, unit="runs") as outer:
  print("result", flush=True)  # stdout while the display is live stays stdout
  with reporter.stage("demo sweep", total=3) as inner:
    for _ in range(3):
      time.sleep(0.1)
      inner.advance()
    time.sleep(0.3)  # rich redraws (10 per second) the finished inner stage
  outer.advance()
print("rich imported:", "rich" in sys.modules)
"""


def _env():
  env = {k: v for k, v in os.environ.items()
         if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
  env.update(TERM="xterm", COLUMNS="100", PYTHONIOENCODING="utf-8")
  return env


def _run_on_pty():
  """(stdout, what the pseudo-terminal on stderr received) of the snippet."""
  master, slave = pty.openpty()
  proc = subprocess.Popen([sys.executable, "-c", SNIPPET, progress.__file__], env=_env(),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
  os.close(slave)
  chunks, deadline = [], time.monotonic() + 20
  try:
    while time.monotonic() < deadline:
      if select.select([master], [], [], 0.5)[0]:
        try:
          data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
          break
        if not data:
          break
        chunks.append(data)
      elif proc.poll() is not None:
        break
  finally:
    os.close(master)
  out = proc.communicate(timeout=10)[0]
  return out, b"".join(chunks)


def test_progress_bar_on_a_pty_and_lines_in_a_pipe():
  out, tty = _run_on_pty()
  assert out == b"result\nrich imported: True\n"  # nothing but results on stdout
  assert b"\x1b[" in tty  # cursor control: a live display
  assert b"demo sweep" in tty and b"3/3 chunks" in tty and b"/s" in tty
  assert b"1/1 runs" in tty

  piped = subprocess.run([sys.executable, "-c", SNIPPET, progress.__file__], env=_env(),
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
  assert piped.stdout == b"result\nrich imported: False\n"  # no bar, no rich
  err = piped.stderr.decode()
  assert "\x1b" not in err
  assert re.fullmatch(r"  demo sweep: 3/3 chunks in \d+\.\d s \(\S+ chunks/s\)\n"
                      r"demo: 1/1 runs in \d+\.\d s \(\S+ runs/s\)\n", err), err
