"""Memory planning: sizes as text, the device's memory budget, estimates of a
sweep's peak device memory from its array sizes, and the seeds (or runs) per
compiled call that fit.

The estimates are pure functions of sizes (nothing is compiled): a fixed part
shared by the rows of a chunk plus a part per row (seed or run), in bytes per
device. Their constants come from XLA's own account of the compiled programs
on CPU (``compile().memory_analysis()``: temporaries + arguments + outputs);
see ``cone_estimate`` and ``train_estimate`` for what each term counts and how
close it came. ``plan_chunk`` picks the largest chunk whose estimate fits the
budget and refuses, with ``ConfigError("max_memory", ...)``, when one row per
device does not.

Sizes use binary units: K = KiB = 2**10 bytes, M = MiB = 2**20, G = GiB =
2**30, T = TiB = 2**40 ("8G", "8GB" and "8GiB" all mean 8 * 2**30).
"""
from __future__ import annotations

import dataclasses
import os
import re

from gaplab._errors import ConfigError

__all__ = ["parse_bytes", "format_bytes", "device_budget", "Estimate", "cone_estimate",
           "gram_block_elements", "train_estimate", "ChunkPlan", "plan_chunk",
           "ACCELERATOR_FRACTION", "CPU_FRACTION"]

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:([KMGT])(?:I?B)?|B)?\s*", re.IGNORECASE)
# Of an accelerator's XLA pool (``bytes_limit``), the share a planned program
# may take: the pool also holds the previous chunk's outputs while they are
# fetched, the next chunk's inputs and library workspaces (cuBLAS, cuDNN), and
# the allocator loses some to fragmentation.
ACCELERATOR_FRACTION = 0.9
# Of the host memory available now, the share a CPU program may take: the
# Python process, JAX's runtime, the results gathered so far and the rest of
# the machine live there too, outside the estimate.
CPU_FRACTION = 0.8


def parse_bytes(text: str | int) -> int:
  """Bytes from a size such as ``8G``, ``8GB``, ``8GiB``, ``512M``, ``1.5T``
  or a plain number of bytes (``"123456"`` or an int); units are binary
  (G = GiB = 2**30) and case-insensitive. ConfigError("max_memory") otherwise."""
  if isinstance(text, int) and not isinstance(text, bool):
    if text > 0:
      return text
  elif isinstance(text, str):
    m = _SIZE.fullmatch(text)
    if m:
      n = int(float(m.group(1)) * _UNITS[(m.group(2) or "").upper()])
      if n > 0:
        return n
  raise ConfigError("max_memory", f"expected a size such as 8G or 512M, got {text!r}")


def format_bytes(n: int) -> str:
  """``n`` bytes in the largest binary unit that keeps it >= 1: "1.5 GiB"."""
  for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
    if abs(n) >= size:
      return f"{n / size:.3g} {unit}" if abs(n) < 1000 * size else f"{n / size:.0f} {unit}"
  return f"{int(n)} B"


def _mem_available() -> int | None:
  """MemAvailable of /proc/meminfo in bytes (None where there is none)."""
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return None


def _physical_memory() -> int:
  return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def device_budget(device=None, max_memory: int | None = None) -> int:
  """Bytes one device may give a planned program: ``max_memory`` when given;
  on a GPU or TPU ``ACCELERATOR_FRACTION`` of its XLA pool (``memory_stats()
  ["bytes_limit"]``); on CPU ``CPU_FRACTION`` of the host's available memory
  (MemAvailable, else all physical memory) shared by this process's CPU
  devices (host devices all draw on the same memory)."""
  if max_memory is not None:
    return parse_bytes(max_memory)
  import jax
  if device is None:
    device = jax.local_devices()[0]
  if device.platform != "cpu":
    stats = device.memory_stats() or {}
    if stats.get("bytes_limit"):
      return int(ACCELERATOR_FRACTION * stats["bytes_limit"])
  available = _mem_available()
  host = available if available is not None else _physical_memory()
  return int(CPU_FRACTION * host) // max(1, len(jax.local_devices(backend="cpu")))


@dataclasses.dataclass(frozen=True)
class Estimate:
  """Estimated peak bytes per device of a chunked program."""
  fixed: int     # independent of the chunk: arrays shared by every row, the program's own
  per_item: int  # per seed (cone) or per run (training)

  def total(self, items_per_device: int) -> int:
    """The estimated peak with ``items_per_device`` rows on each device."""
    return self.fixed + items_per_device * self.per_item


