"""Many processes, one sweep: starting ``jax.distributed``.

A sweep's rows (seeds, runs) are split over every device of every process
(``gaplab.nets.chunks``); process 0 gathers the results and writes them, the
others write nothing. Start one process per host (or per GPU) with the same
command and ``--coordinator HOST:PORT --num-processes N --process-id I``;
without these flags, JAX's own cluster detection is used where a cluster
says it has several tasks (SLURM, Open MPI, Cloud TPU pods, ...); otherwise
the run is one process.
"""
from __future__ import annotations

import os

import numpy as np

from gaplab._errors import ConfigError

# environment variables that say this process is one of several tasks of one
# launch, which jax.distributed.initialize() can then discover without
# arguments (SLURM's per-step count: a batch script's own shell, where
# SLURM_NTASKS is already set, is not one of the tasks)
CLUSTER_SIZE_VARS = ("SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
TPU_VARS = ("TPU_WORKER_HOSTNAMES", "MEGASCALE_COORDINATOR_ADDRESS")


def check(coordinator: str | None, num_processes: int | None,
          process_id: int | None) -> None:
  """ConfigError unless the three flags are all absent or all valid."""
  given = [x is not None for x in (coordinator, num_processes, process_id)]
  if any(given) and not all(given):
    missing = [f for f, g in zip(("coordinator", "num_processes", "process_id"), given)
               if not g][0]
    raise ConfigError(missing, "expected --coordinator, --num-processes and --process-id "
                      "together, got only some of them")
  if not any(given):
    return
  host, sep, port = coordinator.rpartition(":")
  if not sep or not host or not port.isdigit():
    raise ConfigError("coordinator", f"expected HOST:PORT, got {coordinator!r}")
  if num_processes < 1:
    raise ConfigError("num_processes", f"expected an integer >= 1, got {num_processes}")
  if not 0 <= process_id < num_processes:
    raise ConfigError("process_id", f"expected an integer in [0, {num_processes}), "
                      f"got {process_id}")


def cluster_detected(env=None) -> bool:
  """Whether the environment is a multi-task cluster job JAX can discover."""
  env = os.environ if env is None else env
  for var in CLUSTER_SIZE_VARS:
    try:
      if int(env.get(var, "1")) > 1:
        return True
    except ValueError:
      pass
  return any("," in env.get(var, "") for var in TPU_VARS)


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> int:
  """Starts ``jax.distributed`` from the flags (or the cluster's environment)
  and returns the number of processes; 1 and nothing started when neither
  says there are several. On CPU, cross-process collectives use gloo."""
  check(coordinator, num_processes, process_id)
  import jax
  if coordinator is None and not cluster_detected():
    return 1
  if coordinator is not None and num_processes == 1:
    return 1
  # CPU devices of several processes talk through gloo (other backends ignore it)
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  if jax.distributed.is_initialized():
    return jax.process_count()
  if coordinator is None:
    jax.distributed.initialize()
  else:
    jax.distributed.initialize(coordinator, num_processes=num_processes,
                               process_id=process_id)
  return jax.process_count()


def from_process0(value):
  """Process 0's ``value`` (a NumPy array or scalar, or a pytree of them, of
  the same structure on every process) on every process; ``value`` itself
  with one process. Without x64, 64-bit values travel as 32-bit."""
  import jax
  if jax.process_count() == 1:
    return value
  from jax.experimental import multihost_utils
  return jax.tree.map(np.asarray, multihost_utils.broadcast_one_to_all(value))


def is_writer() -> bool:
  """Whether this process writes results (process 0)."""
  import jax
  return jax.process_index() == 0


def describe() -> dict:
  """The process layout, for provenance records."""
  import jax
  return {"processes": jax.process_count(), "process_index": jax.process_index(),
          "devices": len(jax.devices()), "local_devices": len(jax.local_devices())}
