"""One chunk of training runs, trained in checkpointed segments.

``train.segment_programs`` gives two compiled programs: ``begin`` (the runs at
step 0) and ``advance`` (the next ``per`` evaluation intervals, state in,
state out). ``train_chunk`` calls ``begin`` once and ``advance`` until the
last step, moving the state through host memory between segments (where a
checkpoint saves it) and back to the devices with the chunk's sharding. An
uninterrupted chunk and one restored from a checkpoint take the same path
from there on, so a resumed run is bitwise equal to one that never stopped.
"""
from __future__ import annotations

import jax
import numpy as np

from gaplab.nets import chunks
from gaplab.training import loop as train


def _keys_out(consts: train.RunConsts) -> train.RunConsts:
  return consts._replace(k_order=jax.random.key_data(consts.k_order),
                         k_swap=jax.random.key_data(consts.k_swap))


def _keys_in(consts: train.RunConsts) -> train.RunConsts:
  return consts._replace(k_order=jax.random.wrap_key_data(consts.k_order),
                         k_swap=jax.random.wrap_key_data(consts.k_swap))


def _on_devices(tree, axis: str):
  """A host pytree of run-major arrays back on the devices, rows sharded."""
  n = len(jax.tree.leaves(tree)[0])
  return chunks.shard(jax.tree.map(np.asarray, tree), n, axis)


def _joined(parts: list, first: dict | None = None) -> dict:
  """Per-segment logs {name: (runs, k)} joined along the step axis (after
  the step-0 evaluation ``first``, when given)."""
  lead = [] if first is None else [{k: v[:, None] for k, v in first.items()}]
  parts = lead + parts
  return {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}


def train_chunk(part, begin, advance, spec: train.Spec, per: int, ckpt=None,
                writer: bool = True, axis: str = "run") -> dict:
  """The history of one chunk of runs (``part`` = (hp, keys, params0), rows
  on the devices): {"train": {name: (runs, steps / log_every)} (``train.thin``
  of each segment's steps), "eval":
  {name: (runs, evaluations + 1)}, "rotation": (runs, D, D)}, NumPy.

  ``begin(part)`` and ``advance((hp, consts, state), first)`` are the compiled
  programs (``chunks.program`` of ``train.segment_programs``); ``per``
  intervals per segment. With ``ckpt`` (``gaplab.io.checkpoints``) the state
  and logs so far are saved after each segment but the last, and a run with a
  checkpoint goes on from its newest one.
  """
  hp = part[0]
  n_int = spec.steps // spec.eval_every
  state, consts, first = begin(part)
  consts = _keys_in(_on_devices(chunks.gather(_keys_out(consts)), axis))
  state_host, treedef = jax.tree.flatten(chunks.gather(state))
  first = chunks.gather(first)
  logs, evals, done = [], [], 0
  if ckpt is not None:
    saved = chunks.from_writer(_latest(ckpt) if writer else None, writer)
    if saved:
      state_host = [saved["state"][f"{i:04d}"] for i in range(len(state_host))]
      logs, evals, done = [saved["train"]], [saved["eval"]], int(saved["done"])
  while done < n_int:
    state = _on_devices(jax.tree.unflatten(treedef, state_host), axis)
    state, seg_logs, seg_evals = advance((hp, consts, state), np.int32(done))
    state_host = jax.tree.leaves(chunks.gather(state))
    logs.append(train.thin(chunks.gather(seg_logs), spec.log_every))
    evals.append(chunks.gather(seg_evals))
    done += per
    if ckpt is not None and writer and done < n_int:
      ckpt.save(done * spec.eval_every, {
          "state": {f"{i:04d}": a for i, a in enumerate(state_host)},
          "train": _joined(logs), "eval": _joined(evals), "done": np.int64(done)})
  if ckpt is not None:
    ckpt.close()
  return {"train": _joined(logs), "eval": _joined(evals, first),
          "rotation": chunks.gather(consts.rot)}


def _latest(ckpt):
  step = ckpt.latest()
  return None if step is None else ckpt.restore(step)

