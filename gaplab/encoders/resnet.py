"""A small random-init ResNet image encoder (flax NNX), CIFAR style.

Stem: 3x3 conv to ``widths[0]``, norm, ReLU. Then one stage per width of
``blocks`` basic blocks (conv3x3-norm-ReLU-conv3x3-norm, plus the shortcut,
then ReLU); the first block of every stage after the first has stride 2 and a
1x1 conv + norm shortcut. Global average pool, then a bias-free linear
projection to ``embed_dim`` (as CLIP's ``proj``).

Init (torchvision's ResNet): conv kernels kaiming-normal, fan_out mode, gain
sqrt 2 (untruncated N(0, 2 / (k*k*C_out))), convs without bias; norm scale 1,
bias 0. Projection N(0, width^-1) as CLIP's ``proj`` (width = pooled features).

Norms (``norm``): ``none``; ``batch`` = train-mode BatchNorm: each call
normalises with the batch's own per-channel mean and (biased) variance over
(B, H, W), no running averages, so ``apply`` stays pure; an example's output
then depends on the rest of its batch and a batch needs >= 2 images;
``group`` = GroupNorm with ``groups`` groups (``groups=1`` is LayerNorm over
(H, W, C)). All eps = 1e-5 (PyTorch's).

Layers: ``stem``, ``block1`` .. ``blockK`` (block outputs), ``pooled``, ``embedding``.
"""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from gaplab._errors import ConfigError
from gaplab.configs import Config, check_choice, check_dtype, check_int
from gaplab.encoders import base
from gaplab.encoders import batches as enc_inputs

NORMS = ("none", "batch", "group")
EPS = 1e-5


@dataclasses.dataclass(frozen=True)
class ResNetConfig(Config):
  image_size: int = 32     # side of the square input image, pixels
  channels: int = 3        # colour channels of the input
  widths: tuple = (16, 32, 64)  # channels of each stage (stride 2 between stages)
  blocks: int = 1          # basic blocks per stage
  norm: str = "batch"      # "none", "batch" or "group" (above)
  groups: int = 8          # for norm="group"; must divide every width
  embed_dim: int = 64      # size of the output embedding (the projection's)
  dtype: str = "float32"   # of the parameters and the computation

  def validate(self):
    for f in ("image_size", "channels", "blocks", "groups", "embed_dim"):
      check_int(f, getattr(self, f))
    w = self.widths
    if (not isinstance(w, (tuple, list)) or not w
        or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in w)):
      raise ConfigError("widths", f"expected a non-empty tuple of integers >= 1, got {w!r}")
    object.__setattr__(self, "widths", tuple(w))
    check_choice("norm", self.norm, NORMS)
    if self.norm == "group" and any(v % self.groups for v in w):
      raise ConfigError("groups", f"expected a divisor of every width {w}, got {self.groups}")
    if self.image_size < 2 ** (len(w) - 1):
      raise ConfigError("image_size", f"expected >= {2 ** (len(w) - 1)} for "
                        f"{len(w)} stages, got {self.image_size}")
    check_dtype(self.dtype)
    return self



class BatchNormTrain(nnx.Module):
  """BatchNorm in train mode without running statistics (pure)."""

  def __init__(self, c: int, dtype):
    self.scale = nnx.Param(jnp.ones((c,), dtype))
    self.bias = nnx.Param(jnp.zeros((c,), dtype))

  def __call__(self, x):
    mean = jnp.mean(x, axis=(0, 1, 2))
    var = jnp.mean(jnp.square(x - mean), axis=(0, 1, 2))
    return (x - mean) * (self.scale[...] / jnp.sqrt(var + EPS)) + self.bias[...]


def _norm(cfg, c: int, rngs):
  dt = jnp.dtype(cfg.dtype)
  if cfg.norm == "batch":
    return BatchNormTrain(c, dt)
  if cfg.norm == "group":
    return nnx.GroupNorm(c, num_groups=cfg.groups, epsilon=EPS, dtype=dt,
                         param_dtype=dt, rngs=rngs)
  return lambda x: x


def _conv(cfg, cin: int, cout: int, k: int, stride: int, rngs):
  dt = jnp.dtype(cfg.dtype)
  return nnx.Conv(cin, cout, (k, k), strides=stride, padding="SAME" if k > 1 else "VALID",
                  use_bias=False, dtype=dt, param_dtype=dt, rngs=rngs,
                  kernel_init=nnx.initializers.variance_scaling(
                      2.0, "fan_out", "normal"))


class BasicBlock(nnx.Module):

  def __init__(self, cfg, cin: int, cout: int, stride: int, rngs):
    self.conv1 = _conv(cfg, cin, cout, 3, stride, rngs)
    self.norm1 = _norm(cfg, cout, rngs)
    self.conv2 = _conv(cfg, cout, cout, 3, 1, rngs)
    self.norm2 = _norm(cfg, cout, rngs)
    self.project = stride != 1 or cin != cout
    if self.project:
      self.shortcut = _conv(cfg, cin, cout, 1, stride, rngs)
      self.norm_sc = _norm(cfg, cout, rngs)

  def __call__(self, x):
    h = nnx.relu(self.norm1(self.conv1(x)))
    h = self.norm2(self.conv2(h))
    sc = self.norm_sc(self.shortcut(x)) if self.project else x
    return nnx.relu(h + sc)


class ResNet(nnx.Module):

  def __init__(self, cfg: ResNetConfig, rngs: nnx.Rngs):
    dt = jnp.dtype(cfg.dtype)
    w = cfg.widths
    self.stem = _conv(cfg, cfg.channels, w[0], 3, 1, rngs)
    self.stem_norm = _norm(cfg, w[0], rngs)
    blocks, cin = [], w[0]
    for s, cout in enumerate(w):
      for b in range(cfg.blocks):
        blocks.append(BasicBlock(cfg, cin, cout, 2 if (s > 0 and b == 0) else 1, rngs))
        cin = cout
    self.blocks = nnx.List(blocks)
    self.proj = nnx.Linear(w[-1], cfg.embed_dim, use_bias=False, dtype=dt, param_dtype=dt,
                           kernel_init=base.normal(w[-1] ** -0.5), rngs=rngs)

  def __call__(self, x):
    h = nnx.relu(self.stem_norm(self.stem(x)))
    layers = [base.flat(h)]
    for blk in self.blocks:
      h = blk(h)
      layers.append(base.flat(h))
    pooled = jnp.mean(h, axis=(1, 2))
    emb = self.proj(pooled)
    return emb, tuple(layers) + (pooled, emb)


def layer_names(cfg: ResNetConfig) -> tuple:
  k = len(cfg.widths) * cfg.blocks
  return ("stem",) + tuple(f"block{i}" for i in range(1, k + 1)) + ("pooled", "embedding")


def check(x, cfg: ResNetConfig):
  return enc_inputs.check_images(x, cfg, min_batch=2 if cfg.norm == "batch" else 1)


def build(cfg: ResNetConfig) -> base.Encoder:
  return base.Encoder("resnet", cfg, ResNet, check, enc_inputs.noise_images,
                      layer_names(cfg))
