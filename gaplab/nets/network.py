"""One block of a random network, applied to every variant of a family at once.

The variants that share an init family share one base draw per layer and differ
by a per-variant scale, so each affine map is one matmul on a (V*N, fan_in)
stack. Block orders (the paper's, ``gaplab.nets.mlp.block``):

* ``linear-act`` (default): h' = phi(h W1 + b1); maxout: max(h W1 + b1, h W2 + b2)
* ``act-linear``:           h' = phi(h) W1 + b1
* ``linear-act-linear``:    h' = phi(h W1 + b1) W2 + b2

This is the MLP of ``gaplab.nets.mlp`` (the single-network layer
``mlp.layer``, phi(h W + b), and the depth loop ``mlp.forward``), batched over
variants: variant v's W is ``scale_v * base`` with one shared ``base``, and the
engine computes its pre-activation as ``(h @ base) * scale_v`` (one matmul for
all V variants) rather than ``h @ (scale_v * base)``. The two are equal in exact
arithmetic but not bitwise (the scale is rounded in at a different point), so
the affine map here stays its own and the cone engine's numbers are unchanged;
only the block orders are shared (``mlp.block``). The single-network form of
one variant lives in ``gaplab.nets.mlp``: ``mlp.layer`` / ``mlp.forward`` on
the (W, b) = (scale * base, ...) that ``gaplab.cone.engine.explicit_weights``
returns (``tests/nets/test_mlp.py`` checks that it gives the engine's outputs;
``tests/reference.py`` is the float64 NumPy form of every block).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from gaplab.nets import activations
from gaplab.nets import inits
from gaplab.nets import mlp

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


def _affine(h, bases: LayerBases, family, which, fan_out, p, rows, precision):
  """Per-variant h W + b with W = p[w] * base, b = p[bn] * N + p[bu] * U.

  ``h`` is (N, fan_in), shared by all variants, or (V, N, fan_in); ``rows`` is
  the slice of the family's variants that ``h`` belongs to.
  """
  w = bases.weight(family, which, h.shape[-1], fan_out)
  bn, bu = bases.bias(which, fan_out)
  if h.ndim == 2:
    z = jnp.matmul(h, w, precision=precision)[None]
  else:
    v, n, fi = h.shape
    z = jnp.matmul(h.reshape(v * n, fi), w, precision=precision).reshape(v, n, -1)
  col = lambda k: p[k][rows][:, None, None]
  return z * col(f"w{which}") + (col(f"bn{which}") * bn + col(f"bu{which}") * bu)


def family_apply(h, bases: LayerBases, p, *, segments, family: str, block: str,
                 width: int, precision):
  """One block for all variants of an init family: -> (V, N, width).

  The family's variants are stacked in ``segments``, ``(activation, start,
  stop)`` row ranges, so each affine map is one matmul over all of them and the
  per-segment activations fuse into the stacked output. ``h`` is (N, fan_in),
  shared by all variants (the first layer), or (V, N, fan_in). ``p`` holds (V,)
  arrays: ``act`` (activation parameter) and the scales ``w1, bn1, bu1, w2,
  bn2, bu2`` of this layer (see ``inits.scales``).
  """
  everyone = slice(None)
  aff = lambda a, which, rows=everyone: _affine(a, bases, family, which, width,
                                                p, rows, precision)

  def phi(z):
    if z.ndim == 2:  # act-linear's first layer: the shared inputs, per variant
      z = jnp.broadcast_to(z, (segments[-1][2],) + z.shape)
    parts = []
    for name, start, stop in segments:
      act, rows = activations.get(name), slice(start, stop)
      zs = z[rows]
      if act.arity == 2:  # maxout: its own second map, on its rows only
        hs = h if h.ndim == 2 else h[rows]
        parts.append(act.fn(zs, aff(hs, 2, rows)))
      else:
        parts.append(act.fn(zs, p["act"][rows][:, None, None]))
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=0)

  return mlp.block(block, h, aff, phi)


def layer_key(weight_key, layer: int):
  """The key of layer ``layer`` (1-based) of one seed's network."""
  return jax.random.fold_in(weight_key, layer)


def seed_keys(key):
  """(input key, weight key) of one seed."""
  return jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
