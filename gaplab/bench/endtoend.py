"""End-to-end timings in fresh processes: a gaplab command and the PyTorch
program a user would write instead (``torch_workloads``), on one machine in
one sitting.

"End to end" is a process's wall time from launch to exit, so it includes
Python's start, the imports (jax or torch), building the data, compiling or
loading the compiled program from the persistent cache, the work and writing
results. gaplab runs twice on a fresh temporary cache directory: the first
process fills the cache (``cold``), the second loads from it (``warm cache``,
the number the speed targets use). The PyTorch program runs once; its own
clock reading of the loop alone is reported beside its wall time. The user's
own cache is never touched. Timings are benchmarks, never tests.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

__all__ = ["torch_available", "NO_TORCH", "run_process", "torch_reference", "gaplab_twice",
           "comparison", "lines", "cone"]

NO_TORCH = ("PyTorch is not importable here: the PyTorch reference was not run "
            "(pip install torch to compare)")
# variables that would point the children at the user's cache
_CACHE_ENV = ("GAPLAB_CACHE_DIR", "JAX_COMPILATION_CACHE_DIR", "JAX_ENABLE_COMPILATION_CACHE")


def torch_available() -> bool:
  """Whether ``import torch`` would find a module (without importing it)."""
  return importlib.util.find_spec("torch") is not None


def run_process(argv: list[str], env: dict | None = None) -> dict:
  """Runs ``argv``; {"wall_s", "stdout"}. RuntimeError with its stderr if it fails."""
  env = {k: v for k, v in os.environ.items() if k not in _CACHE_ENV} | (env or {})
  t0 = time.perf_counter()
  p = subprocess.run(argv, env=env, capture_output=True, text=True)
  wall = time.perf_counter() - t0
  if p.returncode:
    raise RuntimeError(f"bench: {' '.join(argv[:4])} ... failed (exit {p.returncode}):\n"
                       f"{p.stderr[-3000:]}")
  return {"wall_s": wall, "stdout": p.stdout}


def torch_reference(workload: str, **kw) -> dict | None:
  """The PyTorch program ``workload`` with keyword overrides, in a new
  process: its wall time, its own loop time and its JSON; None without torch."""
  if not torch_available():
    return None
  argv = [sys.executable, "-m", "gaplab.bench.torch_workloads", workload]
  argv += [f"{k}={v}" for k, v in kw.items()]
  p = run_process(argv)
  result = json.loads(p["stdout"].strip().splitlines()[-1])
  return {"wall_s": p["wall_s"], "loop_s": result.pop("seconds"), **result}


def gaplab_twice(argv: list[str], out_flag: str | None = "--out") -> dict:
  """``python -m gaplab ARGV`` twice on one new cache directory (cold fills it,
  then warm cache); with ``out_flag``, each writes to its own new directory
  there. {"cold_s", "warm_cache_s", "stdout"}."""
  tmp = tempfile.mkdtemp(prefix="gaplab-bench-e2e-")
  try:
    walls, stdout = [], ""
    for i in range(2):
      extra = [out_flag, os.path.join(tmp, f"run{i}")] if out_flag else []
      p = run_process([sys.executable, "-m", "gaplab", *argv, *extra,
                       "--cache-dir", os.path.join(tmp, "jax")])
      walls.append(p["wall_s"])
      stdout = p["stdout"]
    return {"cold_s": walls[0], "warm_cache_s": walls[1], "stdout": stdout}
  finally:
    shutil.rmtree(tmp, ignore_errors=True)


def comparison(ours: dict, reference: dict | None) -> dict:
  """One row: gaplab's cold and warm-cache walls, the reference's wall and
  loop time, and the speed-up (reference wall / gaplab warm-cache wall)."""
  row = {"gaplab_cold_s": ours["cold_s"], "gaplab_warm_cache_s": ours["warm_cache_s"]}
  if reference is None:
    return row | {"torch": None, "note": NO_TORCH}
  return row | {"torch_wall_s": reference["wall_s"], "torch_loop_s": reference["loop_s"],
                "torch_threads": reference["threads"], "torch_version": reference["torch"],
                "speedup_end_to_end": reference["wall_s"] / ours["warm_cache_s"]}


def lines(title: str, row: dict) -> list[str]:
  """The printed lines of one ``comparison`` row."""
  out = [f"  end to end, {title}: gaplab {row['gaplab_warm_cache_s']:7.2f} s with a warm "
         f"cache ({row['gaplab_cold_s']:.2f} s cold)"]
  if row.get("torch_wall_s") is None:
    out.append(f"    {row['note']}")
  else:
    out.append(f"    PyTorch loop {row['torch_wall_s']:7.2f} s (loop alone "
               f"{row['torch_loop_s']:.2f} s, {row['torch_threads']} threads, torch "
               f"{row['torch_version']}) -> gaplab {row['speedup_end_to_end']:5.2f}x faster")
  return out


def cone(cfg) -> dict:
  """The default ``gaplab cone`` on the grid of ``cfg`` (a Fig 2b
  ``ConeConfig``: its activations, seeds, N, d, width, depth) against the
  PyTorch notebook loop on the same grid, each in fresh processes."""
  if cfg.input_dim != cfg.widths[0] or len(cfg.widths) != 1:
    raise ValueError(f"Expected one width equal to input_dim (the PyTorch loop's "
                     f"d x d layers), got widths {cfg.widths} and input_dim {cfg.input_dim}")
  argv = ["cone", "--activations", ",".join(cfg.activations), "--seeds", str(cfg.seeds),
          "--n-samples", str(cfg.n_samples), "--input-dim", str(cfg.input_dim),
          "--width", str(cfg.widths[0]), "--depth", str(cfg.depth), "--quiet"]
  ours = gaplab_twice(argv)
  ref = torch_reference("cone", n=cfg.n_samples, d=cfg.input_dim, depth=cfg.depth,
                        seeds=cfg.seeds, activations=",".join(cfg.activations))
  return dict(comparison(ours, ref), command="gaplab " + " ".join(argv))
