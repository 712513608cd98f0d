"""A small random-init causal text Transformer encoder (flax NNX), CLIP layout.

Token embedding + learned positional embedding; ``depth`` pre-LN blocks with
causal self-attention (x + attn(ln_1 x); x + mlp(ln_2 x), MLP 4x, QuickGELU);
``ln_final``; one pooled token; bias-free projection to ``embed_dim``.

Pooling (``pool``): ``last`` (default) takes the last position, the EOT slot
of a full-length CLIP sequence; ``argmax`` takes the position of the largest
token id in each sequence, CLIP's own rule (its EOT token has the largest id;
for uniform random ids this is a random position). Either way, with causal
attention the pooled feature depends only on tokens at positions <= the pooled
one.

Init (CLIP's ``initialize_parameters``, untruncated normals): token embedding
N(0, 0.02^2), positional N(0, 0.01^2); per block, with D = dim, L = depth:
qkv N(0, D^-1), out-projection N(0, D^-1 / (2L)), MLP fc N(0, (2D)^-1), MLP
proj N(0, D^-1 / (2L)), all attention/MLP biases 0 (PyTorch MHA zeros its
biases; CLIP leaves the MLP biases at PyTorch's U(+-1/sqrt(fan_in)), which we
simplify to 0); text projection N(0, D^-1); LayerNorm scale 1, bias 0.

Layers: ``stem`` (token + positional embedding, all positions), ``block1`` ..
``blockN`` (residual stream, all positions), ``pooled`` (ln_final at the pooled
position), ``embedding``.
"""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from gaplab._errors import ConfigError
from gaplab.configs import Config, check_choice, check_dtype, check_int
from gaplab.encoders import base
from gaplab.encoders import batches as enc_inputs

POOLS = ("last", "argmax")


@dataclasses.dataclass(frozen=True)
class TextConfig(Config):
  vocab: int = 1000        # token ids 0 .. vocab - 1
  length: int = 16         # tokens per sequence (one learned position each)
  dim: int = 64            # residual-stream width D
  depth: int = 4           # transformer blocks L
  heads: int = 4           # attention heads; must divide dim
  embed_dim: int = 64      # size of the output embedding (the projection's)
  pool: str = "last"       # which position is pooled: "last" or "argmax" (above)
  dtype: str = "float32"   # of the parameters and the computation

  def validate(self):
    for f in ("vocab", "length", "dim", "depth", "heads", "embed_dim"):
      check_int(f, getattr(self, f))
    if self.dim % self.heads:
      raise ConfigError("heads", f"expected a divisor of dim {self.dim}, got {self.heads}")
    check_choice("pool", self.pool, POOLS)
    check_dtype(self.dtype)
    return self



def block_init(dim: int, depth: int) -> base.BlockInit:
  """CLIP's explicit text-transformer init."""
  zeros = nnx.initializers.zeros
  attn_std, proj_std, fc_std = dim ** -0.5, dim ** -0.5 * (2 * depth) ** -0.5, (2 * dim) ** -0.5
  return base.BlockInit(
      qkv=base.normal(attn_std), qkv_bias=zeros,
      out=base.normal(proj_std), out_bias=zeros,
      fc=base.normal(fc_std), fc_bias=zeros,
      proj=base.normal(proj_std), proj_bias=zeros)


class TextTransformer(nnx.Module):

  def __init__(self, cfg: TextConfig, rngs: nnx.Rngs):
    dt = jnp.dtype(cfg.dtype)
    d = cfg.dim
    self.pool = cfg.pool
    self.tok = nnx.Param(base.normal(0.02)(rngs.params(), (cfg.vocab, d), dt))
    self.pos = nnx.Param(base.normal(0.01)(rngs.params(), (cfg.length, d), dt))
    law = block_init(d, cfg.depth)
    self.blocks = nnx.List([base.Block(d, cfg.heads, True, law, dt, rngs=rngs)
                            for _ in range(cfg.depth)])
    self.ln_final = nnx.LayerNorm(d, epsilon=1e-5, dtype=dt, param_dtype=dt, rngs=rngs)
    self.proj = nnx.Linear(d, cfg.embed_dim, use_bias=False, dtype=dt, param_dtype=dt,
                           kernel_init=base.normal(d ** -0.5), rngs=rngs)

  def __call__(self, tokens):
    h = jnp.take(self.tok[...], tokens, axis=0) + self.pos[...]
    layers = [base.flat(h)]
    for blk in self.blocks:
      h = blk(h)
      layers.append(base.flat(h))
    b = tokens.shape[0]
    at = (jnp.full((b,), tokens.shape[1] - 1) if self.pool == "last"
          else jnp.argmax(tokens, axis=-1))
    pooled = self.ln_final(h[jnp.arange(b), at])
    emb = self.proj(pooled)
    return emb, tuple(layers) + (pooled, emb)


def layer_names(cfg: TextConfig) -> tuple:
  return base.block_layer_names(cfg.depth)


def build(cfg: TextConfig) -> base.Encoder:
  return base.Encoder("text", cfg, TextTransformer, enc_inputs.check_tokens,
                      enc_inputs.random_tokens, layer_names(cfg))
