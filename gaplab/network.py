"""One block of a random network, applied to every variant of a group at once.

A *group* is the variants that share an activation and an init family: their
weights are one shared base draw times a per-variant scale, so the group's
matmul runs once on a (V*N, fan_in) stack. Block orders (the paper's):

* ``linear-act`` (default): h' = phi(h W1 + b1); maxout: max(h W1 + b1, h W2 + b2)
* ``act-linear``:           h' = phi(h) W1 + b1
* ``linear-act-linear``:    h' = phi(h W1 + b1) W2 + b2
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from gaplab import activations, inits

MAP_KEYS = ("w1", "bn1", "bu1", "w2", "bn2", "bu2")


def second_map_fan_in(block: str, activation: str, fan_in: int, width: int):
  """fan_in of the second affine map, or None when the block has none."""
  if block == "linear-act-linear":
    return width
  if block == "linear-act" and activations.get(activation).arity == 2:
    return fan_in
  return None


class LayerBases:
  """Lazily drawn, shared unit-scale bases of one layer (one seed)."""

  def __init__(self, layer_key, dtype):
    self._key, self._dtype, self._cache = layer_key, dtype, {}

  def weight(self, family, which, fan_in, fan_out):
    k = ("w", family, which, fan_in, fan_out)
    if k not in self._cache:
      self._cache[k] = inits.weight_base(self._key, family, which, fan_in,
                                         fan_out, self._dtype)
    return self._cache[k]

  def bias(self, which, fan_out):
    k = ("b", which, fan_out)
    if k not in self._cache:
      self._cache[k] = inits.bias_bases(self._key, which, fan_out, self._dtype)
    return self._cache[k]


def _affine(h, bases: LayerBases, family, which, fan_out, p, precision):
  """Per-variant h W + b with W = p[w] * base, b = p[bn] * N + p[bu] * U.

  ``h`` is (N, fan_in), shared by all variants, or (V, N, fan_in).
  """
  w = bases.weight(family, which, h.shape[-1], fan_out)
  bn, bu = bases.bias(which, fan_out)
  if h.ndim == 2:
    z = jnp.matmul(h, w, precision=precision)[None]
  else:
    v, n, fi = h.shape
    z = jnp.matmul(h.reshape(v * n, fi), w, precision=precision).reshape(v, n, -1)
  col = lambda a: a[:, None, None]
  b = col(p[f"bn{which}"]) * bn + col(p[f"bu{which}"]) * bu
  return z * col(p[f"w{which}"]) + b


def block_apply(h, bases: LayerBases, p, *, activation: str, family: str,
                block: str, width: int, precision):
  """One block for a group: (N, fan_in) or (V, N, fan_in) -> (V, N, width).

  ``p`` holds (V,) arrays: ``act`` (activation parameter) and the scales
  ``w1, bn1, bu1, w2, bn2, bu2`` of this layer (see ``inits.scales``).
  """
  act = activations.get(activation)
  phi = lambda z: act.fn(z, p["act"][:, None, None])
  aff = lambda a, which: _affine(a, bases, family, which, width, p, precision)
  if block == "linear-act":
    if act.arity == 2:
      return act.fn(aff(h, 1), aff(h, 2))
    return phi(aff(h, 1))
  if block == "act-linear":
    return aff(phi(h if h.ndim == 3 else h[None]), 1)
  if block == "linear-act-linear":
    return aff(phi(aff(h, 1)), 2)
  raise ValueError(f"Expected a block in {('linear-act', 'act-linear', 'linear-act-linear')}, got {block!r}")


def layer_key(weight_key, layer: int):
  """The key of layer ``layer`` (1-based) of one seed's network."""
  return jax.random.fold_in(weight_key, layer)


def seed_keys(key):
  """(input key, weight key) of one seed."""
  return jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
