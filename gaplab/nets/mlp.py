"""The random MLP's forward pass: one layer, the block orders, and the depth loop.

A layer is the affine map and the activation, h <- phi(h W + b): ``layer``.
The depth loop is one ``lax.scan`` over stacked layers (``forward``), so a deep
network compiles to one loop body. Every caller of a single network uses it:
the MLP towers of training (``gaplab.training.towers``: the input layer, then
the square hidden layers scanned) and Theorem 2's moments
(``gaplab.analysis.variance.mlp_moments``: every layer scanned, weights drawn
inside the loop, a statistic of each layer collected).

``block`` is the paper's three block orders (``linear-act``, ``act-linear``,
``linear-act-linear``), composed from any affine map and activation. The cone
engine's variant-batched block (``gaplab.nets.network.family_apply``) builds
on it with its own affine map; ``layer`` is its ``linear-act`` block for one
network.

Numbers: ``layer`` is exactly ``phi(matmul(h, W, precision) + b)``, and
``forward`` adds no arithmetic of its own (zero-padding aside), so the callers'
results are bitwise those of their former inline loops.
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp

BLOCKS = ("linear-act", "act-linear", "linear-act-linear")


def affine(h, w, b, precision=None):
  """h W + b (``h`` (..., fan_in), ``w`` (fan_in, fan_out), ``b`` (fan_out,))."""
  return jnp.matmul(h, w, precision=precision) + b


def layer(h, w, b, phi: Callable, precision=None):
  """One layer, phi(h W + b)."""
  return phi(affine(h, w, b, precision))


def block(order: str, h, linear: Callable, phi: Callable):
  """One block of ``order`` on ``h``: ``linear(x, which)`` is the block's
  first (``which`` = 1) or second (2) affine map, ``phi`` its activation.

  * ``linear-act``:        phi(linear(h, 1))
  * ``act-linear``:        linear(phi(h), 1)
  * ``linear-act-linear``: linear(phi(linear(h, 1)), 2)
  """
  if order == "linear-act":
    return phi(linear(h, 1))
  if order == "act-linear":
    return linear(phi(h), 1)
  if order == "linear-act-linear":
    return linear(phi(linear(h, 1)), 2)
  raise ValueError(f"Expected a block in ({', '.join(BLOCKS)}), got {order!r}")


def _pad_columns(y, width: int):
  extra = width - y.shape[-1]
  if extra < 0:
    raise ValueError(f"Expected layer outputs at most {width} wide (the carry), got "
                     f"{y.shape[-1]}")
  if extra == 0:
    return y
  return jnp.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, extra)])


def forward(h, layers, phi: Callable, *, precision=None,
            weights: Optional[Callable] = None, collect: Optional[Callable] = None):
  """The depth loop: ``layer`` applied for each entry of ``layers`` in turn,
  as one ``lax.scan``.

  ``layers`` is a pytree stacked along axis 0 (one entry per layer): by default
  the pair ``(W (L, fan_in, fan_out), b (L, fan_out))``; with ``weights``, any
  per-layer data, and ``weights(entry) -> (W, b)`` builds the layer's map
  inside the loop (e.g. draws it from a per-layer key, so only one layer's
  weights are ever held). ``collect(x_in, z, y)`` (the layer's input, its
  pre-activation z = x_in W + b and output y = phi(z)) is evaluated at every
  layer; the scan stacks its outputs along a new axis 0.

  Every layer's output must be at most as wide as ``h``; a narrower one is
  zero-padded back to ``h``'s width before it feeds the next layer, so layers
  of different widths share one loop (their W has rows for the padded columns,
  which multiply zeros). Returns (last layer's output, stacked collected
  values or None); the output is padded like every carry.
  """
  unpack = weights if weights is not None else (lambda entry: entry)

  def step(x, entry):
    w, b = unpack(entry)
    z = affine(x, w, b, precision)
    y = phi(z)
    out = None if collect is None else collect(x, z, y)
    return _pad_columns(y, x.shape[-1]), out

  return jax.lax.scan(step, h, layers)
