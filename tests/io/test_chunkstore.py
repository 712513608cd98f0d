"""Resumable run directories (gaplab.io.chunkstore): what a run at OUT does
when OUT or OUT.partial exist, atomic chunk files, and the config comparison."""
import json
import os

import numpy as np
import pytest

from gaplab._errors import ConfigError
from gaplab.io import chunkstore
from gaplab.io import results

RECORD = {"kind": "cone", "config": {"depth": 3, "widths": [8, 16], "inputs": {"n": 4}},
          "plan": {"seed_chunks": [2, 2]}}


def test_flatten_round_trips_nested_dicts_and_refuses_separator_keys():
  tree = {"train": {"loss": np.arange(3.0), "gap": np.ones(2)}, "rotation": np.eye(2)}
  flat = chunkstore.flatten(tree)
  assert sorted(flat) == ["rotation", "train/gap", "train/loss"]
  back = chunkstore.unflatten(flat)
  assert back.keys() == tree.keys() and back["train"].keys() == tree["train"].keys()
  np.testing.assert_array_equal(back["train"]["loss"], tree["train"]["loss"])
  with pytest.raises(ValueError, match="without '/'"):
    chunkstore.flatten({"a/b": 1})


def test_first_difference_names_the_first_differing_key_path():
  a = {"depth": 3, "widths": [8, 16], "inputs": {"n": 4, "kind": "gaussian"}}
  assert chunkstore.first_difference(a, json.loads(json.dumps(a))) is None
  assert chunkstore.first_difference(a, dict(a, widths=[8])) == ("widths", [8, 16], [8])
  b = dict(a, inputs={"n": 5, "kind": "gaussian"})
  assert chunkstore.first_difference(a, b) == ("inputs.n", 4, 5)
  assert chunkstore.first_difference(a, dict(a, seeds=2)) == ("seeds", "(absent)", 2)


def test_chunks_are_written_whole_and_read_back_bitwise(tmp_path):
  store = chunkstore.open_store(str(tmp_path / "run"), RECORD)
  tree = {"a": np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32),
          "b": {"c": np.arange(5, dtype=np.int32)}}
  assert not store.has("width0-0")
  store.put("width0-0", tree)
  assert store.has("width0-0") and store.names() == ["width0-0"]
  got = store.get("width0-0")
  assert got["a"].dtype == np.float32 and got["b"]["c"].dtype == np.int32
  np.testing.assert_array_equal(got["a"], tree["a"])
  # no temporary file is left beside the chunk
  assert os.listdir(os.path.join(store.path, "chunks")) == ["width0-0.npz"]
  assert store.record() == RECORD


def test_a_failed_write_leaves_no_chunk(tmp_path):
  path = str(tmp_path / "x.npz")

  def boom(f):
    f.write(b"half")
    raise RuntimeError("killed")
  with pytest.raises(RuntimeError):
    chunkstore.atomic_write(path, boom)
  assert os.listdir(tmp_path) == []


def _finish(out):
  os.makedirs(out)
  for name in (results.CONFIG, results.ARRAYS):
    open(os.path.join(out, name), "w").close()


def test_what_a_run_does_at_an_existing_destination(tmp_path):
  out = str(tmp_path / "run")
  store = chunkstore.open_store(out, RECORD)
  store.put("width0-0", {"a": np.ones(2)})
  # an interrupted run is neither replaced nor continued unless asked
  with pytest.raises(ConfigError, match=r"interrupted run.*--resume.*--overwrite") as e:
    chunkstore.open_store(out, RECORD)
  assert e.value.field == "out"
  again = chunkstore.open_store(out, RECORD, resume=True)
  assert again.has("width0-0")  # resumed: the chunk is still there
  # a different config is refused, naming the first field that differs
  changed = dict(RECORD, config=dict(RECORD["config"], widths=[8, 32]))
  with pytest.raises(ConfigError, match=r"widths = \[8, 32\] where it has \[8, 16\]") as e:
    chunkstore.open_store(out, changed, resume=True)
  assert e.value.field == "resume"
  with pytest.raises(ConfigError, match="got both"):
    chunkstore.open_store(out, RECORD, resume=True, overwrite=True)
  fresh = chunkstore.open_store(out, changed, overwrite=True)  # start afresh
  assert fresh.names() == [] and fresh.record() == changed
  # a finished run: resume has nothing to do; without it, the usual refusal
  store.finish()
  done = str(tmp_path / "done")
  _finish(done)
  assert chunkstore.open_store(done, RECORD, resume=True) is None
  with pytest.raises(ConfigError, match="--overwrite"):
    chunkstore.open_store(done, RECORD)
  assert not os.path.exists(chunkstore.partial_path(done))  # nothing written


def test_a_non_writer_store_reads_and_writes_nothing(tmp_path):
  store = chunkstore.ChunkStore(str(tmp_path / "p"), writer=False)
  store.put("x", {"a": np.ones(1)})
  assert not store.has("x") and store.names() == [] and os.listdir(tmp_path) == []


def _finished_with(out, record):
  os.makedirs(out)
  with open(os.path.join(out, results.CONFIG), "w") as f:
    json.dump({chunkstore.RECORD_KEY: chunkstore.compared(record)}, f)
  open(os.path.join(out, results.ARRAYS), "w").close()


def test_resume_of_a_finished_run_checks_its_config_and_clears_a_leftover_partial(tmp_path):
  out = str(tmp_path / "run")
  store = chunkstore.open_store(out, RECORD)
  store.put("width0-0", {"a": np.ones(2)})
  # saved, then killed before the partial was removed
  _finished_with(out, RECORD)
  changed = dict(RECORD, config=dict(RECORD["config"], depth=4))
  with pytest.raises(ConfigError, match="depth = 4 where it has 3"):
    chunkstore.open_store(out, changed, resume=True)  # more work was asked for
  assert os.path.isdir(store.path)  # nothing touched by a refusal
  assert chunkstore.open_store(out, RECORD, resume=True) is None
  assert not os.path.exists(store.path)  # the leftover is gone


def test_a_partial_without_its_record_is_not_a_run(tmp_path):
  out = str(tmp_path / "run")
  part = chunkstore.partial_path(out)
  os.makedirs(os.path.join(part, "chunks"))  # killed before progress.json, or mid-removal
  open(os.path.join(part, "chunks", "width0-0.npz"), "w").close()
  store = chunkstore.open_store(out, RECORD)  # neither refused nor resumed: afresh
  assert store.names() == [] and store.record() == RECORD
  open(os.path.join(part, "chunks", ".tmp-xwidth0-1.npz"), "w").close()  # a killed write
  assert store.names() == []


def test_finish_removes_the_partial_in_one_rename(tmp_path, monkeypatch):
  store = chunkstore.open_store(str(tmp_path / "run"), RECORD)
  renames = []
  real = os.rename
  monkeypatch.setattr(os, "rename", lambda a, b: (renames.append(a), real(a, b)))
  store.finish()
  assert renames == [store.path] and os.listdir(tmp_path) == []
