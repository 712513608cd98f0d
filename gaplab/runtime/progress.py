"""Progress of a run on stderr: stages with a count of units done, a rate and an
ETA.

A ``Reporter`` opens stages (``with reporter.stage("cone sweep, width 512",
total=5) as s: ... s.advance()``); stages nest. There are three reporters:

- ``SILENT`` (the base ``Reporter``) does nothing; it is what the library sees
  unless a command installs another one with ``use`` (``current()``);
- ``bar()``: one live rich progress display, shared by the nested stages of the
  reporter (description, bar, M/N unit, rate, elapsed, ETA; a stage without a
  total is a spinner with its elapsed time);
- ``lines()``: no bar, one line per finished stage, indented by its depth, e.g.
  ``cone sweep, width 512: 5/5 chunks in 12.3 s (0.41 chunks/s)``.

``for_stream`` picks one the way a command does: nothing with ``--quiet``, the
bar on a terminal, lines elsewhere (a pipe, a log file). Progress goes to the
stream given (default ``sys.stderr``), never to stdout, where results go.

rich is imported only by ``bar()``: the silent and line reporters cost a few
attribute look-ups per call. The reporter in effect lives in a context variable:
a new thread starts with ``SILENT``.
"""
from __future__ import annotations

import contextlib
import contextvars
import sys
import time

__all__ = ["Stage", "Reporter", "LineReporter", "BarReporter", "SILENT", "bar", "lines",
           "for_stream", "current", "use", "duration", "rate", "summary"]


class Stage:
  """One stage of a run as its code sees it; this base stage records nothing
  (the silent reporter's)."""

  def advance(self, n: int = 1) -> None:
    """``n`` more units done."""

  def describe(self, text: str) -> None:
    """Show ``text`` as the stage's label from now on (the live display only:
    a finished stage's line names the stage)."""


_NOTHING = contextlib.nullcontext(Stage())  # reusable: enter returns the same stage


class Reporter:
  """Where stages are reported; this base reporter is silent (``SILENT``)."""

  def stage(self, name: str, total: int | None = None, unit: str = "chunks"):
    """A context manager around one stage of ``total`` ``unit`` (None: not
    known, shown as a spinner with the elapsed time); it yields the ``Stage``
    to advance. Stages of one reporter nest; an exception propagates."""
    return _NOTHING


SILENT = Reporter()


def duration(seconds: float) -> str:
  """``seconds`` as a reader wants them: ``2.1 s``, ``2 min 05 s``, ``1 h 02 min``."""
  if seconds < 59.95:
    return f"{seconds:.1f} s"
  minutes, secs = divmod(int(round(seconds)), 60)
  if minutes < 60:
    return f"{minutes} min {secs:02d} s"
  hours, minutes = divmod(minutes, 60)
  return f"{hours} h {minutes:02d} min"


def rate(per_second: float) -> str:
  """A rate to two or three significant digits: ``0.41``, ``2.50``, ``12.5``, ``130``."""
  if per_second < 1:
    return f"{per_second:.2g}"
  if per_second < 10:
    return f"{per_second:.2f}"
  if per_second < 100:
    return f"{per_second:.1f}"
  return f"{per_second:.0f}"


def summary(name: str, done: int, total: int | None, unit: str, seconds: float) -> str:
  """The line of a finished stage: its time alone when it counted nothing and
  had no total (``compile cone program: 2.1 s``), else the count, the time and
  the mean rate (``cone sweep, width 512: 5/5 chunks in 12.3 s (0.41 chunks/s)``)."""
  took = duration(seconds)
  if total is None and not done:
    return f"{name}: {took}"
  count = f"{done}/{total}" if total is not None else f"{done}"
  line = f"{name}: {count} {unit} in {took}"
  if done and seconds > 0:
    line += f" ({rate(done / seconds)} {unit}/s)"
  return line


def _isatty(stream) -> bool:
  """Whether ``stream`` is a terminal; False for a closed stream or one
  without ``isatty``."""
  isatty = getattr(stream, "isatty", None)
  try:
    return bool(isatty is not None and isatty())
  except (ValueError, OSError):
    return False


