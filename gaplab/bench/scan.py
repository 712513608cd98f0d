"""``gaplab bench cone --scan``: how the cone sweep's time grows with the number
of inputs N, the width and the seeds, fitted as time ~ C N^a width^b seeds^c.

The scan varies one axis at a time around a base point of the Fig 2b preset
(7 activations, depth 25, input dimension = width, default statistics) and
times each point warm (compiled, best of ``repeats``) in this process. Per axis
it fits the log-log slope of the points on that axis (``analysis.fits``), and
over all points the joint least-squares fit of log time on log N, log width
and log seeds. A user predicts the cost of their own grid from the joint fit
(the time also grows linearly with depth and with the number of variants,
which the scan does not vary). Timings are benchmarks, never tests.
"""
from __future__ import annotations

import time

import jax
import numpy as np

from gaplab.analysis import fits

__all__ = ["SIZES", "points", "fit", "run"]

# base point and the values of each axis (the base value is on every axis)
SIZES = {
    "full": dict(base=dict(n_samples=1024, width=512, seeds=4),
                 axes=dict(n_samples=(256, 512, 1024, 2048), width=(128, 256, 512, 1024),
                           seeds=(1, 2, 4, 8))),
    "quick": dict(base=dict(n_samples=256, width=128, seeds=2),
                  axes=dict(n_samples=(128, 256, 512), width=(64, 128, 256), seeds=(1, 2, 4))),
    "tiny": dict(base=dict(n_samples=32, width=16, seeds=1, depth=2),
                 axes=dict(n_samples=(16, 32), width=(8, 16), seeds=(1, 2))),
}
AXES = ("n_samples", "width", "seeds")


def points(size: str) -> list[dict]:
  """The scan's distinct points: the base, then each axis's other values."""
  base, axes = SIZES[size]["base"], SIZES[size]["axes"]
  out = [dict(base)]
  for axis in AXES:
    out += [dict(base, **{axis: v}) for v in axes[axis] if v != base[axis]]
  return out


def _config(point: dict):
  from gaplab.cone import presets
  over = {k: v for k, v in point.items() if k not in ("width",)}
  return presets.fig2b("full", widths=[point["width"]], input_dim=point["width"], **over)


def fit(rows: list[dict], base: dict) -> dict:
  """Per-axis log-log slopes (points on that axis) and the joint fit
  log t = log C + a log N + b log width + c log seeds over all rows."""
  per_axis = {}
  for axis in AXES:
    on = [r for r in rows if all(r[k] == base[k] for k in AXES if k != axis)]
    x = np.array([r[axis] for r in on], float)
    y = np.array([r["seconds"] for r in on], float)
    law = fits.loglog_slope(x, y) if len(on) > 1 else None
    per_axis[axis] = None if law is None else {"exponent": law.slope, "stderr": law.slope_se}
  design = np.column_stack([np.ones(len(rows))]
                           + [np.log([r[k] for r in rows]) for k in AXES])
  coef, *_ = np.linalg.lstsq(design, np.log([r["seconds"] for r in rows]), rcond=None)
  joint = {"C_seconds": float(np.exp(coef[0])),
           **{f"exponent_{k}": float(c) for k, c in zip(AXES, coef[1:])}}
  return {"per_axis": per_axis, "joint": joint}


def run(size: str = "full", repeats: int = 2, out: str | None = None) -> dict:
  """Times every point, fits, prints; returns the report (JSON at ``out``)."""
  from gaplab.bench import report as report_mod
  from gaplab.cone import engine
  from gaplab.io import provenance
  report_mod.check_out(out)
  spec = SIZES[size]
  rows = []
  print(f"gaplab bench cone --scan ({size}): Fig 2b preset, one axis at a time around "
        f"{spec['base']}", flush=True)
  for point in points(size):
    cfg = _config(point)
    t0 = time.perf_counter()
    engine.run(cfg)
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
      t0 = time.perf_counter()
      jax.block_until_ready(engine.run(cfg).arrays["mean_cos"])
      warm.append(time.perf_counter() - t0)
    rows.append(dict(point, seconds=min(warm), cold_s=cold))
    print(f"  N={point['n_samples']:5d} width={point['width']:5d} seeds={point['seeds']:3d}: "
          f"{min(warm):7.3f} s warm ({cold:.2f} s first call)", flush=True)
  result = fit(rows, spec["base"])
  j = result["joint"]
  prov = provenance.collect(precision=cfg.precision, dtype=cfg.dtype)
  dev = prov["device"]
  print(f"  fit: time ~ {j['C_seconds']:.3g} s x N^{j['exponent_n_samples']:.2f} "
        f"x width^{j['exponent_width']:.2f} x seeds^{j['exponent_seeds']:.2f} "
        f"(depth {cfg.depth}, {len(cfg.activations)} activations; {dev['platform']}, "
        f"{dev['kind']}, {dev['cpu_count']} CPUs)")
  for axis, law in result["per_axis"].items():
    if law:
      print(f"    {axis:9s} alone: exponent {law['exponent']:.2f} ± {law['stderr']:.2f}")
  report = {"size": size, "sizes": spec, "repeats": repeats, "rows": rows, **result,
            "depth": cfg.depth, "activations": list(cfg.activations), "provenance": prov}
  report_mod.write(report, out)
  return report
