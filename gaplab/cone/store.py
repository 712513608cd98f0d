"""Cone sweeps as results data: run a config, save it, read it back."""
from __future__ import annotations

import dataclasses
import os

import jax
import numpy as np

from gaplab.cone import engine
from gaplab.nets import chunks
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
          # where min_cos, max_cos, one_minus_max_cos and hist were computed;
          # NaN (hist -1) at the other layers
          "pairwise_layers": list(cfg.measured_pairwise_layers()),
          "seeds": {"base": cfg.seed, "indices": list(range(cfg.seeds)),
                    "keys": "jax.random.fold_in(jax.random.key(base), index)"},
      },
      "variants": [dict(dataclasses.asdict(v), label=v.label) for v in out.variants],
      "axes": {k: list(AXES) + (["bin"] if k == "hist" else [])
               for k in engine.STAT_KEYS},
      "coords": {"width": list(cfg.widths), "seed": list(range(cfg.seeds)),
                 "layer": list(range(cfg.depth + 1))},
      "statistics": dict(stats.SCALARS,
                         hist="count of distinct unordered pairs per cosine bin",
                         pairwise_layers="the pairwise ones (min_cos, max_cos, "
                         "one_minus_max_cos, hist) are computed at resolved."
                         "pairwise_layers only: NaN, hist -1, elsewhere"),
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


def save(out: engine.SweepOutput, path: str, overwrite: bool = False,
         record: dict | None = None) -> str:
  """Writes the run directory; ``record`` (the resumable run's, see
  ``chunkstore.compared``) is kept in config.json so --resume can check it."""
  arrays = dict(out.arrays, width=np.asarray(out.config.widths),
                seed=np.arange(out.config.seeds),
                layer=np.arange(out.config.depth + 1),
                hist_edges=stats.hist_edges(out.config.n_bins))
  header, rows = tidy(out)
  meta = metadata(out)
  if record is not None:
    from gaplab.io import chunkstore
    meta[chunkstore.RECORD_KEY] = chunkstore.compared(record)
  return results.save_run(path, meta=meta, arrays=arrays,
                          header=header, rows=rows, overwrite=overwrite)


def _record(cfg: ConeConfig, x_user, plans) -> dict:
  """What a resumable cone run is: its config (with the inputs' identity and
  the devices, which the numbers may depend on) and its plan (seeds per chunk
  for each width)."""
  return {"kind": "cone",
          "config": dict(cfg.to_dict(), inputs_resolved=inputs_description(cfg, x=x_user),
                         layout=chunks.layout()),
          "plan": {"seed_chunks": [p.chunk for p in plans]}}


def dry_run(cfg: ConeConfig, max_memory: int | None = None) -> str:
  """The plan a sweep would follow (chunks, estimated peak memory per device),
  without running it."""
  x_user = cfg.resolve_inputs()
  lines = [f"cone sweep: {len(cfg.variants())} variants x {cfg.seeds} seeds x depth "
           f"{cfg.depth}, {len(jax.devices())} device(s) in {jax.process_count()} process(es)"]
  for width, plan in zip(cfg.widths, engine.plan_widths(cfg, x_user, max_memory)):
    lines += [f"width {width}:"] + ["  " + ln for ln in plan.describe().splitlines()]
  return "\n".join(lines)


def run_and_save(cfg: ConeConfig, path: str, overwrite: bool = False, *,
                 resume: bool = False, max_memory: int | None = None) -> str | None:
  """Checks everything (config, destination, memory plan) first, then runs
  and saves; a user input file is loaded once, here. Each finished chunk of
  seeds is kept in ``PATH.partial`` until the run is saved: ``resume``
  continues a killed run (same config), recomputing only the missing chunks.
  Returns the run's path, or None when ``resume`` finds it already finished.
  With several processes only process 0 writes."""
  from gaplab.io import chunkstore
  x_user = cfg.resolve_inputs()
  plans = engine.plan_widths(cfg, x_user, max_memory)
  record = _record(cfg, x_user, plans)
  writer = jax.process_index() == 0
  store = chunkstore.open_store(path, record, resume=resume, overwrite=overwrite,
                                writer=writer)
  if store is None:
    return None
  seed_chunks = record["plan"]["seed_chunks"]
  if resume and writer:
    seed_chunks = store.record()["plan"]["seed_chunks"]
  seed_chunks = chunks.agreed_chunks(seed_chunks)
  out = engine.sweep(cfg, x_user, seed_chunks=seed_chunks, store=store)
  if not writer:
    return os.path.abspath(path)
  saved = save(out, path, overwrite=True, record=record)  # open_store checked it
  store.finish()
  return saved