class _Counted(Stage):
  """A stage that counts its units (the line reporter's)."""

  def __init__(self):
    self.done = 0

  def advance(self, n: int = 1) -> None:
    self.done += n


class LineReporter(Reporter):
  """One line per finished stage (``summary``), indented two spaces per
  depth, flushed; a stage that ends by an exception prints nothing.

  ``stream`` None writes to whatever ``sys.stderr`` is when a line is written;
  ``clock`` (seconds) is there for tests.
  """

  def __init__(self, stream=None, clock=time.perf_counter):
    self._stream = stream
    self._clock = clock
    self._depth = 0

  @contextlib.contextmanager
  def stage(self, name: str, total: int | None = None, unit: str = "chunks"):
    counted, depth, start = _Counted(), self._depth, self._clock()
    self._depth = depth + 1
    try:
      yield counted
    finally:
      self._depth = depth
    # not reached when the body raised: a stopped stage prints nothing
    self._write("  " * depth + summary(name, counted.done, total, unit, self._clock() - start))

  def _write(self, line: str) -> None:
    stream = sys.stderr if self._stream is None else self._stream
    stream.write(line + "\n")
    stream.flush()


class _Live(Stage):
  """A stage shown as one task of a rich progress display; a no-op once its
  stage has closed."""

  def __init__(self, progress, task, indent: str):
    self._progress, self._task, self._indent = progress, task, indent

  def advance(self, n: int = 1) -> None:
    if self._task is not None:
      self._progress.advance(self._task, n)

  def describe(self, text: str) -> None:
    if self._task is not None:
      self._progress.update(self._task, description=self._indent + text)

  def close(self) -> None:
    self._task = None


class BarReporter(Reporter):
  """A live rich progress display on ``stream`` (None: ``sys.stderr``).

  The first stage opened starts one ``rich.progress.Progress``; nested stages
  add their tasks to it, indented by depth, and are removed when they finish;
  the display stops, leaving the outermost stage's last state on screen, when
  the outermost stage closes. rich treats the stream as a terminal when it is
  one and throttles the redraws (``refresh_per_second``); stdout and stderr
  are not redirected.
  """

  def __init__(self, stream=None, refresh_per_second: float = 10.0):
    from rich.console import Console
    tty = _isatty(sys.stderr if stream is None else stream)
    self._console = Console(file=stream, stderr=True, force_terminal=True if tty else None)
    self._refresh = refresh_per_second
    self._progress = None
    self._depth = 0

  @contextlib.contextmanager
  def stage(self, name: str, total: int | None = None, unit: str = "chunks"):
    if self._progress is None:
      self._progress = _progress(self._console, self._refresh)
      self._progress.start()
    progress, depth = self._progress, self._depth
    indent = "  " * depth
    task = progress.add_task(indent + name, total=total, unit=unit,
                             known=total is not None, count=None)
    live = _Live(progress, task, indent)
    self._depth = depth + 1
    try:
      yield live
    finally:
      live.close()
      self._depth = depth
      _finish(progress, task)
      if depth == 0:
        self._progress = None
        progress.stop()
      else:
        progress.remove_task(task)


def _finish(progress, task) -> None:
  """Freeze a task's elapsed time; a task without a total gets one (what it
  counted, at least 1) so that its bar and spinner show it finished."""
  progress.stop_task(task)
  (t,) = [t for t in progress.tasks if t.id == task]
  if not t.fields["known"]:
    done = t.completed
    progress.update(task, total=max(done, 1), completed=max(done, 1), count=done)


def _done(task) -> float:
  """Units a rich task counted (a task without a total may have been given a
  stand-in total when it finished: ``count`` keeps the real count)."""
  count = task.fields["count"]
  return task.completed if count is None else count


def _num(x: float) -> str:
  return f"{int(x)}" if float(x).is_integer() else f"{x:g}"


def _count_text(task) -> str:
  """The M/N column of a rich task: ``3/5 chunks``; ``3 chunks`` without a
  total; nothing when it has neither a total nor a count."""
  unit = task.fields["unit"]
  if task.fields["known"]:
    return f"{_num(task.completed)}/{_num(task.total)} {unit}"
  done = _done(task)
  return f"{_num(done)} {unit}" if done else ""


