"""Many processes, one sweep: the multi-process flags, and two processes under
a localhost coordinator against the one-process run (four host devices in one
process: tests/cone/test_devices.py)."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from gaplab._errors import ConfigError
from gaplab.cone import engine
from gaplab.cone import store
from gaplab.cone.config import ConeConfig
from gaplab.io import results
from gaplab.runtime import distributed
import subproc

# 8 seeds, 2 per device and call: on 1 or 2 devices every device runs the
# same 2-seed calls as the one-device sweep (chunks.global_chunk), so the
# arrays are equal bitwise
CONE = dict(activations=["relu", "tanh"], depth=3, widths=[16], input_dim=8, n_samples=24,
            seeds=8, seed_chunk=2, n_bins=10)
SCRIPT = """
import json, sys
from gaplab.runtime import distributed
coordinator, i, out, cone = sys.argv[1:]
assert distributed.initialize(coordinator, 2, int(i)) == 2
from gaplab.cone import store
from gaplab.cone.config import ConeConfig
cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(cone).items()}
print(store.run_and_save(ConeConfig(**cfg), out))
"""


def test_the_flags_come_together_and_are_checked():
  distributed.check(None, None, None)
  distributed.check("localhost:1234", 2, 1)
  for args, field in [(("localhost:1", 2, None), "process_id"),
                      ((None, 2, 0), "coordinator"),
                      (("localhost", 2, 0), "coordinator"),
                      (("localhost:1", 0, 0), "num_processes"),
                      (("localhost:1", 2, 2), "process_id")]:
    with pytest.raises(ConfigError) as e:
      distributed.check(*args)
    assert e.value.field == field
  assert distributed.initialize() == 1  # no flags, no cluster: one process
  assert not distributed.cluster_detected({"SLURM_STEP_NUM_TASKS": "1"})
  assert distributed.cluster_detected({"SLURM_STEP_NUM_TASKS": "4"})
  assert not distributed.cluster_detected({"SLURM_NTASKS": "4"})  # a batch script's shell
  assert distributed.cluster_detected({"TPU_WORKER_HOSTNAMES": "a,b"})


@pytest.mark.slow
def test_two_processes_give_the_one_process_arrays(tmp_path):
  cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in CONE.items()}
  one = results.load_run(store.run_and_save(ConeConfig(**cfg), str(tmp_path / "one")))
  with socket.socket() as s:
    s.bind(("localhost", 0))
    port = s.getsockname()[1]
  env = subproc.with_devices(subproc.ENV, 1)
  # the same command on both, except that process 1 is given its own --out
  # here, to show it writes nothing
  procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, f"localhost:{port}", str(i),
                             str(tmp_path / f"p{i}"), json.dumps(CONE)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
           for i in range(2)]
  for p in procs:
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-3000:]
  assert not os.path.exists(tmp_path / "p1")
  two = results.load_run(str(tmp_path / "p0"))
  assert two.meta["provenance"]["device"] | {"count": 2, "processes": 2} == \
      two.meta["provenance"]["device"]
  for k in engine.STAT_KEYS:
    np.testing.assert_array_equal(two.arrays[k], one.arrays[k], err_msg=k)
