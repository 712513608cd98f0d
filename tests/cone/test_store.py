"""Resumable cone sweeps: a sweep killed with SIGKILL mid-run and resumed
equals an uninterrupted one bitwise (whose 12 chunks share one compiled
program); finished runs and changed configs."""
import os

import chex
import numpy as np
import pytest

from gaplab.cone import engine
from gaplab.cone import store
from gaplab.cone.config import ConeConfig
from gaplab.io import chunkstore
from gaplab.io import results
import subproc

# heavy enough that a chunk (one seed) takes tens of ms, so the run can be
# caught between chunks: 12 chunks
CFG = dict(activations=("relu", "tanh"), depth=6, widths=(64,), input_dim=32,
           n_samples=384, seeds=12, seed_chunk=1, n_bins=20)
ARGS = ["cone", "--activations", "relu,tanh", "--depth", "6", "--width", "64",
        "--input-dim", "32", "--n-samples", "384", "--seeds", "12", "--seed-chunk", "1",
        "--n-bins", "20", "--quiet"]


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
  # uninterrupted, chunk by chunk into its store: one trace for all 12 chunks
  chex.clear_trace_counter()
  engine.compiled.cache_clear()
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(engine, "_seed_program", chex.assert_max_traces(engine._seed_program, n=1))
    path = store.run_and_save(ConeConfig(**CFG), str(tmp_path_factory.mktemp("cone") / "w"))
  engine.compiled.cache_clear()
  return results.load_run(path)


@pytest.mark.slow
def test_a_killed_sweep_resumes_to_the_same_arrays(whole, tmp_path):
  out = str(tmp_path / "killed")
  part = chunkstore.partial_path(out)
  # killed once 3 of its 12 chunks are on disk
  done = subproc.kill_when(subproc.gaplab_argv(ARGS + ["--out", out]),
                           lambda: len(subproc.files(f"{part}/chunks/*.npz")) >= 3 and
                           subproc.files(f"{part}/chunks/*.npz"))
  assert not os.path.exists(out) and 3 <= len(done) < 12
  saved = chunkstore.ChunkStore(part).names()  # whole chunks, not a killed write
  computed = []
  real_put = chunkstore.ChunkStore.put

  def spy(self, name, tree):
    computed.append(name)
    real_put(self, name, tree)
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(chunkstore.ChunkStore, "put", spy)
    path = store.run_and_save(ConeConfig(**CFG), out, resume=True)
  # only the missing chunks were computed; the result is the uninterrupted one
  assert sorted(computed + saved) == sorted(f"width0-{i}" for i in range(12))
  assert not set(computed) & set(saved)
  got = results.load_run(path)
  for k in engine.STAT_KEYS:
    np.testing.assert_array_equal(got.arrays[k], whole.arrays[k], err_msg=k)
  assert not os.path.exists(part)  # the partial directory is gone once saved
  # resuming a finished run does nothing
  assert store.run_and_save(ConeConfig(**CFG), out, resume=True) is None


def test_resume_refuses_a_changed_config(tmp_path, capsys):
  from clihelp import run_cli
  out = str(tmp_path / "run")
  small = ["cone", "--depth", "2", "--width", "8", "--input-dim", "4", "--n-samples", "6",
           "--seeds", "3", "--seed-chunk", "1", "--quiet", "--out", out]
  st = chunkstore.open_store(out, store._record(ConeConfig(depth=2, widths=(8,), input_dim=4,
                                                           n_samples=6, seeds=3, seed_chunk=1),
                                                None, engine.plan_widths(
      ConeConfig(depth=2, widths=(8,), input_dim=4, n_samples=6, seeds=3, seed_chunk=1),
      None)))
  st.put("width0-0", {"x": np.ones(1)})  # an interrupted run of the same sweep
  rc, _, err = run_cli(small[:2] + ["3"] + small[3:] + ["--resume"], capsys)
  assert rc == 2 and err.count("\n") == 1
  assert "argument --resume" in err and "depth = 3 where it has 2" in err
  rc, _, err = run_cli(small, capsys)  # neither --resume nor --overwrite
  assert rc == 2 and "argument --out" in err and "--resume" in err
  assert os.listdir(os.path.join(st.path, "chunks")) == ["width0-0.npz"]  # kept
