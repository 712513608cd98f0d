"""A small random-init Vision Transformer image encoder (flax NNX), CLIP layout.

Patch embedding: a ``patch`` x ``patch`` conv with stride ``patch``, no bias.
Prepend a class (CLS) token, add a learned positional embedding, ``ln_pre``;
``depth`` pre-LN blocks (x + attn(ln_1 x); x + mlp(ln_2 x), MLP 4x with CLIP's
QuickGELU); ``ln_post`` on the CLS token (the pooled feature); bias-free
projection to ``embed_dim``.

Init (as CLIP's VisionTransformer, whose transformer keeps PyTorch defaults):
patch conv and Linear kernels U(+-1/sqrt(fan_in)) (kaiming_uniform a=sqrt 5),
Linear biases U(+-1/sqrt(fan_in)); attention in-projection (qkv) xavier-uniform
with bias 0 and out-projection bias 0 (nn.MultiheadAttention); CLS token,
positional embedding and projection N(0, dim^-1) (CLIP's ``scale = width^-0.5``
randn); LayerNorm scale 1, bias 0, eps 1e-5.

Layers: ``stem`` (residual stream after ln_pre, all tokens), ``block1`` ..
``blockN`` (residual stream, all tokens), ``pooled`` (ln_post(CLS)), ``embedding``.
"""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from gaplab._errors import ConfigError
from gaplab.configs import Config, check_dtype, check_int
from gaplab.encoders import base
from gaplab.encoders import batches as enc_inputs


@dataclasses.dataclass(frozen=True)
class ViTConfig(Config):
  image_size: int = 32     # side of the square input image, pixels
  channels: int = 3        # colour channels of the input
  patch: int = 8           # side of a square patch, pixels; must divide image_size
  dim: int = 64            # residual-stream width D
  depth: int = 4           # transformer blocks L
  heads: int = 4           # attention heads; must divide dim
  embed_dim: int = 64      # size of the output embedding (the projection's)
  dtype: str = "float32"   # of the parameters and the computation

  def validate(self):
    for f in ("image_size", "channels", "patch", "dim", "depth", "heads", "embed_dim"):
      check_int(f, getattr(self, f))
    if self.image_size % self.patch:
      raise ConfigError("patch", f"expected a divisor of image_size {self.image_size}, "
                        f"got {self.patch}")
    if self.dim % self.heads:
      raise ConfigError("heads", f"expected a divisor of dim {self.dim}, got {self.heads}")
    check_dtype(self.dtype)
    return self



def block_init(dim: int) -> base.BlockInit:
  """PyTorch defaults of CLIP's visual transformer blocks."""
  zeros = nnx.initializers.zeros
  return base.BlockInit(
      qkv=nnx.initializers.xavier_uniform(), qkv_bias=zeros,
      out=base.torch_linear_kernel(), out_bias=zeros,
      fc=base.torch_linear_kernel(), fc_bias=base.torch_bias(dim),
      proj=base.torch_linear_kernel(), proj_bias=base.torch_bias(4 * dim))


class ViT(nnx.Module):

  def __init__(self, cfg: ViTConfig, rngs: nnx.Rngs):
    dt = jnp.dtype(cfg.dtype)
    d, n = cfg.dim, (cfg.image_size // cfg.patch) ** 2
    self.patch_embed = nnx.Conv(cfg.channels, d, (cfg.patch, cfg.patch), strides=cfg.patch,
                                padding="VALID", use_bias=False, dtype=dt, param_dtype=dt,
                                kernel_init=base.torch_linear_kernel(), rngs=rngs)
    scale = base.normal(d ** -0.5)
    self.cls = nnx.Param(scale(rngs.params(), (d,), dt))
    self.pos = nnx.Param(scale(rngs.params(), (n + 1, d), dt))
    self.ln_pre = nnx.LayerNorm(d, epsilon=1e-5, dtype=dt, param_dtype=dt, rngs=rngs)
    law = block_init(d)
    self.blocks = nnx.List([base.Block(d, cfg.heads, False, law, dt, rngs=rngs)
                            for _ in range(cfg.depth)])
    self.ln_post = nnx.LayerNorm(d, epsilon=1e-5, dtype=dt, param_dtype=dt, rngs=rngs)
    self.proj = nnx.Linear(d, cfg.embed_dim, use_bias=False, dtype=dt, param_dtype=dt,
                           kernel_init=scale, rngs=rngs)

  def __call__(self, x):
    p = self.patch_embed(x)                      # (B, H/p, W/p, D)
    b, d = p.shape[0], p.shape[-1]
    p = p.reshape(b, -1, d)
    cls = jnp.broadcast_to(self.cls[...], (b, 1, d))
    h = self.ln_pre(jnp.concatenate([cls, p], axis=1) + self.pos[...])
    layers = [base.flat(h)]
    for blk in self.blocks:
      h = blk(h)
      layers.append(base.flat(h))
    pooled = self.ln_post(h[:, 0])
    emb = self.proj(pooled)
    return emb, tuple(layers) + (pooled, emb)


def layer_names(cfg: ViTConfig) -> tuple:
  return base.block_layer_names(cfg.depth)


def build(cfg: ViTConfig) -> base.Encoder:
  return base.Encoder("vit", cfg, ViT, enc_inputs.check_images, enc_inputs.noise_images,
                      layer_names(cfg))
