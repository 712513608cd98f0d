"""What the benchmarks share: where their JSON report may go, and writing it."""
from __future__ import annotations

import json
import os
import time

from gaplab._errors import ConfigError


def check_out(out: str | None) -> None:
  """ConfigError unless ``out`` is None or a path that does not exist yet
  (checked before any timing, so nothing is overwritten)."""
  if out and os.path.lexists(out):
    raise ConfigError("out", f"expected a new file, got existing {out!r}")


def write(report: dict, out: str | None) -> None:
  """The report as JSON at ``out`` (when given), and a line saying so."""
  if out:
    with open(out, "w") as f:
      json.dump(report, f, indent=2)
    print(f"wrote {out}")


def best_of(f, repeats: int) -> float:
  """The fastest of ``repeats`` timed calls of ``f`` (its result blocked on)."""
  import jax
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(f())
    times.append(time.perf_counter() - t0)
  return min(times)
