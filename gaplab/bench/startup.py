"""``gaplab bench startup``: how long a small real sweep takes to its first
result in a new process, without and with the persistent compilation cache
(``gaplab.runtime.cache``), and when called again in the same process.

Per workload (a cone sweep, a two-tower training sweep), three fresh Python
processes run ``_CHILD``:

* ``cold, cache off``: the cache disabled; everything is compiled;
* ``cold, empty cache``: a new temporary cache directory, which it fills;
* ``cold, warm cache``: a new process on the directory the previous one
  filled: compiled programs are loaded instead of compiled (tracing stays);

and each of them calls the workload a second time (``warm, same process``:
everything compiled, in memory). A process reports its own clock readings;
"to first result" runs from just before the parent starts it to the child
printing its first result, so it includes Python's start and the imports. The
temporary directories are removed at the end; the user's own cache is never
touched. A throwaway import runs first so that no case pays for reading the
libraries from disk. Timings are benchmarks, never tests.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from gaplab.bench import report as report_mod

__all__ = ["SIZES", "CASES", "workload", "summarise", "table_lines", "run"]

# cone: Fig 2b's activations and init (``cone.presets``); train: the quick or
# tiny two-tower preset (``training.presets``) with 2 fixed temperatures
SIZES = {
    "full": {"cone": dict(depth=25, widths=[128], input_dim=128, n_samples=256, seeds=2),
             "train": "quick"},
    "quick": {"cone": dict(depth=8, widths=[64], input_dim=64, n_samples=128, seeds=2),
              "train": "tiny"},
}
CASES = ("cold, cache off", "cold, empty cache", "cold, warm cache")
_MARK = "gaplab-startup:"
# variables that would move or reshape the cache under the child's feet
_CACHE_ENV = ("GAPLAB_CACHE_DIR", "JAX_COMPILATION_CACHE_DIR",
              "JAX_ENABLE_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
              "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES")

_CHILD = f"""
import time
t_start = time.time()
import json, sys
from gaplab.runtime import cache
from gaplab.bench import startup
name, size, where = sys.argv[1:4]
cache.disable() if where == "off" else cache.enable(where)
work = startup.workload(name, size)
t_ready = time.time()
value = work()
t_first = time.time()
print({_MARK!r}, json.dumps({{"result": value}}), flush=True)
work()
t_second = time.time()
print({_MARK!r}, json.dumps(dict(t_start=t_start, t_ready=t_ready, t_first=t_first,
                                  t_second=t_second, cache=cache.describe())), flush=True)
