"""``gaplab bench cone``: the engine against a plain NumPy reference and the
machine's float32 GEMM rate, all measured in one run on one machine.

The reference does what the paper's notebook does: per seed and activation,
per layer, draw W and b, matmul, activation, then the full N x N cosine matrix
of the normalised outputs and its mean. Ratios compare numbers from this run
only. Timings are benchmarks, never tests.

The engine runs three ways: the default (pairwise statistics at the config's
``pairwise_layers="auto"`` layers), all statistics at every layer, and mean
cosine only. Each row's GFLOP/s is its GEMM work (``engine_flops``) over its
warm time, given as a fraction of the best GEMM rate measured here and of the
JAX GEMM of the engine's own shape (variants x N rows, width x width).
"""
from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from gaplab.cone import engine
from gaplab.io import provenance
from gaplab.cone import stats
from gaplab.cone.config import ConeConfig
from gaplab.bench import report as report_mod


def _erf(x):
  """float32-accurate erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7)."""
  s = np.sign(x)
  a = np.abs(x)
  t = 1.0 / (1.0 + 0.3275911 * a)
  y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t
              - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
  return (s * y).astype(x.dtype)


NUMPY_ACTS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x: np.where(x >= 0, x, np.float32(0.01) * x),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "gelu": lambda x: x * 0.5 * (1 + _erf(x / np.float32(math.sqrt(2)))),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
}


def numpy_reference(cfg: ConeConfig, n_seeds: int):
  """(seconds, mean cosine (activation, seed, layer), diagonal included)."""
  n, d, width, depth = cfg.n_samples, cfg.input_dim, cfg.widths[0], cfg.depth
  sw, sb = cfg.sigma_w[0], cfg.sigma_b[0]
  out = np.zeros((len(cfg.activations), n_seeds, depth + 1))

  def mean_cos(h):
    u = h / np.linalg.norm(h, axis=1, keepdims=True)
    return float((u @ u.T).mean())

  t0 = time.perf_counter()
  for s in range(n_seeds):
    rng = np.random.default_rng(s)
    x = rng.standard_normal((n, d), dtype=np.float32)
    for a, name in enumerate(cfg.activations):
      h = x
      out[a, s, 0] = mean_cos(h)
      for layer in range(1, depth + 1):
        fan_in = h.shape[1]
        w = rng.standard_normal((fan_in, width), dtype=np.float32)
        w *= np.float32(sw / math.sqrt(fan_in))
        b = rng.standard_normal(width, dtype=np.float32) * np.float32(sb)
        h = NUMPY_ACTS[name](h @ w + b)
        out[a, s, layer] = mean_cos(h)
  return time.perf_counter() - t0, out


_best = report_mod.best_of


def gemm_rate(shapes, repeats: int = 5) -> dict:
  """Best float32 GEMM rate (FLOP/s) of jitted JAX and of NumPy per shape."""
  rates = {}
  for m, k, n in shapes:
    a = jax.random.normal(jax.random.key(0), (m, k), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (k, n), jnp.float32)
    mm = jax.jit(lambda a, b: jnp.matmul(a, b, precision="highest"))
    mm(a, b).block_until_ready()
    flops = 2.0 * m * k * n
    rates[f"jax {m}x{k}x{n}"] = flops / _best(lambda: mm(a, b), repeats)
    an, bn = np.asarray(a), np.asarray(b)
    rates[f"numpy {m}x{k}x{n}"] = flops / _best(lambda: an @ bn, repeats)
  return rates


