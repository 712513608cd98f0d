"""``gaplab bench cone --preset large``: the sweep's achieved FLOP rate beside a
GEMM of the same shape and precision timed in the same run, at default and at
highest matmul precision, and the start-up time of a fresh process with a
cold and with a warm compilation cache.

The large preset (N = 4096 inputs in d = 1024, width 1024, 25 layers, 64 seeds,
the 7 Fig 2b activations) is sized for one accelerator; on a CPU it runs too
(nothing here is device-specific) but takes hours, so ``size='tiny'`` exists
for smoke tests. The GEMM is the engine's per-layer product: a batch of
``seed_chunk`` matrices (V N, width) @ (width, width), V the variants, with the
same dtype and ``precision``. The sweep's FLOPs are the engine's matmuls
(``bench.cone.engine_flops``), so "share of GEMM" says how close the sweep
runs to the matmul rate this device reaches on its own shape. Start-up is the
wall time of ``gaplab cone`` on a one-seed version of the preset in a new
process (``bench.endtoend.gaplab_twice``): cold fills a temporary cache, warm
cache reuses it. Timings are benchmarks, never tests.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp

from gaplab.bench import report as report_mod

__all__ = ["PRESETS", "PRECISIONS", "gemm_rate", "run"]

PRESETS = {
    "large": dict(n_samples=4096, input_dim=1024, widths=[1024], depth=25, seeds=64),
    "tiny": dict(n_samples=32, input_dim=16, widths=[16], depth=2, seeds=2,
                 activations=["relu"]),
}
PRECISIONS = ("default", "highest")


def gemm_rate(batch: int, m: int, k: int, n: int, dtype: str, precision: str,
              repeats: int = 5) -> float:
  """FLOP/s of a jitted batched GEMM (batch, m, k) @ (batch, k, n)."""
  a = jax.random.normal(jax.random.key(0), (batch, m, k), jnp.dtype(dtype))
  b = jax.random.normal(jax.random.key(1), (batch, k, n), jnp.dtype(dtype))
  mm = jax.jit(lambda a, b: jnp.matmul(a, b, precision=precision))
  jax.block_until_ready(mm(a, b))
  return 2.0 * batch * m * k * n / report_mod.best_of(lambda: mm(a, b), repeats)


def _row(cfg, repeats: int) -> dict:
  from gaplab.bench.cone import engine_flops
  from gaplab.cone import engine
  chunk = engine.plan_widths(cfg, None)[0].chunk
  width, rows = cfg.widths[0], len(cfg.variants()) * cfg.n_samples
  gemm = gemm_rate(chunk, rows, width, width, cfg.dtype, cfg.precision)
  engine.compiled.cache_clear()
  t0 = time.perf_counter()
  engine.run(cfg)
  cold = time.perf_counter() - t0
  warm = report_mod.best_of(lambda: engine.run(cfg).arrays["mean_cos"], repeats)
  flops = engine_flops(cfg)
  return {"precision": cfg.precision, "seed_chunk": chunk, "first_call_s": cold,
          "warm_s": warm, "tflops": flops / 1e12, "tflop_per_s": flops / warm / 1e12,
          "gemm_shape": [chunk, rows, width, width], "gemm_tflop_per_s": gemm / 1e12,
          "share_of_gemm": flops / warm / gemm}


def _startup(cfg) -> dict:
  from gaplab.bench import endtoend
  argv = ["cone", "--activations", ",".join(cfg.activations), "--seeds", "1",
          "--n-samples", str(cfg.n_samples), "--input-dim", str(cfg.input_dim),
          "--width", str(cfg.widths[0]), "--depth", str(cfg.depth),
          "--precision", cfg.precision, "--quiet"]
  t = endtoend.gaplab_twice(argv)
  return {"command": "gaplab " + " ".join(argv), "cold_s": t["cold_s"],
          "warm_cache_s": t["warm_cache_s"]}


def run(size: str = "large", repeats: int = 2, out: str | None = None,
        startup: bool = True) -> dict:
  """Times the preset at both precisions (and start-up); prints; returns the
  report (JSON at ``out``)."""
  from gaplab.cone import presets
  from gaplab.io import provenance
  from gaplab._errors import ConfigError
  if size not in PRESETS:
    raise ConfigError("preset", f"expected one of {', '.join(PRESETS)}, got {size!r}")
  report_mod.check_out(out)
  base = presets.fig2b("full", **PRESETS[size])
  rows = {p: _row(base.replace(precision=p), repeats) for p in PRECISIONS}
  report = {"preset": size, "config": base.to_dict(), "rows": rows,
            "provenance": provenance.collect(precision="per row", dtype=base.dtype)}
  dev = report["provenance"]["device"]
  print(f"gaplab bench cone --preset {size}: {base.seeds} seeds x {len(base.activations)} "
        f"activations x {base.depth} layers, N={base.n_samples}, d={base.input_dim}, width "
        f"{base.widths[0]}, {base.dtype}; {dev['platform']} ({dev['kind']})")
  for p, r in rows.items():
    print(f"  precision {p:8s}: sweep {r['warm_s']:8.2f} s warm ({r['first_call_s']:.2f} s "
          f"first call), {r['tflop_per_s']:7.3f} TFLOP/s; GEMM {tuple(r['gemm_shape'])} "
          f"{r['gemm_tflop_per_s']:7.3f} TFLOP/s -> {100 * r['share_of_gemm']:5.1f}% of GEMM")
  if startup:
    report["startup"] = {p: _startup(base.replace(precision=p)) for p in PRECISIONS}
    for p, s in report["startup"].items():
      print(f"  start-up, one seed, precision {p:8s}: {s['cold_s']:6.2f} s cold cache, "
            f"{s['warm_cache_s']:6.2f} s warm cache (fresh processes)")
  report_mod.write(report, out)
  return report
