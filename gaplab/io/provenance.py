"""What produced a result: versions, device, precision, commit, time."""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys

import jax
import numpy as np

from gaplab.runtime import cache


def git_commit() -> dict:
  """The commit of the checkout gaplab was imported from, if it is one."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  try:
    run = lambda *a: subprocess.run(["git", *a], cwd=root, capture_output=True,
                                    text=True, timeout=10)
    head = run("rev-parse", "HEAD")
    if head.returncode:
      return {"commit": None, "dirty": None}
    dirty = bool(run("status", "--porcelain", "--untracked-files=no").stdout.strip())
    return {"commit": head.stdout.strip(), "dirty": dirty}
  except (OSError, subprocess.SubprocessError):
    return {"commit": None, "dirty": None}


def device() -> dict:
  """The devices a run used: all processes' (``count``), in ``processes``."""
  devs = jax.devices()
  return {"platform": devs[0].platform, "kind": devs[0].device_kind,
          "count": len(devs), "processes": jax.process_count(), "host": platform.node(),
          "cpu_count": os.cpu_count()}


def collect(*, precision: str, dtype: str) -> dict:
  """Provenance record stored in every run's config.json."""
  import jaxlib
  from gaplab._version import __version__
  return {
      "gaplab": __version__,
      "jax": jax.__version__,
      "jaxlib": jaxlib.__version__,
      "numpy": np.__version__,
      "python": sys.version.split()[0],
      "device": device(),
      "matmul_precision": precision,
      "dtype": dtype,
      "x64": bool(jax.config.jax_enable_x64),
      "compilation_cache": cache.describe(),
      "git": git_commit(),
      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds"),
      "command": " ".join(sys.argv),
  }
