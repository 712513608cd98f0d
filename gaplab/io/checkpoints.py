"""Checkpoints inside a long computation, with orbax-checkpoint.

A ``Checkpoints`` folder keeps the latest state of one chunk of a run as a
nested dict of NumPy arrays (``{"state": {"000": ...}, "train": {...}}``),
saved by orbax under a step number: orbax writes each checkpoint to a
temporary folder and renames it once complete, so a process killed while
saving leaves the previous checkpoint intact. Only the writer process (process
0 of a multi-process run) touches the disk; orbax is told that it saves alone
(``active_processes={0}``), so the other processes are never waited for.
"""
from __future__ import annotations

import logging
import os

import numpy as np


class Checkpoints:
  """The checkpoints of one chunk in ``directory`` (created on first save);
  ``keep`` most recent ones are kept."""

  def __init__(self, directory: str, keep: int = 1):
    self.directory, self.keep = os.path.abspath(directory), keep
    self._manager = None

  def _mgr(self):
    if self._manager is None:
      import orbax.checkpoint as ocp  # 1 s to import: only when a run checkpoints
      # orbax logs through absl; its warning that it removed the unfinished
      # temporary folder of a killed save is what resuming expects
      logging.getLogger("absl").setLevel(logging.ERROR)
      os.makedirs(self.directory, exist_ok=True)  # orbax will not with active_processes
      opts = ocp.CheckpointManagerOptions(
          max_to_keep=self.keep, create=False, enable_async_checkpointing=False,
          multiprocessing_options=ocp.options.MultiprocessingOptions(
              primary_host=0, active_processes={0}))
      self._manager = ocp.CheckpointManager(self.directory, options=opts)
    return self._manager

  def latest(self) -> int | None:
    """The step of the newest complete checkpoint, None when there is none."""
    if not os.path.isdir(self.directory):
      return None
    return self._mgr().latest_step()

  def save(self, step: int, tree: dict) -> None:
    import jax
    import orbax.checkpoint as ocp
    tree = jax.tree.map(np.asarray, tree)
    self._mgr().save(int(step), args=ocp.args.StandardSave(tree))
    self._mgr().wait_until_finished()

  def restore(self, step: int) -> dict:
    import orbax.checkpoint as ocp
    import jax
    tree = self._mgr().restore(int(step), args=ocp.args.StandardRestore())
    return jax.tree.map(np.asarray, tree)

  def close(self) -> None:
    if self._manager is not None:
      self._manager.close()
      self._manager = None
