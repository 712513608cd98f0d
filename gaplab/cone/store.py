"""Cone sweeps as results data: run a config, save it, read it back."""
from __future__ import annotations

import dataclasses

import numpy as np

from gaplab.cone import engine
from gaplab.nets import inputs
from gaplab.io import provenance
from gaplab.io import results
from gaplab.cone import stats
from gaplab.cone.config import ConeConfig

AXES = ("width", "variant", "seed", "layer")
VARIANT_COLUMNS = ("activation", "act_param", "init", "sigma_w", "sigma_b")


def inputs_description(cfg: ConeConfig, n: int | None = None, x=None) -> dict:
  """What the sweep's inputs are; a user array (``x``, loaded when None) by its
  path, shape and hash."""
  x = cfg.load_inputs() if x is None else x
  if x is None:
    return {"kind": cfg.inputs, "n": n or cfg.n_samples, "dim": cfg.input_dim,
            "drawn": "per seed from fold_in(seed key, 0)"}
  return {"kind": "array", "path": cfg.inputs, "shape": list(x.shape),
          "sha256": inputs.fingerprint(x), "drawn": "same array for every seed"}


def metadata(out: engine.SweepOutput) -> dict:
  cfg = out.config
  inputs_desc = inputs_description(cfg, out.n_samples, out.inputs)
  return {
      "kind": "cone",
      "config": cfg.to_dict(),
      "resolved": {
          "input_dim": out.input_dim, "n_samples": out.n_samples,
          "seed_chunk": out.seed_chunk, "inputs": inputs_desc,
          "seeds": {"base": cfg.seed, "indices": list(range(cfg.seeds)),
                    "keys": "jax.random.fold_in(jax.random.key(base), index)"},
      },
      "variants": [dict(dataclasses.asdict(v), label=v.label) for v in out.variants],
      "axes": {k: list(AXES) + (["bin"] if k == "hist" else [])
               for k in engine.STAT_KEYS},
      "coords": {"width": list(cfg.widths), "seed": list(range(cfg.seeds)),
                 "layer": list(range(cfg.depth + 1))},
      "statistics": dict(stats.SCALARS,
                         hist="count of distinct unordered pairs per cosine bin"),
      "provenance": dict(provenance.collect(precision=cfg.precision, dtype=cfg.dtype),
                         elapsed_s=out.seconds),
  }


def tidy(out: engine.SweepOutput):
  """(header, rows): one row per width x variant x seed x layer."""
  cfg = out.config
  scal = list(stats.SCALARS)
  header = (["width", "variant"] + list(VARIANT_COLUMNS)
            + ["bias", "block", "seed", "layer"] + scal)

  def rows():
    a = out.arrays
    for wi, width in enumerate(cfg.widths):
      for v in out.variants:
        vcols = [getattr(v, c) for c in VARIANT_COLUMNS]
        for s in range(cfg.seeds):
          for layer in range(cfg.depth + 1):
            yield ([width, v.index] + vcols + [cfg.bias, cfg.block, s, layer]
                   + [a[k][wi, v.index, s, layer] for k in scal])
  return header, rows()


def save(out: engine.SweepOutput, path: str, overwrite: bool = False) -> str:
  arrays = dict(out.arrays, width=np.asarray(out.config.widths),
                seed=np.arange(out.config.seeds),
                layer=np.arange(out.config.depth + 1),
                hist_edges=stats.hist_edges(out.config.n_bins))
  header, rows = tidy(out)
  return results.save_run(path, meta=metadata(out), arrays=arrays,
                          header=header, rows=rows, overwrite=overwrite)


def run_and_save(cfg: ConeConfig, path: str, overwrite: bool = False) -> str:
  """Checks everything (config and destination) first, then runs and saves;
  a user input file is loaded once, here."""
  x_user = cfg.resolve_inputs()
  results.check_writable(path, overwrite)
  return save(engine.sweep(cfg, x_user), path, overwrite)
