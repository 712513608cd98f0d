"""Resumable training sweeps: a run killed with SIGKILL mid-chunk resumes from
its orbax checkpoint and ends bitwise equal to an uninterrupted one; one
compiled program serves every chunk and segment of the resumed run."""
import json
import os
import sys

import chex
import numpy as np
import pytest

from gaplab.io import checkpoints
from gaplab.io import chunkstore
from gaplab.io import results
from gaplab.simulations import two_tower_training as tt
from gaplab.training import loop as train
import subproc

# 4 seeds x 1 temperature = 4 runs, one per chunk; 120 steps per run in 4
# checkpointed segments of 30
OVER = dict(taus=[0.1], learnable=False, length_check=False, mismatch=[0.2], seeds=4,
            steps=120, eval_every=10, log_every=5, checkpoint_every=30, run_chunk=1)
# one child process trains the sweep uninterrupted, then again to be killed
SCRIPT = """
import json, sys
from gaplab.simulations import two_tower_training as tt
over = json.loads(sys.argv[3])
tt.run(sys.argv[1], "tiny", **over)
tt.run(sys.argv[2], "tiny", **over)
"""


def _committed(part):
  """Chunks with a finished orbax checkpoint (its step folder, no tmp suffix)."""
  steps = subproc.files(f"{part}/ckpt/*/[0-9]*")
  return {os.path.basename(os.path.dirname(s)) for s in steps
          if os.path.basename(s).isdigit()}  # not orbax's STEP.orbax-checkpoint-tmp


@pytest.mark.slow
def test_a_killed_training_sweep_resumes_mid_run_to_the_same_arrays(tmp_path, monkeypatch):
  whole_dir, out = str(tmp_path / "whole"), str(tmp_path / "killed")
  part = chunkstore.partial_path(out)

  def ready():  # a chunk saved, and a later one checkpointed mid-run
    saved = {os.path.basename(f)[:-4] for f in subproc.files(f"{part}/chunks/*.npz")}
    mid = _committed(part) - saved
    return saved and mid and (saved, mid)
  argv = [sys.executable, "-c", SCRIPT, whole_dir, out, json.dumps(OVER)]
  subproc.kill_when(argv, ready)
  saved, mid = ready()  # again, from the disk as the kill left it
  assert saved and mid
  whole = results.load_run(whole_dir)
  assert whole.arrays["eval_gap"].shape == (1, 1, 4, 13)
  restored = []
  real = checkpoints.Checkpoints.restore

  def spy(self, step):
    restored.append((os.path.basename(self.directory), step))
    return real(self, step)
  # the rest in this process: every chunk and segment left, one trace of each
  chex.clear_trace_counter()
  train.segment_programs.cache_clear()
  monkeypatch.setattr(train, "advance", chex.assert_max_traces(train.advance, n=1))
  monkeypatch.setattr(train, "begin", chex.assert_max_traces(train.begin, n=1))
  monkeypatch.setattr(checkpoints.Checkpoints, "restore", spy)
  path = tt.run(out, "tiny", resume=True, **OVER)
  train.segment_programs.cache_clear()
  assert len(saved) <= 2  # so >= 2 chunks were left: 1 from its checkpoint, the rest anew
  # the interrupted chunk went on from its checkpoint (30, 60 or 90 steps in)
  assert {name for name, _ in restored} >= mid
  assert all(step in (30, 60, 90) for _, step in restored)
  got = results.load_run(path)
  assert got.arrays.keys() == whole.arrays.keys()
  for k in whole.arrays:
    np.testing.assert_array_equal(got.arrays[k], whole.arrays[k], err_msg=k)
  assert not os.path.exists(part)
