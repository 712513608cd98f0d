"""``gaplab landscape``: the embedding-shift landscape of user embeddings as
results data (run directory with config, provenance, arrays and a table)."""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from gaplab.nets import inputs
from gaplab.contrastive import landscape as ls
from gaplab.io import provenance
from gaplab.io import results
from gaplab.io import tables
from gaplab._errors import ConfigError


def load_pair(emb: str | None, image: str | None, text: str | None):
  """(x, y) from EMB.npy of shape (2, N, D), or from --image and --text."""
  if emb is not None and (image or text):
    raise ConfigError("emb", "expected EMB.npy or --image/--text, got both")
  if emb is not None:
    try:
      a = np.load(emb, allow_pickle=False)
    except (OSError, ValueError) as e:
      raise ConfigError("emb", f"expected a readable .npy array, got {emb!r} ({e})") from None
    if a.ndim != 3 or a.shape[0] != 2:
      raise ConfigError("emb", f"expected shape (2, N, D), got {a.shape}")
    return np.asarray(a[0]), np.asarray(a[1]), {"emb": emb}
  if not (image and text):
    raise ConfigError("emb", "expected EMB.npy of shape (2, N, D), or both --image "
                      "and --text")
  pair = []
  for path, field in ((image, "image"), (text, "text")):
    try:
      pair.append(inputs.load_array(path))
    except ConfigError as e:
      raise ConfigError(field, e.message) from None
  return pair[0], pair[1], {"image": image, "text": text}


def run_and_save(x, y, out: str, *, sources: dict, overwrite: bool = False,
                 **kw) -> str:
  results.check_writable(out, overwrite)
  t0 = time.perf_counter()
  res = ls.landscape(x, y, **kw)
  arrays = {k: np.asarray(v) for k, v in dataclasses.asdict(res).items()}
  meta = {"kind": "landscape", "sources": sources,
          "config": {k: (np.asarray(v).tolist() if v is not None else None)
                     for k, v in kw.items()},
          "inputs": {"n_pairs": int(x.shape[0]), "dim": int(x.shape[1]),
                     "sha256": [inputs.fingerprint(np.asarray(a)) for a in (x, y)]},
          "axes": {"loss": ["delta", "logit_scale"], "loss_i2t": ["delta", "logit_scale"],
                   "loss_t2i": ["delta", "logit_scale"], "signed_gap": ["delta"],
                   "gap_norm": ["delta"], "argmin_delta": ["logit_scale"],
                   "argmin_signed_gap": ["logit_scale"]},
          "provenance": dict(provenance.collect(precision="highest",
                                                dtype=str(np.asarray(x).dtype)),
                             elapsed_s=time.perf_counter() - t0)}
  rows = [(d, g, s, res.loss[i, j], res.loss_i2t[i, j], res.loss_t2i[i, j])
          for i, (d, g) in enumerate(zip(res.deltas, res.signed_gap))
          for j, s in enumerate(res.logit_scales)]
  return results.save_run(out, meta=meta, arrays=arrays, rows=rows, overwrite=overwrite,
                          header=["delta", "signed_gap", "logit_scale", "loss",
                                  "loss_i2t", "loss_t2i"])


def report(run_dir: str) -> str:
  a = results.load_run(run_dir).arrays
  rows = []
  for j, s in enumerate(a["logit_scales"]):
    i = int(np.argmin(a["loss"][:, j]))
    rows.append((f"{s:g}", f"{a['argmin_delta'][j]:g}", f"{a['argmin_signed_gap'][j]:.4f}",
                 f"{a['loss'][i, j]:.4f}"))
  return "\n".join([f"original gap {float(a['original_gap']):.4f}; {int(a['n_batches'])} batches",
                    tables.table(["logit scale", "argmin delta", "signed gap there",
                                  "loss there"], rows)])
