"""The cone sweep's configuration: one frozen dataclass, checked up front.

Every check raises ``ConfigError(field, "expected ..., got ...")`` before any
work starts or any file is written (``gaplab.configs``: ``from_dict`` rejects
unknown keys).
"""
from __future__ import annotations

import dataclasses
import itertools
import math

from gaplab.configs import (DTYPES, Config, check_bool, check_choice, check_distinct,
                            check_dtype, check_int, check_int_list, check_number_list)
from gaplab.nets import activations
from gaplab.nets import inits, mlp
from gaplab._errors import ConfigError
from gaplab.cone.stats import MAX_PAIRWISE_SAMPLES

BLOCKS = mlp.BLOCKS
INPUT_KINDS = ("gaussian", "uniform")
PRECISIONS = ("default", "highest")
PAPER_SIGMA_B = 1.0 / math.sqrt(512)  # the paper's bias std at width 512
# pairwise_layers="auto": these layers (those <= depth) and the last one. The
# pairwise pass costs about as much as a layer's forward map (N^2 d / 2 vs
# N d^2 multiply-adds at N = 2d) and its histogram more on CPU, so measuring it
# at every layer doubles a sweep; the mean-cosine statistics stay at every layer.
AUTO_PAIRWISE_LAYERS = (0, 1, 2, 5, 10)
PAIRWISE_LAYER_CHOICES = ("auto", "all")


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
class ConeConfig(Config):
  """A random-network cone sweep. Grid = activations x inits x sigma_w x sigma_b
  x widths x seeds; every layer 0..depth is measured: the mean-cosine
  statistics at all of them, the pairwise ones (min/max cosine, histogram) at
  ``measured_pairwise_layers()`` (NaN and hist -1 elsewhere).

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
  seed_chunk: int = 0  # seeds per device and compiled call; 0: a speed heuristic, fitted to memory
  pairwise: bool = True
  # where pairwise statistics (min/max cosine, histogram) are measured: "auto"
  # (AUTO_PAIRWISE_LAYERS and the last), "all", or a list of layers 0..depth;
  # elsewhere they are NaN (hist -1). pairwise=False turns them off everywhere.
  pairwise_layers: str | tuple[int, ...] = "auto"
  n_bins: int = 50
  pair_block: int = 256
  precision: str = "highest"
  dtype: str = "float32"
  # validated once at the edge: it reads the user's file and float64 needs x64 on
  VALIDATE_ON_INIT = False

  # -- checks ---------------------------------------------------------------
  def validate(self) -> "ConeConfig":
    """Checks every field; returns self. Loads a user input file to check it."""
    self.resolve_inputs()
    return self

  def resolve_inputs(self):
    """Checks every field and loads the user's input file once: the array
    (N, d), or None for generated inputs. The edge (CLI, experiment, store)
    calls this once and passes the plain array inward."""
    check_int("depth", self.depth)
    check_int_list("widths", self.widths, 1)
    check_int("input_dim", self.input_dim)
    check_int("n_samples", self.n_samples, lo=2)
    check_int("seeds", self.seeds)
    check_int("seed", self.seed, lo=0)
    check_int("seed_chunk", self.seed_chunk, lo=0)
    check_int("n_bins", self.n_bins)
    check_int("pair_block", self.pair_block)
    check_number_list("sigma_w", self.sigma_w)
    check_number_list("sigma_b", self.sigma_b)
    check_choice("block", self.block, BLOCKS)
    check_choice("precision", self.precision, PRECISIONS)
    check_bool("bias", self.bias)
    check_bool("pairwise", self.pairwise)
    self._check_pairwise_layers()
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
      check_distinct(field, values)
    check_dtype(self.dtype)
    x_user = self.load_inputs()
    n = x_user.shape[0] if x_user is not None else self.n_samples
    if self.measured_pairwise_layers() and n > MAX_PAIRWISE_SAMPLES:
      raise ConfigError(
          "n_samples", f"expected at most {MAX_PAIRWISE_SAMPLES} samples with "
          f"pairwise statistics (turn them off with --no-pairwise), got {n}")
    return x_user

  def _check_pairwise_layers(self) -> None:
    value = self.pairwise_layers
    if isinstance(value, str) and value in PAIRWISE_LAYER_CHOICES:
      return
    want = f"'auto', 'all' or a non-empty list of distinct layers 0..{self.depth}"
    if (not isinstance(value, tuple) or not value
        or any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= self.depth
               for v in value) or len(set(value)) != len(value)):
      shown = list(value) if isinstance(value, tuple) else value
      raise ConfigError("pairwise_layers", f"expected {want}, got {shown!r}")

  def load_inputs(self):
    """The user input array (N, d), checked; None for generated inputs."""
    if self.inputs in INPUT_KINDS:
      return None
    from gaplab.nets.inputs import load_array
    return load_array(self.inputs)

  # -- derived --------------------------------------------------------------
  def measured_pairwise_layers(self) -> tuple[int, ...]:
    """The layers (sorted) whose pairwise statistics are computed; () when
    ``pairwise`` is off."""
    if not self.pairwise:
      return ()
    if self.pairwise_layers == "all":
      return tuple(range(self.depth + 1))
    if self.pairwise_layers == "auto":
      return tuple(sorted({l for l in AUTO_PAIRWISE_LAYERS if l <= self.depth}
                          | {self.depth}))
    return tuple(sorted(self.pairwise_layers))

  def variants(self) -> list[Variant]:
    specs = [activations.parse(a) for a in self.activations]
    grid = itertools.product(specs, self.inits, self.sigma_w, self.sigma_b)
    return [Variant(i, s.name, s.param, init, float(sw), float(sb))
            for i, (s, init, sw, sb) in enumerate(grid)]
