"""Memory planning (gaplab.runtime.memory): sizes as text, the budget, the
estimates' exact formulas, the chunk plan and its refusal, and one estimate
against the resident-set peak of the real cone program in a fresh process."""
import json
import os
import subprocess
import sys
import types

import pytest

from gaplab._errors import ConfigError
from gaplab.runtime import memory

GIB, MIB = 2**30, 2**20


@pytest.mark.parametrize("text,expected", [
    ("8G", 8 * GIB), ("8GB", 8 * GIB), ("8GiB", 8 * GIB), ("8 gib", 8 * GIB),
    ("512M", 512 * MIB), ("512MiB", 512 * MIB), ("1.5T", 3 * 2**39), ("2k", 2048),
    ("123456", 123456), ("100B", 100), (" 0.5G ", GIB // 2), (123456, 123456)])
def test_parse_bytes(text, expected):
  assert memory.parse_bytes(text) == expected


@pytest.mark.parametrize("bad", ["", "G", "8X", "8 GiBs", "8iB", "-1G", "0", "1e9", "0.1B",
                                 True, 0, -5, 1.5, None])
def test_parse_bytes_rejects(bad):
  with pytest.raises(ConfigError) as e:
    memory.parse_bytes(bad)
  assert e.value.field == "max_memory"
  assert e.value.message == f"expected a size such as 8G or 512M, got {bad!r}"


def test_format_bytes():
  assert memory.format_bytes(3 * 2**29) == "1.5 GiB"
  assert memory.format_bytes(MIB) == "1 MiB"
  assert memory.format_bytes(1536) == "1.5 KiB"
  assert memory.format_bytes(512) == "512 B"
  assert memory.format_bytes(2000 * 2**40) == "2000 TiB"


def test_device_budget(monkeypatch):
  assert memory.device_budget(max_memory=12345) == 12345
  assert memory.device_budget(max_memory="1G") == GIB
  gpu = types.SimpleNamespace(platform="gpu", memory_stats=lambda: {"bytes_limit": 1000})
  assert memory.device_budget(gpu) == 900
  cpu = types.SimpleNamespace(platform="cpu")
  monkeypatch.setattr(memory, "_mem_available", lambda: 1000)
  assert memory.device_budget(cpu) == 800
  monkeypatch.setattr(memory, "_mem_available", lambda: None)
  monkeypatch.setattr(memory, "_physical_memory", lambda: 2000)
  assert memory.device_budget(cpu) == 1600
  monkeypatch.undo()
  assert 0 < memory.device_budget() < memory._physical_memory()  # this process's device


def test_estimate_total():
  assert memory.Estimate(fixed=100, per_item=10).total(3) == 130
  assert memory.Estimate(fixed=7, per_item=0).total(1000) == 7


def test_gram_block_elements():
  # (k, b, b): b rows per block (as resolved by the caller), k = (nb - 1) // 2
  assert memory.gram_block_elements(100, 256) == 100 * 100      # one block
  assert memory.gram_block_elements(1024, 256) == 256 * 256     # 4 blocks, k = 1
  assert memory.gram_block_elements(2048, 256) == 3 * 256 * 256  # 8 blocks, k = 3
  assert memory.gram_block_elements(1000, 250) == 250 * 250     # b = stats.block_size(1000, 256)


def test_cone_estimate_formula():
  kw = dict(n_variants=2, n_samples=100, width=8, input_dim=4, depth=3, n_bins=6,
            pair_block=256, itemsize=4)
  stacks = 3.0 * 2 * 100 * 8 + 2.5 * 100 * 4 + 4.0 * 8 * 8
  outputs = 3 * 2 * 4 * (10 + 6) * 4
  off = memory.cone_estimate(**kw, pairwise=False, shared_inputs=False)
  assert off == memory.Estimate(0, int(stacks * 4) + outputs)
  on = memory.cone_estimate(**kw, pairwise=True, shared_inputs=True, n_families=2)
  assert on == memory.Estimate(100 * 4 * 4, int((stacks + 4.0 * 64 + 10.0 * 2 * 100**2) * 4)
                               + outputs)


def test_train_estimate_formula():
  est = memory.train_estimate(n_params=1000, batch_size=16, n_eval=32, n_train=128,
                              view_dims=(16, 8), widths_sum=100, embed_dim=8, log_steps=20,
                              n_logged=8, itemsize=4)
  step = 3 * 16 * 100 + 4 * 3 * 16**2 + 2 * 16 * 24  # > the evaluation's 32 * 100 + 3 * 32**2
  elements = 5 * 1000 + step + 2 * 8**2 + 2 * 20 * 8
  assert est == memory.Estimate((128 + 32) * 24 * 4, elements * 4 + 12 * 128)
  big_eval = memory.train_estimate(n_params=1000, batch_size=16, n_eval=64, n_train=128,
                                   view_dims=(16, 8), widths_sum=100, embed_dim=8,
                                   log_steps=20, n_logged=8, itemsize=4)
  evaluation = 64 * 100 + 3 * 64**2  # now the larger phase
  assert big_eval.per_item - est.per_item == (evaluation - step) * 4


def _plan(fixed, per_item, n, budget, **kw):
  p = memory.plan_chunk(memory.Estimate(fixed, per_item), n, budget, **kw)
  return p.chunk, p.n_chunks, p.per_device, p.estimate_bytes


def test_plan_chunk_fits():
  assert _plan(100, 10, 8, 10_000) == (8, 1, 8, 180)                # all rows at once
  assert _plan(100, 10, 8, 10_000, preferred=3) == (3, 3, 3, 130)   # the caller's cap
  assert _plan(100, 10, 8, 10_000, preferred=50) == (8, 1, 8, 180)  # never above n
  assert _plan(100, 10, 8, 180) == (8, 1, 8, 180)                   # exactly the budget
  # memory allows 5 of 8: two calls either way, so 4 + 4 rather than 5 + 3 (padded)
  assert _plan(100, 10, 8, 150) == (4, 2, 4, 140)
  assert _plan(100, 10, 8, 139) == (3, 3, 3, 130)
  assert _plan(100, 0, 8, 100) == (8, 1, 8, 100)                    # nothing per row


def test_plan_chunk_rounds_to_devices():
  # each device gets chunk / n_devices rows; a chunk is padded up to the devices
  assert _plan(100, 10, 10, 10_000, n_devices=4) == (12, 1, 3, 130)
  assert _plan(100, 10, 10, 10_000, n_devices=4, preferred=5) == (8, 2, 2, 120)
  assert _plan(100, 10, 3, 10_000, n_devices=4) == (4, 1, 1, 110)
  assert _plan(100, 10, 10, 125, n_devices=4) == (8, 2, 2, 120)     # 2 per device fit
  assert _plan(100, 10, 10, 110, n_devices=2) == (2, 5, 1, 110)


def test_plan_chunk_refuses_with_what_fits():
  with pytest.raises(ConfigError) as e:
    memory.plan_chunk(memory.Estimate(MIB, 3 * MIB), 4, 2 * MIB)
  assert e.value.field == "max_memory"
  assert e.value.message == (
      "expected room for one seed (needs 4 MiB per device: 1 MiB shared + 3 MiB per seed), "
      "got a budget of 2 MiB; lower n_samples, width or the number of variants or raise "
      "--max-memory")
  with pytest.raises(ConfigError, match=r"one run \(needs .* per run\).*lower batch_size"):
    memory.plan_chunk(memory.Estimate(0, 200), 4, 100, n_devices=2, item="run")


def test_plan_describe():
  p = memory.plan_chunk(memory.Estimate(0, 256 * MIB), 10, GIB, n_devices=2)
  assert (p.chunk, p.n_chunks, p.per_device) == (6, 2, 3)  # 4 per device fit: 2 calls
  assert p.describe() == (
      "chunk: 6 seeds per compiled call (3 per device x 2 devices), 2 chunks\n"
      "estimated peak memory: 768 MiB per device of a budget of 1 GiB (75%)")
  one = memory.plan_chunk(memory.Estimate(0, 10), 1, 100, item="run")
  assert one.describe().splitlines()[0] == "chunk: 1 run per compiled call, 1 chunk"


# The measured peak: the real cone program for one shape, in a fresh process so
# that no memory freed by earlier work is reused unseen. After compiling, the
# resident-set high-water mark is reset (/proc/self/clear_refs), the program's
# first call runs, and VmHWM - VmRSS is its peak. (Later calls can reuse pages
# the allocator kept from the first and read as almost nothing.)
_MEASURE = """
import json, sys
import jax
from gaplab.cone import engine
from gaplab.cone.config import ConeConfig

def status(key):
  with open("/proc/self/status") as f:
    return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key))

cfg = ConeConfig(**json.loads(sys.argv[1]))
stacks = engine.family_stacks(cfg.variants())
plan = engine.Plan(families=tuple((f, engine.segments(vs)) for f, vs in stacks.items()),
                   block=cfg.block, depth=cfg.depth, width=cfg.widths[0],
                   input_dim=cfg.input_dim, n_samples=cfg.n_samples, inputs=cfg.inputs,
                   n_bins=cfg.n_bins, pair_block=cfg.pair_block, pairwise=cfg.pairwise,
                   dtype=cfg.dtype, precision=cfg.precision)
params = engine.family_params(cfg, stacks, cfg.widths[0], cfg.input_dim, jax.numpy.float32)
keys = engine.seed_keys(cfg)
program = engine.compiled(plan).lower(keys, None, params).compile()
xla = program.memory_analysis()
with open("/proc/self/clear_refs", "w") as f:
  f.write("5")
before = status("VmRSS")
jax.block_until_ready(program(keys, None, params))
print(json.dumps({"measured": status("VmHWM") - before,
                  "xla": xla.temp_size_in_bytes + xla.argument_size_in_bytes
                         + xla.output_size_in_bytes}))
"""
# 64 variants of 2048 samples at width 32, 4 seeds: about 200 MiB. Without the
# pairwise statistics it compiles in about 2.5 s (with them, 4-5 s; two such
# shapes came to 1.3 and 1.4 x their measured peaks).
_SHAPE = dict(n_samples=2048, widths=[32], input_dim=32, depth=2, n_bins=50,
              sigma_w=[1 + 0.1 * i for i in range(16)], sigma_b=[0.01, 0.02, 0.03, 0.04],
              seeds=4, pairwise=False, dtype="float32")


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_cone_estimate_near_the_measured_peak():
  out = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps(_SHAPE)], check=True,
                       capture_output=True, text=True, timeout=120)
  got = json.loads(out.stdout.strip().splitlines()[-1])
  est = memory.cone_estimate(
      n_variants=64, n_samples=2048, width=32, input_dim=32, depth=2, n_bins=50,
      pair_block=256, pairwise=False, itemsize=4, shared_inputs=False).total(4)
  ratio = est / got["measured"]
  # Calibration (23 shapes against XLA's memory analysis, which was within 6%
  # of the peak measured as here on the 6 measured): the estimate ran 0.88-1.8
  # x, a sum of terms where XLA reuses buffers between phases. This shape came
  # to 0.93 (195 MiB estimated, 209 measured); [0.6, 2.2] is that range with
  # room for allocator and page rounding.
  assert 0.6 <= ratio <= 2.2, (est, got)
