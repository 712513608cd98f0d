"""``gaplab analyze``: every gap metric of user embeddings, stored as a run.

The run directory holds what every gaplab run holds (``config.json`` with the
resolved settings, inputs and provenance; ``arrays.npz``; ``results.csv``, one
row per scalar metric and model) plus ``metrics.json`` (the metrics, under the
keys of ``analyze.measure``), ``REPORT.md`` (``report.render``), ``figures/``
and, unless turned off, ``landscape/``: a ``gaplab landscape`` run on a random
subset of the pairs. Arrays are prefixed by what they describe: ``main/``,
``compare/`` (``--compare``) and ``after/NAME/`` (``--intervention``).
"""
from __future__ import annotations

import dataclasses
import json
import time

import jax
import numpy as np

from gaplab.embeddings import analyze
from gaplab.embeddings import blocks
from gaplab.embeddings import interventions as iv
from gaplab.embeddings import report
from gaplab.io import provenance
from gaplab.io import results
from gaplab._errors import ConfigError

METRICS, REPORT = "metrics.json", "REPORT.md"
ZERO_GAP = 1e-12  # below this l2m the gap has no direction: no landscape
LANDSCAPE_PAIRS = 5000  # the landscape's batches come from this many random pairs


def pick_pair(emb, pair) -> tuple[int, int]:
  """Indices of the two modalities to measure: by name, default the first two."""
  if pair is None:
    return 0, 1
  idx = []
  for name in pair:
    if name not in emb.names:
      raise ConfigError("pair", f"expected modality names from {', '.join(emb.names)}, "
                        f"got {name!r}")
    idx.append(emb.names.index(name))
  if len(idx) != 2 or idx[0] == idx[1]:
    raise ConfigError("pair", f"expected two different modality names, got {pair!r}")
  return idx[0], idx[1]


def _scalars(rec: dict, prefix: str = ""):
  """(name, value) for every number in a nested record, names joined by '.'."""
  for k, v in rec.items():
    name = f"{prefix}{k}"
    if isinstance(v, dict):
      yield from _scalars(v, name + ".")
    elif isinstance(v, (bool, np.bool_)):
      continue
    elif isinstance(v, (int, float, np.integer, np.floating)):
      yield name, float(v)


def _model(emb, pair, key, settings):
  i, j = pair
  a, b = emb.rows[i], emb.rows[j]
  rec, arrays = analyze.measure(a, b, key, settings)
  rec["modalities"] = [emb.names[i], emb.names[j]]
  if len(emb.names) >= 3:
    rec["gap_matrix"] = analyze.gap_matrix(emb.rows, emb.names)
  return rec, arrays


def run_and_save(emb, out: str, *, pair=None, settings=analyze.Settings(),
                 intervention_specs=(), compare=None, landscape: bool = True,
                 overwrite: bool = False) -> str:
  """Measures ``emb`` (a ``load.Embeddings``), after each intervention too,
  and ``compare`` (another one) if given; writes the run to ``out``."""
  results.check_writable(out, overwrite)
  settings = settings.validate()
  parsed = [iv.parse(s) for s in intervention_specs]  # bad specs fail before any work
  if len(set(intervention_specs)) < len(intervention_specs):
    raise ConfigError("intervention", f"expected each intervention once, got "
                      f"{list(intervention_specs)}")
  t0 = time.perf_counter()
  key = jax.random.key(settings.seed)
  ij = pick_pair(emb, pair)
  rec, arr = _model(emb, ij, key, settings)
  land = ("drawn" if rec["l2m"] > ZERO_GAP else
          f"the gap is {rec['l2m']:.3g}, so it has no direction to shift along") \
      if landscape else "turned off (--no-landscape)"
  arrays = {f"main/{k}": v for k, v in arr.items()}
  after = {}
  for spec, (name, params) in zip(intervention_specs, parsed):
    a2, b2, record = iv.apply((name, params), emb.rows[ij[0]], emb.rows[ij[1]])
    r2, arr2 = analyze.measure(a2, b2, key, settings)
    after[spec] = dict(r2, modalities=rec["modalities"], intervention=record)
    arrays.update({f"after/{spec}/{k}": v for k, v in arr2.items()})
  if after:
    rec["interventions"] = after
  if compare is not None:
    rc, arrc = _model(compare, pick_pair(compare, pair), key, settings)
    rec["compare"] = dict(rc, source=compare.source)
    arrays.update({f"compare/{k}": v for k, v in arrc.items()})
  meta = {"kind": "analyze", "config": dataclasses.asdict(settings),
          "pair": list(rec["modalities"]), "interventions": list(intervention_specs),
          "inputs": emb.source, "compare": compare.source if compare is not None else None,
          "labels": emb.labels is not None, "groups": emb.groups is not None,
          "landscape": land,
          "provenance": dict(provenance.collect(precision="highest (numpy float64 sums)",
                                                dtype=emb.source.get("dtype", "")),
                             elapsed_s=time.perf_counter() - t0)}
  rows = [("main", k, v) for k, v in _scalars(_headline(rec))]
  rows += [(f"after {s}", k, v) for s, r in after.items() for k, v in _scalars(_headline(r))]
  if compare is not None:
    rows += [("compare", k, v) for k, v in _scalars(_headline(rec["compare"]))]
  text = json.dumps(_no_nan(rec), indent=2, default=results.json_default,
                    allow_nan=False) + "\n"
  path = results.save_run(out, meta=meta, arrays=arrays, rows=rows, overwrite=overwrite,
                          header=["model", "metric", "value"],
                          extra={METRICS: text, REPORT: report.render(meta, rec)})
  if land == "drawn":
    _landscape(emb.rows[ij[0]], emb.rows[ij[1]], path, key)
  return path


def _no_nan(x):
  """The record with NaN (undefined: e.g. shares of a zero gap) as None, so
  metrics.json is strict JSON (null)."""
  if isinstance(x, dict):
    return {k: _no_nan(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_no_nan(v) for v in x]
  if isinstance(x, (float, np.floating)) and not np.isfinite(x):
    return None
  return x


def _headline(rec: dict) -> dict:
  """The record without the nested runs (interventions, compare)."""
  return {k: v for k, v in rec.items() if k not in ("interventions", "compare", "gap_matrix")}


def _landscape(a, b, path: str, key) -> None:
  from gaplab.contrastive import landscape_store
  idx = blocks.subset(jax.random.fold_in(key, 99), a.shape[0], LANDSCAPE_PAIRS)
  x, y = blocks.f64(a[idx]) if a.dtype == np.float64 else a[idx], b[idx]
  if x.shape[0] < 2:
    return
  landscape_store.run_and_save(x, y, path + "/landscape", sources={"analyze": path,
                               "pairs": int(x.shape[0])},
                               batch_size=min(50, int(x.shape[0])))


def load_metrics(run_dir: str) -> dict:
  with open(f"{run_dir}/{METRICS}") as f:
    return json.load(f)
