"""The cone sweep's configuration: one frozen dataclass, checked up front.

Every check raises ``ConfigError(field, "expected ..., got ...")`` before any
work starts or any file is written. ``from_dict`` rejects unknown keys.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any, Mapping

from gaplab.nets import activations
from gaplab.nets import inits
from gaplab._errors import ConfigError
from gaplab.cone.stats import MAX_PAIRWISE_SAMPLES

BLOCKS = ("linear-act", "act-linear", "linear-act-linear")
INPUT_KINDS = ("gaussian", "uniform")
PRECISIONS = ("default", "highest")
DTYPES = ("float32", "float64")
PAPER_SIGMA_B = 1.0 / math.sqrt(512)  # the paper's bias std at width 512


@dataclasses.dataclass(frozen=True)
class Variant:
  """One point of the (activation x init x sigma_w x sigma_b) grid."""
  index: int
  activation: str
  act_param: float  # NaN when the activation has none
  init: str
  sigma_w: float
  sigma_b: float

  @property
  def label(self) -> str:
    act = activations.ActivationSpec(self.activation, self.act_param).label
    return f"{act}/{self.init}/sw={self.sigma_w:g}/sb={self.sigma_b:.4g}"


@dataclasses.dataclass(frozen=True)
class ConeConfig:
  """A random-network cone sweep. Grid = activations x inits x sigma_w x sigma_b
  x widths x seeds; every layer 0..depth is measured.

  Inputs are ``gaussian`` (N(0, I_input_dim)), ``uniform`` (U(-1, 1) per
  coordinate), drawn afresh for each seed, or a path to a ``.npy`` array of shape
  (N, d) shared by all seeds.
  """
  activations: tuple[str, ...] = ("relu",)
  inits: tuple[str, ...] = ("gaussian",)
  sigma_w: tuple[float, ...] = (1.0,)
  sigma_b: tuple[float, ...] = (PAPER_SIGMA_B,)
  bias: bool = True
  block: str = "linear-act"
  depth: int = 25
  widths: tuple[int, ...] = (512,)
  input_dim: int = 512
  n_samples: int = 1024
  inputs: str = "gaussian"
  seeds: int = 10
  seed: int = 0
  seed_chunk: int = 0  # seeds per compiled call; 0 picks one from memory
  pairwise: bool = True
  n_bins: int = 50
  pair_block: int = 256
  precision: str = "highest"
  dtype: str = "float32"

  @classmethod
  def from_dict(cls, d: Mapping[str, Any]) -> "ConeConfig":
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in d:
      if key not in fields:
        raise ConfigError(key, f"unknown key; expected one of {', '.join(fields)}")
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    return cls(**kw)

  def replace(self, **kw) -> "ConeConfig":
    return dataclasses.replace(self, **kw)

  def to_dict(self) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self).items()}

  # -- checks ---------------------------------------------------------------
  def validate(self) -> "ConeConfig":
    """Checks every field; returns self. Loads a user input file to check it."""
    _positive_int("depth", self.depth)
    _int_list("widths", self.widths, 1)
    _positive_int("input_dim", self.input_dim)
    _positive_int("n_samples", self.n_samples, minimum=2)
    _positive_int("seeds", self.seeds)
    _positive_int("seed", self.seed, minimum=0)
    _positive_int("seed_chunk", self.seed_chunk, minimum=0)
    _positive_int("n_bins", self.n_bins)
    _positive_int("pair_block", self.pair_block)
    _float_list("sigma_w", self.sigma_w)
    _float_list("sigma_b", self.sigma_b)
    _choice("block", self.block, BLOCKS)
    _choice("precision", self.precision, PRECISIONS)
    _choice("dtype", self.dtype, DTYPES)
    if not isinstance(self.bias, bool) or not isinstance(self.pairwise, bool):
      raise ConfigError("bias" if not isinstance(self.bias, bool) else "pairwise",
                        "expected true or false")
    if not self.activations:
      raise ConfigError("activations", "expected at least one activation")
    specs = [activations.parse(a) for a in self.activations]
    if self.block != "linear-act" and any(s.name == "maxout" for s in specs):
      raise ConfigError(
          "activations", f"maxout replaces the linear map by two; it needs "
          f"block 'linear-act', got block {self.block!r}")
    if not self.inits:
      raise ConfigError("inits", "expected at least one init scheme")
    for name in self.inits:
      inits.get(name)
    for field, values in [("activations", [s.label for s in specs]),
                          ("inits", self.inits), ("sigma_w", self.sigma_w),
                          ("sigma_b", self.sigma_b), ("widths", self.widths)]:
      if len(set(values)) != len(values):
        raise ConfigError(field, f"expected distinct values, got {list(values)}")
    if self.dtype == "float64":
      import jax
      if not jax.config.jax_enable_x64:
        raise ConfigError("dtype", "float64 needs 64-bit JAX: pass --x64 or "
                          "set JAX_ENABLE_X64=1 before importing jax")
    n = self.load_inputs().shape[0] if self.inputs not in INPUT_KINDS else self.n_samples
    if self.pairwise and n > MAX_PAIRWISE_SAMPLES:
      raise ConfigError(
          "n_samples", f"expected at most {MAX_PAIRWISE_SAMPLES} samples with "
          f"pairwise statistics (turn them off with --no-pairwise), got {n}")
    return self

  def load_inputs(self):
    """The user input array (N, d), checked; None for generated inputs."""
    if self.inputs in INPUT_KINDS:
      return None
    from gaplab.nets.inputs import load_array
    return load_array(self.inputs)

  # -- derived --------------------------------------------------------------
  def variants(self) -> list[Variant]:
    specs = [activations.parse(a) for a in self.activations]
    grid = itertools.product(specs, self.inits, self.sigma_w, self.sigma_b)
    return [Variant(i, s.name, s.param, init, float(sw), float(sb))
            for i, (s, init, sw, sb) in enumerate(grid)]


def _positive_int(field, value, minimum=1):
  if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
    raise ConfigError(field, f"expected an integer >= {minimum}, got {value!r}")


def _int_list(field, values, minimum):
  if not isinstance(values, tuple) or not values:
    raise ConfigError(field, f"expected a non-empty list of integers, got {values!r}")
  for v in values:
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
      raise ConfigError(field, f"expected integers >= {minimum}, got {v!r}")


def _float_list(field, values):
  if not isinstance(values, tuple) or not values:
    raise ConfigError(field, f"expected a non-empty list of numbers, got {values!r}")
  for v in values:
    if (isinstance(v, bool) or not isinstance(v, (int, float))
        or not math.isfinite(v) or v < 0):
      raise ConfigError(field, f"expected finite numbers >= 0, got {v!r}")


def _choice(field, value, allowed):
  if value not in allowed:
    raise ConfigError(field, f"expected one of {', '.join(allowed)}, got {value!r}")
