"""Training sweeps as results data: what the training experiment files share.

``TRAIN_PRESET`` holds every key ``train_sweep`` reads. ``run_and_save`` trains
the runs (seeds x variants) for each mismatch level (one compiled program: the
data are arguments) and, for each ``share`` setting, writes one run directory:
arrays ``train_NAME`` (setting, mismatch, run, step) and ``eval_NAME``
(setting, mismatch, run, eval point) for NAME in ``train.LOGGED``, the runs'
seeds and variants, config, provenance and a tidy table of the final
evaluation. ``summary`` reduces a saved run to per-variant means and sds.
"""
from __future__ import annotations

import math
import time

import numpy as np

from gaplab import checks, provenance, results, train, train_sweep
from gaplab._errors import ConfigError

TRAIN_PRESET = dict(
    image_encoder="mlp", text_encoder="mlp", encoder_sizes="tiny", view_dim=64,
    width=128, depth=3, embed_dim=32, activation="relu", sigma_w=1.0,
    sigma_b=1 / math.sqrt(512), share="none", steps=600, batch_size=128, eval_every=25,
    n_train=4096, n_eval=512, latent_dim=8, noise=0.1, n_classes=0, class_spread=0.5,
    mismatch=[0.0, 0.2], data_seed=0, seed=0, seeds=8, run_chunk=0, lr=1e-3, lr_tau=1e-3,
    swap=0.0,
    w_align=0.0, w_unif=0.0, dtype="float32")
TRAIN_QUICK = dict(seeds=3, steps=150, width=64, n_train=1024, n_eval=256)
TRAIN_TINY = dict(width=32, depth=2, embed_dim=8, view_dim=16, steps=20, eval_every=10,
                  batch_size=16, n_train=128, n_eval=32, seeds=2)


def check_common(cfg: dict) -> None:
  for m in cfg["mismatch"]:
    if not isinstance(m, (int, float)) or isinstance(m, bool) or not 0 <= m <= 1:
      raise ConfigError("mismatch", f"expected fractions in [0, 1], got {cfg['mismatch']!r}")
  if cfg["dtype"] not in ("float32", "float64"):
    raise ConfigError("dtype", f"expected float32 or float64, got {cfg['dtype']!r}")


def validate(cfg: dict, variants, shares=None) -> dict:
  """Raises ConfigError unless every share setting, the mismatch levels and
  the runs of ``variants(cfg)`` are valid; returns ``cfg``."""
  for s in shares or [cfg["share"]]:
    train_sweep.resolve_spec(dict(cfg, share=s))
  check_common(cfg)
  train_sweep.grid(cfg, variants(cfg)[0])
  return cfg


def run_experiment(module, out: str, size: str, overwrite: bool, overrides: dict) -> str:
  """``run`` of a training experiment file (``config``, ``variants``, ``NAME``)."""
  cfg = module.config(size, **overrides)
  v, labels = module.variants(cfg)
  return run_and_save(out, cfg, v, labels, kind=module.NAME, overwrite=overwrite,
                      shares=cfg.get("shares"))


def run_and_save(out: str, cfg: dict, variants: list[dict], labels: list[str], *,
                 kind: str, overwrite: bool, shares=None) -> str:
  """Trains seeds x ``variants`` for every mismatch level and share setting."""
  shares = list(shares or [cfg["share"]])
  specs = [train_sweep.resolve_spec(dict(cfg, share=s)) for s in shares]
  check_common(cfg)
  hp, seed_index = train_sweep.grid(cfg, variants)
  results.check_writable(out, overwrite)
  if cfg["dtype"] == "float64":
    checks.enable_x64()
  import jax.numpy as jnp
  dtype = jnp.float64 if cfg["dtype"] == "float64" else jnp.float32
  t0 = time.perf_counter()
  hist = []
  for spec in specs:
    per_m = []
    for m in cfg["mismatch"]:
      data = train_sweep.make_data(cfg, spec, float(m))
      per_m.append(train_sweep.sweep(cfg, spec, data, hp, seed_index, dtype))
    hist.append(per_m)
  arrays = {f"{part}_{k}": np.stack([np.stack([h[part][k] for h in per_m]) for per_m in hist])
            for part in ("train", "eval") for k in train.LOGGED}
  arrays["rotation"] = np.stack([np.stack([h["rotation"] for h in per_m]) for per_m in hist])
  arrays.update(seed_index=seed_index, **{f"hp_{k}": v for k, v in hp.items()})
  n_eval = arrays["eval_gap"].shape[-1]
  meta = {"kind": kind, "config": cfg, "variants": variants, "labels": labels,
          "shares": shares,
          "axes": {**{f"train_{k}": ["share", "mismatch", "run", "step"] for k in train.LOGGED},
                   **{f"eval_{k}": ["share", "mismatch", "run", "eval_step"]
                      for k in train.LOGGED},
                   "rotation": ["share", "mismatch", "run", "embed", "embed"]},
          "coords": {"share": shares, "mismatch": cfg["mismatch"],
                     "run": {"seed": seed_index.tolist(),
                             "variant": [i % len(variants) for i in range(len(seed_index))]},
                     "step": list(range(cfg["steps"])),
                     "eval_step": [0] + [(i + 1) * cfg["eval_every"] for i in range(n_eval - 1)]},
          "provenance": dict(provenance.collect(precision="highest", dtype=cfg["dtype"]),
                             elapsed_s=time.perf_counter() - t0)}
  rows = [(s, m, int(seed_index[r]), labels[r % len(variants)], step,
           *(arrays[f"eval_{k}"][si, mi, r, e] for k in train.LOGGED))
          for si, s in enumerate(shares) for mi, m in enumerate(cfg["mismatch"])
          for r in range(len(seed_index))
          for e, step in enumerate(meta["coords"]["eval_step"])]
  return results.save_run(out, meta=meta, arrays=arrays, rows=rows, overwrite=overwrite,
                          header=["share", "mismatch", "seed", "variant", "step",
                                  *train.LOGGED])


def by_variant(run, name: str, share: int = 0, mismatch: int = 0):
  """``eval_NAME`` or ``train_NAME`` of one setting as (variant, seed, point)."""
  a = run.arrays[name][share, mismatch]
  n_var = len(run.meta["variants"])
  return a.reshape(-1, n_var, a.shape[-1]).transpose(1, 0, 2)


def summary(run, name: str = "eval_gap", point: int = -1) -> np.ndarray:
  """(share, mismatch, variant, 2): mean and sd over seeds at one eval point."""
  out = np.zeros((len(run.meta["shares"]), len(run.meta["coords"]["mismatch"]),
                  len(run.meta["variants"]), 2))
  for s in range(out.shape[0]):
    for m in range(out.shape[1]):
      v = by_variant(run, name, s, m)[:, :, point]
      out[s, m, :, 0] = v.mean(1)
      out[s, m, :, 1] = v.std(1, ddof=1) if v.shape[1] > 1 else 0.0
  return out