def _rate_text(task) -> str:
  """The rate column of a rich task (``5.00/s``; the unit is in the count):
  rich's recent-speed estimate while it runs, the mean rate once it finished
  or stopped; nothing before there is one."""
  done = _done(task)
  if not done:
    return ""
  if task.finished or task.stop_time is not None:
    seconds = task.finished_time if task.finished else task.elapsed
    speed = done / seconds if seconds else None
  else:
    speed = task.speed
  return f"{rate(speed)}/s" if speed else ""


def _clock(seconds: float | None) -> str:
  """A compact clock: ``01:05``, ``1:02:05`` past an hour, ``--:--`` unknown."""
  if seconds is None:
    return "--:--"
  minutes, secs = divmod(int(seconds), 60)
  hours, minutes = divmod(minutes, 60)
  return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _elapsed_text(task) -> str:
  """The elapsed column of a rich task (frozen once it finished or stopped)."""
  return _clock(task.finished_time if task.finished else task.elapsed)


def _eta_text(task) -> str:
  """The ETA column of a rich task: ``ETA 00:05`` while it runs towards a
  total, nothing without a total or once it finished."""
  if task.total is None or task.finished:
    return ""
  return "ETA " + _clock(task.time_remaining)


def _progress(console, refresh_per_second: float):
  """A rich Progress on ``console`` with the columns description, bar, M/N
  unit, rate, elapsed, ETA (imports rich). Every cell but the bar keeps to
  one line: on a narrow terminal the bar shrinks, then the description."""
  from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn
  from rich.table import Column
  from rich.text import Text

  class Cell(ProgressColumn):
    def __init__(self, text, style: str, max_refresh: float | None = None):
      super().__init__(table_column=Column(no_wrap=True, overflow="ellipsis"))
      self.text, self.style, self.max_refresh = text, style, max_refresh

    def render(self, task):
      return Text(self.text(task), style=self.style)

  return Progress(SpinnerColumn(), Cell(lambda t: t.description, "progress.description"),
                  BarColumn(bar_width=None), Cell(_count_text, "progress.download"),
                  Cell(_rate_text, "progress.data.speed"), Cell(_elapsed_text, "progress.elapsed"),
                  Cell(_eta_text, "progress.remaining", max_refresh=0.5),  # no jitter
                  console=console, refresh_per_second=refresh_per_second,
                  redirect_stdout=False, redirect_stderr=False)


def bar(stream=None, refresh_per_second: float = 10.0) -> Reporter:
  """A live rich progress display on ``stream`` (default ``sys.stderr``); see
  ``BarReporter``."""
  return BarReporter(stream, refresh_per_second)


def lines(stream=None) -> Reporter:
  """No bar: one line per finished stage on ``stream`` (default
  ``sys.stderr``); see ``LineReporter``."""
  return LineReporter(stream)


def for_stream(quiet: bool = False, stream=None) -> Reporter:
  """The reporter a command uses: ``SILENT`` when ``quiet``, ``bar()`` when
  ``stream`` (default ``sys.stderr``) is a terminal, else ``lines()``."""
  if quiet:
    return SILENT
  return bar(stream) if _isatty(sys.stderr if stream is None else stream) else lines(stream)


_CURRENT: contextvars.ContextVar[Reporter] = contextvars.ContextVar("gaplab_progress",
                                                                    default=SILENT)


def current() -> Reporter:
  """The reporter in effect: the one ``use`` installed, else ``SILENT``."""
  return _CURRENT.get()


@contextlib.contextmanager
def use(reporter: Reporter):
  """Make ``reporter`` the current one inside the block; the previous one is
  back after it, however it ends."""
  if not isinstance(reporter, Reporter):
    raise TypeError(f"use: expected a progress Reporter, got {type(reporter).__name__}")
  token = _CURRENT.set(reporter)
  try:
    yield reporter
  finally:
    _CURRENT.reset(token)