# -- the cone program --------------------------------------------------------
# Live copies of each array, fitted to XLA's memory analysis of the compiled
# cone program on CPU (23 shapes: 1-64 variants, N 256-2048, width 32-1024,
# input_dim 32-1024, pair_block 64-512, 1-2 init families, depth 2-8; XLA's
# figure was within 6% of the measured resident-set peak where measured).
# With these the estimate came to 0.88-1.8 x XLA's per seed: a sum of terms,
# where the compiled program reuses buffers between phases, so it errs high.
CONE_STACKS = 3.0   # (V, N, width) activations: the scan's carry, the new layer, the
                    # normalised rows of its statistics
CONE_INPUTS = 2.5   # (N, input_dim): the drawn inputs and their layer-0 statistics
CONE_WEIGHTS = 4.0  # (width, max(width, input_dim)) base draws of one family: random bits,
                    # the normal draw, the layer's map
CONE_GRAMS = 10.0   # (V, k, b, b) Gram blocks of one pairwise step: the Gram, the distances,
                    # their bins, the masks and masked copies


def gram_block_elements(n: int, pair_block: int) -> int:
  """Entries of the largest Gram block one pairwise step holds per variant:
  (k, b, b) with b = ``pair_block`` rows per block (the caller resolves it:
  ``gaplab.cone.stats.block_size``) and k = max(1, (nb - 1) // 2) column
  blocks (``gaplab.cone.stats._pairwise`` visits each pair of the nb blocks
  once)."""
  b = min(pair_block, n)
  nb = -(-n // b)
  return max(1, (nb - 1) // 2) * b * b


def cone_estimate(*, n_variants: int, n_samples: int, width: int, input_dim: int, depth: int,
                  n_bins: int, pair_block: int, pairwise: bool, itemsize: int,
                  shared_inputs: bool, n_families: int = 1) -> Estimate:
  """Peak bytes of the cone program (``gaplab.cone.engine._seed_program``).

  Per seed: ``CONE_STACKS`` (V, N, width) activation stacks (the layers are a
  ``lax.scan``, so depth does not multiply them), ``CONE_INPUTS`` (N,
  input_dim) inputs, ``CONE_WEIGHTS`` base weights per init family, with
  pairwise statistics ``CONE_GRAMS`` Gram blocks per variant
  (``gram_block_elements``), and the outputs: (V, depth + 1) per statistic and
  (V, depth + 1, n_bins) histograms, three copies (per-layer results, their
  stack, the concatenation). Fixed: the user's input array when shared by all
  seeds (``shared_inputs``); the per-variant scales are negligible.
  """
  v, n = n_variants, n_samples
  outputs = v * (depth + 1) * (10 + n_bins) * max(itemsize, 4)  # int32 histograms
  elements = (CONE_STACKS * v * n * width + CONE_INPUTS * n * input_dim
              + CONE_WEIGHTS * n_families * width * max(width, input_dim))
  if pairwise:
    elements += CONE_GRAMS * v * gram_block_elements(n, pair_block)
  per_seed = int(elements * itemsize) + 3 * outputs
  fixed = n * input_dim * itemsize if shared_inputs else 0
  return Estimate(fixed=fixed, per_item=per_seed)


# -- the training program ----------------------------------------------------
# Fitted to XLA's memory analysis of ``training.loop.train_runs`` on CPU (MLP
# towers, 3.7k-550k parameters, batch 16-128, n_eval 32-256): the estimate
# came to 1.06-1.4 x XLA's per run, 2 x for the tiniest towers (0.1 MiB a run).
TRAIN_PARAMS = 5.0       # parameters in and out, gradients, Adam's two moments
TRAIN_ACTIVATIONS = 3.0  # per example and activation: the forward value, its cotangent, a temporary
TRAIN_GRAMS = 4.0        # per (B, B) Gram of the three: forward, swapped, softmax, cotangent


def train_estimate(*, n_params: int, batch_size: int, n_eval: int, n_train: int,
                   view_dims: tuple, widths_sum: int, embed_dim: int, log_steps: int,
                   n_logged: int, itemsize: int) -> Estimate:
  """Peak bytes of the training program (``gaplab.training.loop``), per run.

  ``n_params``: parameters of one run's two towers; ``widths_sum``: values one
  example's forward pass through both towers creates; ``log_steps``: steps
  whose per-step logs (``n_logged`` scalars each) are held on device.

  Per run: ``TRAIN_PARAMS`` copies of the parameters; the larger of a training
  step's working set (``TRAIN_ACTIVATIONS`` copies of the batch's activations,
  ``TRAIN_GRAMS`` of each of its three (B, B) Grams, the gathered batch views)
  and an evaluation's (the evaluation set's activations and three Grams; the
  Procrustes embedding at the start is the same size), which do not overlap;
  the rotation (embed_dim, embed_dim, two copies), the epoch order (n_train
  int32, three copies while it is shuffled) and the logs (two copies: the
  scan's stack, its reshape). Fixed: the training and evaluation views, shared
  by every run.
  """
  views = sum(view_dims)
  step = (TRAIN_ACTIVATIONS * batch_size * widths_sum + TRAIN_GRAMS * 3 * batch_size**2
          + 2 * batch_size * views)
  evaluation = n_eval * widths_sum + 3 * n_eval**2
  elements = (TRAIN_PARAMS * n_params + max(step, evaluation) + 2 * embed_dim**2
              + 2 * log_steps * n_logged)
  per_run = int(elements * itemsize) + 3 * 4 * n_train
  fixed = (n_train + n_eval) * views * itemsize
  return Estimate(fixed=fixed, per_item=per_run)


# -- the plan ----------------------------------------------------------------
_HINTS = {"seed": "lower n_samples, width or the number of variants",
          "run": "lower batch_size, width or n_eval"}


@dataclasses.dataclass(frozen=True)
class ChunkPlan:
  """Rows per compiled call and what they are estimated to need."""
  chunk: int           # rows per call, a multiple of the device count
  n_chunks: int        # calls for all rows (the last one padded)
  per_device: int      # rows each device computes per call
  estimate_bytes: int  # estimated peak per device
  budget: int          # bytes per device it had to fit
  item: str = "seed"   # what a row is: "seed" or "run"

  def describe(self) -> str:
    """Lines for --dry-run: the chunking and the estimated peak vs the budget."""
    n_dev = self.chunk // self.per_device
    split = f" ({self.per_device} per device x {n_dev} devices)" if n_dev > 1 else ""
    share = self.estimate_bytes / self.budget if self.budget else float("inf")
    return "\n".join([
        f"chunk: {self.chunk} {self.item}{'s' if self.chunk != 1 else ''} per compiled "
        f"call{split}, "
        f"{self.n_chunks} chunk{'s' if self.n_chunks != 1 else ''}",
        f"estimated peak memory: {format_bytes(self.estimate_bytes)} per device of a "
        f"budget of {format_bytes(self.budget)} ({share:.0%})"])


def plan_chunk(estimate: Estimate, n_items: int, budget: int, *, n_devices: int = 1,
               preferred: int | None = None, item: str = "seed") -> ChunkPlan:
  """The chunk for ``n_items`` rows: the most rows per call, up to
  ``preferred`` (default all), whose per-device estimate fits ``budget``.

  Each device gets ``per_device`` rows and the chunk is ``per_device x
  n_devices`` (rounded up to the devices,
  the extra rows being padding). When memory, not ``preferred``, bounds the
  chunk, the rows are spread evenly over the chunks that takes (the same calls,
  less padding). ConfigError("max_memory") when one row per device does not fit.
  """
  if n_items < 1 or n_devices < 1:
    raise ValueError(f"expected n_items and n_devices >= 1, got {n_items}, {n_devices}")
  cap = min(n_items, preferred or n_items)
  one = estimate.total(1)
  if one > budget:
    raise ConfigError("max_memory", (
        f"expected room for one {item} (needs {format_bytes(one)} per device: "
        f"{format_bytes(estimate.fixed)} shared + {format_bytes(estimate.per_item)} per "
        f"{item}), got a budget of {format_bytes(budget)}; "
        f"{_HINTS.get(item, 'shrink the problem')} or raise --max-memory"))
  fits = (budget - estimate.fixed) // estimate.per_item if estimate.per_item else cap
  per_device = min(fits, -(-cap // n_devices))
  n_chunks = -(-n_items // (per_device * n_devices))
  if per_device < -(-cap // n_devices):  # memory-bound: even chunks
    per_device = -(-n_items // (n_chunks * n_devices))
  chunk = per_device * n_devices
  return ChunkPlan(chunk=chunk, n_chunks=-(-n_items // chunk), per_device=per_device,
                   estimate_bytes=estimate.total(per_device), budget=budget, item=item)