"""


def _cone(size: str):
  from gaplab.cone import engine, presets
  cfg = presets.fig2b("full", **SIZES[size]["cone"])
  return (lambda: float(engine.run(cfg).arrays["mean_cos"].mean()),
          f"cone sweep ({len(cfg.activations)} activations, depth {cfg.depth}, "
          f"width {cfg.widths[0]}, N={cfg.n_samples}, {cfg.seeds} seeds)")


def _train(size: str):
  import numpy as np
  from gaplab.training import presets
  from gaplab.training import sweep
  over = presets.TRAIN_QUICK if SIZES[size]["train"] == "quick" else presets.TRAIN_TINY
  cfg = {**presets.TRAIN_PRESET, **over, "seeds": 2}

  def work():
    spec = sweep.resolve_spec(cfg)
    data = sweep.make_data(cfg, spec, 0.2)
    hp, seeds = sweep.grid(cfg, [sweep.variant(cfg, tau_start=t, tau_end=t) for t in (0.1, 0.03)])
    hist = sweep.sweep(cfg, spec, data, hp, seeds)
    return float(np.asarray(hist["eval"]["gap"])[:, -1].mean())
  return work, (f"training sweep (2 seeds x 2 temperatures, {cfg['steps']} steps, "
                f"MLP towers width {cfg['width']})")


WORKLOADS = {"cone": _cone, "train": _train}


def workload(name: str, size: str):
  """The zero-argument callable of workload ``name`` at ``size``: it runs the
  whole sweep from its config and returns one float of the result."""
  return WORKLOADS[name](size)[0]


def _child_env() -> dict:
  return {k: v for k, v in os.environ.items() if k not in _CACHE_ENV}


def _one_process(name: str, size: str, where: str) -> dict:
  """Runs ``_CHILD`` once; its clock readings, with the launch time and wall."""
  t_launch = time.time()
  p = subprocess.run([sys.executable, "-c", _CHILD, name, size, where], env=_child_env(),
                     capture_output=True, text=True)
  wall = time.time() - t_launch
  lines = [json.loads(l[len(_MARK):]) for l in p.stdout.splitlines() if l.startswith(_MARK)]
  if p.returncode or len(lines) != 2:
    raise RuntimeError(f"bench startup: the {name} process failed (exit {p.returncode}):\n"
                       f"{p.stderr[-3000:]}")
  return dict(lines[1], t_launch=t_launch, wall=wall, result=lines[0]["result"])


def summarise(raw: dict) -> dict:
  """Seconds per case from one process's clock readings (``_one_process``):
  to_first_result (launch to first result), python_start, imports (jax,
  gaplab, the workload's config), first_call, second_call, process_wall."""
  return {"to_first_result_s": raw["t_first"] - raw["t_launch"],
          "python_start_s": raw["t_start"] - raw["t_launch"],
          "imports_s": raw["t_ready"] - raw["t_start"],
          "first_call_s": raw["t_first"] - raw["t_ready"],
          "second_call_s": raw["t_second"] - raw["t_first"],
          "process_wall_s": raw["wall"]}


def _warm(cases: dict) -> float:
  """The warm time: the fastest second call of the three processes (the same
  compiled program each time)."""
  return min(c["second_call_s"] for c in cases.values())


def table_lines(title: str, cases: dict) -> list[str]:
  """The printed rows of one workload: the three cold cases, then warm."""
  off = cases[CASES[0]]["to_first_result_s"]
  lines = [f"  {title}"]
  for k in CASES:
    c = cases[k]
    extra = "" if k == CASES[0] else f"  {off / c['to_first_result_s']:5.2f}x vs cache off"
    if "cache_entries" in c:
      extra += f"; {c['cache_entries']} entries, {c['cache_bytes'] / 2**20:.1f} MiB in the cache"
    lines.append(f"    {k:18s} {c['to_first_result_s']:7.2f} s to first result (python "
                 f"{c['python_start_s']:.2f} + imports {c['imports_s']:.2f} + first call "
                 f"{c['first_call_s']:.2f} s){extra}")
  w = _warm(cases)
  lines.append(f"    {'warm, same process':18s} {w:7.2f} s (second call){'':37s}"
               f"{off / w:6.1f}x vs cache off")
  return lines


def _dir_size(path: str) -> tuple[int, int]:
  files = [os.path.join(r, f) for r, _, fs in os.walk(path) for f in fs]
  return len(files), sum(os.path.getsize(f) for f in files)


def _workload_cases(name: str, size: str) -> dict:
  tmp = tempfile.mkdtemp(prefix="gaplab-bench-startup-")
  try:
    cache_dir = os.path.join(tmp, "jax")
    cases, results = {}, {}
    for case, where in zip(CASES, ("off", cache_dir, cache_dir)):
      raw = _one_process(name, size, where)
      cases[case] = dict(summarise(raw), cache=raw["cache"])
      results[case] = raw["result"]
      if where != "off":
        cases[case]["cache_entries"], cases[case]["cache_bytes"] = _dir_size(cache_dir)
    return cases, results
  finally:
    shutil.rmtree(tmp, ignore_errors=True)


def run(quick: bool = False, out: str | None = None) -> dict:
  """Runs and prints the benchmark; returns the report (also JSON at ``out``)."""
  from gaplab.io import provenance
  report_mod.check_out(out)
  size = "quick" if quick else "full"
  subprocess.run([sys.executable, "-c", "import gaplab"], env=_child_env(),
                 capture_output=True)  # fills the OS file cache for every case alike
  report = {"size": size, "sizes": SIZES[size], "workloads": {}}
  print(f"gaplab bench startup: {size} sizes, each case a fresh process; temporary cache "
        f"directories", flush=True)
  for name, build in WORKLOADS.items():
    title = build(size)[1]
    cases, results = _workload_cases(name, size)
    same = len(set(results.values())) == 1
    report["workloads"][name] = {"title": title, "cases": cases, "warm_s": _warm(cases),
                                 "results": results, "results_identical": same}
    print("\n".join(table_lines(title, cases)), flush=True)
    print(f"    first results of the three processes {'identical' if same else 'DIFFER'}: "
          f"{sorted(set(results.values()))}")
  # only now does this process start JAX's backend (on a GPU it would take
  # the memory the children need)
  report["provenance"] = provenance.collect(precision="highest", dtype="float32")
  dev = report["provenance"]["device"]
  print(f"  on {dev['platform']} ({dev['kind']}, {dev['cpu_count']} CPUs)")
  report_mod.write(report, out)
  return report