def engine_flops(cfg: ConeConfig) -> float:
  """Multiply-add FLOPs the engine's GEMMs do: the forward maps, and the
  pairwise Gram blocks at the layers that get pairwise statistics (layer 0,
  the inputs, once per seed; the others once per variant)."""
  n, width, d = cfg.n_samples, cfg.widths[0], cfg.input_dim
  per_seed_variant = 2.0 * n * d * width + 2.0 * n * width * width * (cfg.depth - 1)
  total = per_seed_variant * len(cfg.variants()) * cfg.seeds
  layers = cfg.measured_pairwise_layers()
  if layers:
    b = stats.block_size(n, cfg.pair_block)
    nb = -(-n // b)
    blocks = nb + sum(c.size for _, c in stats._block_pairs(nb))
    gram = lambda dim: 2.0 * blocks * b * b * dim
    hidden = sum(1 for l in layers if l > 0)
    total += cfg.seeds * ((gram(d) if 0 in layers else 0.0)
                          + len(cfg.variants()) * hidden * gram(width))
  return total


def _time_engine(cfg, repeats):
  engine.compiled.cache_clear()
  jax.clear_caches()
  t0 = time.perf_counter()
  out = engine.run(cfg)
  cold = time.perf_counter() - t0
  warm = _best(lambda: engine.run(cfg).arrays["mean_cos"], repeats)
  return cold, warm, out


def cone(quick: bool = False, repeats: int = 3, reference_seeds=None, out=None,
         size: str = "full", end_to_end: bool | None = None):
  """Runs and prints the benchmark; ``size='tiny'`` is for smoke tests.

  ``end_to_end`` (default: on except at ``size='tiny'``) also times the
  default ``gaplab cone`` command in fresh processes against the PyTorch
  notebook loop on the same grid (``bench.endtoend.cone``), when torch is
  importable; it says so when it is not."""
  import os
  from gaplab._errors import ConfigError
  from gaplab.cone import presets
  cfg = presets.fig2b(size, **({"seeds": 2} if quick else {}))
  ref_seeds = reference_seeds or cfg.seeds
  if repeats < 1:
    raise ConfigError("repeats", f"expected an integer >= 1, got {repeats}")
  if not 1 <= ref_seeds <= cfg.seeds:
    raise ConfigError("reference_seeds", f"expected an integer from 1 to "
                      f"{cfg.seeds}, got {reference_seeds}")
  report_mod.check_out(out)
  n_var = len(cfg.variants())
  engine_shape = (n_var * cfg.n_samples, cfg.widths[0], cfg.widths[0])
  rates = gemm_rate([engine_shape, (2048, 2048, 2048)])
  peak = max(rates.values())
  shape_rate = rates["jax {}x{}x{}".format(*engine_shape)]
  auto = ", ".join(map(str, cfg.measured_pairwise_layers()))
  rows = {}
  for label, c in ((f"engine, default (pairwise at layers {auto})", cfg),
                   ("engine, all statistics", cfg.replace(pairwise_layers="all")),
                   ("engine, mean cosine only (--no-pairwise)",
                    cfg.replace(pairwise=False))):
    cold, warm, res = _time_engine(c, repeats)
    flops = engine_flops(c)
    rows[label] = dict(cold_s=cold, warm_s=warm, gflops=flops / 1e9,
                       gflop_per_s=flops / warm / 1e9,
                       fraction_of_gemm=flops / warm / peak,
                       fraction_of_engine_shape_gemm=flops / warm / shape_rate)
  ref_s, ref_vals = numpy_reference(cfg, ref_seeds)
  ref_scaled = ref_s * cfg.seeds / ref_seeds
  relu = cfg.activations.index("relu")
  lay = min(10, cfg.depth)
  eng_relu = float(res.arrays["mean_cos_diag"][0, relu, :, lay].mean())
  ref_relu = float(ref_vals[relu, :, lay].mean())
  report = {
      "preset": cfg.to_dict(),
      "provenance": provenance.collect(precision=cfg.precision, dtype=cfg.dtype),
      "gemm_rates_gflop_per_s": {k: v / 1e9 for k, v in rates.items()},
      "gemm_peak_gflop_per_s": peak / 1e9,
      "gemm_engine_shape_gflop_per_s": shape_rate / 1e9,
      "engine": rows,
      "numpy_reference": dict(seconds_measured=ref_s, seeds_measured=ref_seeds,
                              seconds_for_all_seeds=ref_scaled),
      "speedup_warm_vs_reference": {k: ref_scaled / r["warm_s"] for k, r in rows.items()},
      "sanity_relu_mean_cos_diag": {"layer": lay, "engine": eng_relu,
                                    "numpy_reference": ref_relu},
  }
  dev = report["provenance"]["device"]
  print(f"gaplab bench cone: Fig 2b preset ({cfg.seeds} seeds x {n_var} activations"
        f" x {cfg.depth} layers, N={cfg.n_samples}, width {cfg.widths[0]}), "
        f"{dev['platform']} ({dev['kind']}, {dev['cpu_count']} CPUs)")
  for k, v in rates.items():
    print(f"  GEMM float32 {k:28s} {v / 1e9:8.1f} GFLOP/s")
  for k, r in rows.items():
    print(f"  {k:48s} cold {r['cold_s']:7.2f} s  warm {r['warm_s']:7.2f} s  "
          f"{r['gflop_per_s']:7.1f} GFLOP/s = {100 * r['fraction_of_gemm']:5.1f}% "
          f"of GEMM peak ({100 * r['fraction_of_engine_shape_gemm']:5.1f}% of the "
          f"JAX GEMM of the engine's shape);  {ref_scaled / r['warm_s']:5.2f}x "
          "faster than reference")
  extra = "" if ref_seeds == cfg.seeds else \
      f" (measured {ref_s:.2f} s on {ref_seeds} seeds, scaled)"
  print(f"  numpy reference (paper's notebook loop)       {ref_scaled:7.2f} s{extra}")
  print(f"  sanity, ReLU layer {lay} mean cosine (diag), mean over seeds: engine "
        f"{eng_relu:.4f}, reference {ref_relu:.4f} (different random draws)")
  if end_to_end is None:
    end_to_end = size != "tiny"
  if end_to_end:
    from gaplab.bench import endtoend
    row = endtoend.cone(cfg)
    report["end_to_end"] = row
    print("\n".join(endtoend.lines(f"default command ({row['command']})", row)))
  report_mod.write(report, out)
  return report
