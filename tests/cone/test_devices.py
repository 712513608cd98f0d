"""Results do not depend on the number of devices or on 64-bit mode.

Each check runs a fresh process, because the device count and x64 are fixed
when JAX starts.
"""
import json
import pytest
import os
import subprocess
import sys

import numpy as np
import subproc

from gaplab.cone import engine
from gaplab.cone.config import ConeConfig

# 8 seeds, 2 per device and call (chunks.global_chunk): every device of a
# 4-device run makes the calls of the one-device run, so the numbers are equal
# bitwise (with fewer seeds per device XLA's batched matmuls may round apart)
CFG = dict(activations=("relu", "tanh"), depth=3, widths=(8,), input_dim=5,
           n_samples=12, seeds=8, seed_chunk=2, n_bins=10)
SCRIPT = """
import json, sys
import jax
from gaplab.cone import engine
from gaplab.cone.config import ConeConfig
out = engine.run(ConeConfig(**{k: tuple(v) if isinstance(v, list) else v
                               for k, v in json.loads(sys.argv[1]).items()}))
print(json.dumps({"devices": len(jax.devices()),
                  "x64": bool(jax.config.jax_enable_x64),
                  **{k: out.arrays[k].tolist() for k in ("mean_cos", "min_cos", "max_cos")},
                  "hist": out.arrays["hist"].tolist()}))
"""


def _fresh(n_devices):
  env = subproc.with_devices(os.environ, n_devices)
  env.pop("JAX_ENABLE_X64", None)
  p = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(CFG)], env=env,
                     capture_output=True, text=True, check=True)
  return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_four_devices_and_no_x64_give_identical_numbers():
  here = engine.run(ConeConfig(**CFG))  # this process: 1 device, x64 on
  four = _fresh(4)
  assert four["devices"] == 4 and not four["x64"]
  # seeds are sharded over the four devices; float32 numbers must not change
  for k in ("mean_cos", "min_cos", "max_cos"):
    np.testing.assert_array_equal(np.array(four[k], np.float32), here.arrays[k], err_msg=k)
  np.testing.assert_array_equal(np.array(four["hist"]), here.arrays["hist"])


TRAIN_SCRIPT = """
import json, sys
import jax
from gaplab.training import sweep as train_sweep
from gaplab.simulations import two_tower_training as tt
cfg = tt.config("tiny", run_chunk=2)
spec = train_sweep.resolve_spec(cfg)
hp, seeds = train_sweep.grid(cfg, tt.variants(cfg)[0])
hist = train_sweep.sweep(cfg, spec, train_sweep.make_data(cfg, spec, 0.2), hp, seeds)
print(json.dumps({"devices": len(jax.devices()), "gap": hist["eval"]["gap"].tolist()}))
"""


@pytest.mark.slow
def test_training_runs_sharded_over_two_devices_match_one_device():
  from gaplab.training import sweep as train_sweep
  from gaplab.simulations import two_tower_training as tt
  env = subproc.with_devices(os.environ, 2)
  env.pop("JAX_ENABLE_X64", None)
  p = subprocess.run([sys.executable, "-c", TRAIN_SCRIPT], env=env, capture_output=True,
                     text=True, check=True)
  two = json.loads(p.stdout.strip().splitlines()[-1])
  # there: 10 runs, 2 per device and call (chunks of 4, the last padded); here: one
  # chunk of 10 on one device (the program the tiny experiment tests reuse)
  cfg = tt.config("tiny")
  spec = train_sweep.resolve_spec(cfg)
  hp, seeds = train_sweep.grid(cfg, tt.variants(cfg)[0])
  here = train_sweep.sweep(cfg, spec, train_sweep.make_data(cfg, spec, 0.2), hp, seeds)
  assert two["devices"] == 2
  # float32 both sides; only the batching of the runs differs (10 here, 2 per
  # device there), which may change XLA's summation order in the last bits
  np.testing.assert_allclose(np.array(two["gap"]), here["eval"]["gap"], rtol=1e-4, atol=1e-6)
