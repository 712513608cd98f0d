"""Shared pieces of the random-init encoders: init laws, the
``Encoder`` wrapper (pure ``init``/``apply`` over an NNX graphdef) and the
pre-LN transformer block used by the ViT and the text encoder."""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
from flax import nnx

from gaplab.configs import check_int

# --------------------------------------------------------------------- init laws
def torch_linear_kernel():
  """PyTorch nn.Linear / nn.Conv default: kaiming_uniform(a=sqrt 5) = U(+-1/sqrt(fan_in))."""
  return nnx.initializers.variance_scaling(1 / 3, "fan_in", "uniform")


def torch_bias(fan_in: int):
  """PyTorch's default bias law U(+-1/sqrt(fan_in))."""
  b = fan_in ** -0.5
  return lambda key, shape, dtype: jax.random.uniform(key, shape, dtype, -b, b)


def normal(std: float):
  """Untruncated N(0, std^2) (CLIP's explicit inits)."""
  return lambda key, shape, dtype: std * jax.random.normal(key, shape, dtype)


def quick_gelu(x):
  """CLIP's x * sigmoid(1.702 x)."""
  return x * jax.nn.sigmoid(1.702 * x)


# ------------------------------------------------------------- transformer block
@dataclasses.dataclass(frozen=True)
class BlockInit:
  """Init laws of a transformer block (callables key, shape, dtype -> array)."""
  qkv: Callable
  qkv_bias: Callable
  out: Callable
  out_bias: Callable
  fc: Callable
  fc_bias: Callable
  proj: Callable
  proj_bias: Callable


class Block(nnx.Module):
  """Pre-LN residual block: x + attn(ln_1 x); x + mlp(ln_2 x), MLP 4x, QuickGELU."""

  def __init__(self, dim: int, heads: int, causal: bool, law: BlockInit, dtype,
               *, rngs: nnx.Rngs):
    kw = dict(dtype=dtype, param_dtype=dtype, rngs=rngs)
    self.heads, self.causal = heads, causal
    self.ln_1 = nnx.LayerNorm(dim, epsilon=1e-5, **kw)
    self.ln_2 = nnx.LayerNorm(dim, epsilon=1e-5, **kw)
    self.qkv = nnx.Linear(dim, 3 * dim, kernel_init=law.qkv, bias_init=law.qkv_bias, **kw)
    self.out = nnx.Linear(dim, dim, kernel_init=law.out, bias_init=law.out_bias, **kw)
    self.fc = nnx.Linear(dim, 4 * dim, kernel_init=law.fc, bias_init=law.fc_bias, **kw)
    self.proj = nnx.Linear(4 * dim, dim, kernel_init=law.proj, bias_init=law.proj_bias, **kw)

  def attention(self, x):
    b, n, d = x.shape
    h = self.heads
    q, k, v = jnp.split(self.qkv(x).reshape(b, n, 3, h, d // h), 3, axis=2)
    q, k, v = (a[:, :, 0] for a in (q, k, v))  # (b, n, h, d/h)
    logits = jnp.einsum("bqhc,bkhc->bhqk", q, k) * (d // h) ** -0.5
    if self.causal:
      mask = jnp.tril(jnp.ones((n, n), bool))
      logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
    w = jax.nn.softmax(logits, axis=-1)
    return self.out(jnp.einsum("bhqk,bkhc->bqhc", w, v).reshape(b, n, d))

  def __call__(self, x):
    x = x + self.attention(self.ln_1(x))
    return x + self.proj(quick_gelu(self.fc(self.ln_2(x))))


# ------------------------------------------------------------------- the wrapper
def block_layer_names(depth: int) -> tuple:
  """stem, block1..block{depth}, pooled, embedding."""
  return (("stem",) + tuple(f"block{i}" for i in range(1, depth + 1))
          + ("pooled", "embedding"))


def flat(x):
  """(B, ...) -> (B, features)."""
  return x.reshape(x.shape[0], -1)


class Encoder:
  """A random-init encoder as pure functions of an ``nnx.State``.

  ``init(key) -> state`` and ``apply(state, x) -> (embedding, layers)`` are pure
  (vmap/jit them freely); ``layers`` is a tuple of (B, features) arrays in the
  order of ``layer_names`` (a tuple, because dicts come back from jax
  transforms with sorted keys). ``apply`` is jitted inside; ``init`` is not:
  run eagerly, its random draws compile once per parameter shape and are
  reused by every config in the process, while a jitted init recompiles
  (seconds on CPU: XLA's threefry) for each new program. ``inputs(key, batch)`` draws
  noise inputs; ``check(x)`` validates user inputs.
  """

  def __init__(self, name: str, cfg, make: Callable, check: Callable,
               noise: Callable, layer_names: tuple):
    self.name, self.cfg, self.layer_names = name, cfg, tuple(layer_names)
    self._make, self._check, self._noise = make, check, noise
    abstract = nnx.eval_shape(lambda: make(cfg, nnx.Rngs(0)))
    self.graphdef, _ = nnx.split(abstract)
    self._apply = jax.jit(self._apply_impl)

  def _apply_impl(self, state, x):
    return nnx.merge(self.graphdef, state)(x)

  def init(self, key):
    """The state (an ``nnx.State`` pytree) of the module built with ``nnx.Rngs(key)``."""
    return nnx.split(self._make(self.cfg, nnx.Rngs(key)))[1]

  def apply(self, state, x):
    """(embedding (B, embed_dim), layers: tuple of (B, features), see ``layer_names``)."""
    return self._apply(state, self._check(x, self.cfg))

  def check(self, x):
    """``x`` validated against the config (ConfigError naming ``inputs`` otherwise)."""
    return self._check(x, self.cfg)

  def inputs(self, key, batch: int):
    """A batch of noise inputs for this architecture."""
    check_int("batch", batch)
    return self._noise(key, batch, self.cfg)

  def layers_dict(self, layers) -> dict:
    """``{name: array}`` in ``layer_names`` order."""
    return dict(zip(self.layer_names, layers))

  def __repr__(self):
    return f"Encoder({self.name!r}, {self.cfg})"
