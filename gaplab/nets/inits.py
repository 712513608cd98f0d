"""Initialisation schemes for the random networks of the cone sweep.

A weight matrix is ``W = scale * base`` where ``base`` is drawn once per
(seed, layer) for each *family* and shared by every variant of a sweep (common
random numbers), and ``scale`` is a per-variant number that travels as an array.
``W`` has shape ``(fan_in, fan_out)`` and a layer computes ``h @ W + b``
(the transpose of PyTorch's ``weight``).

================  ===========  ==============================================
scheme            family       W                        (gain = sigma_w)
================  ===========  ==============================================
gaussian          normal       N(0, gain^2 / fan_in)
lecun             normal       N(0, gain^2 / fan_in)     (gaussian at gain 1)
he                normal       N(0, 2 gain^2 / fan_in)
xavier            normal       N(0, 2 gain^2 / (fan_in + fan_out))
xavier_uniform    uniform      U(+-gain sqrt(6 / (fan_in + fan_out)))
torch             uniform      U(+-gain / sqrt(fan_in))  (nn.Linear default)
orthogonal        orthogonal   gain * Q, Q semi-orthogonal (QR of a Gaussian)
================  ===========  ==============================================

Biases (when on): ``N(0, sigma_b^2)`` for every scheme except ``torch``, which
uses PyTorch's own ``U(+-1/sqrt(fan_in))`` and ignores ``sigma_b``. ``sigma_b`` is
absolute: it is never rescaled with width.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax
import jax.numpy as jnp

from gaplab._errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Scheme:
  name: str
  family: str  # "normal" | "uniform" | "orthogonal"
  weight_scale: Callable[[float, int, int], float]  # (gain, fan_in, fan_out)
  description: str
  torch_bias: bool = False


_SCHEMES = {
    s.name: s for s in [
        Scheme("gaussian", "normal", lambda g, fi, fo: g / math.sqrt(fi),
               "W ~ N(0, sigma_w^2/fan_in)"),
        Scheme("lecun", "normal", lambda g, fi, fo: g / math.sqrt(fi),
               "W ~ N(0, gain^2/fan_in)"),
        Scheme("he", "normal", lambda g, fi, fo: g * math.sqrt(2.0 / fi),
               "W ~ N(0, 2 gain^2/fan_in)"),
        Scheme("xavier", "normal",
               lambda g, fi, fo: g * math.sqrt(2.0 / (fi + fo)),
               "W ~ N(0, 2 gain^2/(fan_in+fan_out))"),
        Scheme("xavier_uniform", "uniform",
               lambda g, fi, fo: g * math.sqrt(6.0 / (fi + fo)),
               "W ~ U(+-gain sqrt(6/(fan_in+fan_out)))"),
        Scheme("torch", "uniform", lambda g, fi, fo: g / math.sqrt(fi),
               "PyTorch nn.Linear default: W, b ~ U(+-1/sqrt(fan_in))",
               torch_bias=True),
        Scheme("orthogonal", "orthogonal", lambda g, fi, fo: g,
               "W = gain * semi-orthogonal Q"),
    ]
}

NAMES = tuple(_SCHEMES)
FAMILIES = ("normal", "uniform", "orthogonal")


def get(name: str) -> Scheme:
  try:
    return _SCHEMES[name]
  except KeyError:
    raise ConfigError(
        "inits", f"expected one of {', '.join(NAMES)}, got {name!r}") from None


def scales(name: str, gain: float, sigma_b: float, bias: bool, fan_in: int,
           fan_out: int) -> tuple[float, float, float]:
  """Multipliers (weight, normal bias, uniform bias) of the unit base draws."""
  s = get(name)
  w = s.weight_scale(gain, fan_in, fan_out)
  if not bias:
    return w, 0.0, 0.0
  if s.torch_bias:
    return w, 0.0, 1.0 / math.sqrt(fan_in)
  return w, sigma_b, 0.0


def _semi_orthogonal(z):
  """A Haar-distributed semi-orthogonal matrix from a Gaussian ``z``.

  Orthonormal columns when fan_in >= fan_out, orthonormal rows otherwise. The
  sign fix by diag(R) makes the distribution exactly Haar (Mezzadri 2007).
  """
  fi, fo = z.shape
  tall = z if fi >= fo else z.T
  q, r = jnp.linalg.qr(tall)
  q = q * jnp.sign(jnp.diagonal(r))[None, :]
  return q if fi >= fo else q.T


# Stream ids: each (distribution, map, weight/bias) draw has its own fold_in
# constant, so the numbers a variant sees never depend on what else is swept.
_STREAMS = {("normal", 1): (0, 1), ("normal", 2): (2, 3),
            ("uniform", 1): (4, 5), ("uniform", 2): (6, 7)}


def weight_base(layer_key, family: str, which: int, fan_in: int, fan_out: int,
                dtype):
  """Unit-scale weights of ``family`` for affine map ``which`` (1 or 2).

  ``orthogonal`` is built from the same Gaussian draw as ``normal``.
  """
  dist = "uniform" if family == "uniform" else "normal"
  k = jax.random.fold_in(layer_key, _STREAMS[(dist, which)][0])
  if dist == "uniform":
    return jax.random.uniform(k, (fan_in, fan_out), dtype, -1.0, 1.0)
  w = jax.random.normal(k, (fan_in, fan_out), dtype)
  return _semi_orthogonal(w) if family == "orthogonal" else w


def bias_bases(layer_key, which: int, fan_out: int, dtype):
  """Unit-scale (N(0, 1), U(-1, 1)) bias draws for affine map ``which``."""
  kn = jax.random.fold_in(layer_key, _STREAMS[("normal", which)][1])
  ku = jax.random.fold_in(layer_key, _STREAMS[("uniform", which)][1])
  return (jax.random.normal(kn, (fan_out,), dtype),
          jax.random.uniform(ku, (fan_out,), dtype, -1.0, 1.0))


def variances(name: str, gain: float, sigma_b: float, bias: bool, fan_in: int,
              fan_out: int) -> tuple[float, float]:
  """(sigma_w^2, sigma_b^2) in mean-field units: Var(W_ij) = sigma_w^2 / fan_in,
  Var(b_k) = sigma_b^2, for the law ``name`` actually draws."""
  s = get(name)
  w, bn, bu = scales(name, gain, sigma_b, bias, fan_in, fan_out)
  if s.family == "uniform":  # U(-w, w) has variance w^2 / 3
    w_var = w * w / 3
  elif s.family == "orthogonal":  # entries of a semi-orthogonal matrix: 1/max dim
    w_var = w * w / max(fan_in, fan_out)
  else:
    w_var = w * w
  return w_var * fan_in, bn * bn + bu * bu / 3
