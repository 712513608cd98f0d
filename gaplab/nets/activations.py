"""Registry of elementwise nonlinearities used in random-network sweeps.

Every activation is a pure ``fn(x, param) -> y``; ``param`` is a traced array
(the leaky-ReLU slope, the ELU alpha) so one compiled program serves a grid of
parameter values. Activations without a parameter ignore it.

``maxout`` is the one structural entry: it takes two pre-activations (two affine
maps) and returns their elementwise maximum, so it has ``arity == 2``.

Conventions that change numbers visibly (see ``docs/science.md``):
``gelu`` is the exact erf form (PyTorch's default); ``gelu_tanh`` is the tanh
approximation (``jax.nn.gelu``'s default). ``leaky_relu`` defaults to slope 0.01
(PyTorch and JAX); TensorFlow uses 0.2.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp

from gaplab._errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Activation:
  name: str
  fn: Callable  # fn(x, param) for arity 1; fn(z1, z2) for arity 2
  description: str
  default_param: Optional[float] = None
  param_name: Optional[str] = None
  arity: int = 1


def _linear(x, p):
  del p
  return x


def _relu(x, p):
  del p
  return jnp.maximum(x, 0)


def _leaky_relu(x, slope):
  return jnp.where(x >= 0, x, slope * x)


def _gelu(x, p):
  del p
  return jax.nn.gelu(x, approximate=False)


def _gelu_tanh(x, p):
  del p
  return jax.nn.gelu(x, approximate=True)


def _quick_gelu(x, p):
  del p
  return x * jax.nn.sigmoid(1.702 * x)


def _elu(x, alpha):
  # expm1 keeps the negative branch accurate near 0; the where guards exp overflow
  return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0)))


def _maxout(z1, z2):
  return jnp.maximum(z1, z2)


def _drop(f):
  return lambda x, p: f(x)


_REGISTRY = {
    a.name: a for a in [
        Activation("linear", _linear, "identity"),
        Activation("relu", _relu, "max(x, 0)"),
        Activation("leaky_relu", _leaky_relu, "x if x >= 0 else slope*x",
                   default_param=0.01, param_name="slope"),
        Activation("gelu", _gelu, "x*Phi(x), exact erf form (PyTorch default)"),
        Activation("gelu_tanh", _gelu_tanh,
                   "tanh approximation of GELU (jax.nn.gelu default)"),
        Activation("quick_gelu", _quick_gelu, "x*sigmoid(1.702x) (CLIP)"),
        Activation("sigmoid", _drop(jax.nn.sigmoid), "1/(1+exp(-x))"),
        Activation("tanh", _drop(jnp.tanh), "tanh(x)"),
        Activation("elu", _elu, "x if x > 0 else alpha*(exp(x)-1)",
                   default_param=1.0, param_name="alpha"),
        Activation("selu", _drop(jax.nn.selu), "scale*elu(x, alpha), fixed constants"),
        Activation("silu", _drop(jax.nn.silu), "x*sigmoid(x)"),
        Activation("softplus", _drop(jax.nn.softplus), "log(1+exp(x))"),
        Activation("erf", _drop(jax.scipy.special.erf), "erf(x)"),
        Activation("abs", _drop(jnp.abs), "|x|"),
        Activation("maxout", _maxout,
                   "max of two affine maps (replaces the linear map)", arity=2),
    ]
}

NAMES = tuple(_REGISTRY)


def get(name: str) -> Activation:
  """The registered activation ``name``; a ConfigError lists the valid ones."""
  try:
    return _REGISTRY[name]
  except KeyError:
    raise ConfigError(
        "activations",
        f"expected one of {', '.join(NAMES)}, got {name!r}") from None


@dataclasses.dataclass(frozen=True)
class ActivationSpec:
  """An activation with its parameter resolved, e.g. ``leaky_relu:0.2``."""
  name: str
  param: float  # NaN when the activation has no parameter

  @property
  def label(self) -> str:
    act = get(self.name)
    if act.param_name is None or self.param == act.default_param:
      return self.name
    return f"{self.name}:{self.param:g}"


def parse(spec: str) -> ActivationSpec:
  """Parses ``name`` or ``name:param`` (``leaky_relu:0.2``, ``elu:0.5``)."""
  name, sep, raw = spec.strip().partition(":")
  act = get(name)
  if not sep:
    p = act.default_param
    return ActivationSpec(name, math.nan if p is None else float(p))
  if act.param_name is None:
    raise ConfigError("activations",
                      f"expected no parameter for {name!r}, got {spec!r}")
  try:
    value = float(raw)
  except ValueError:
    raise ConfigError(
        "activations",
        f"expected a number after ':' in {spec!r} ({act.param_name})") from None
  if not math.isfinite(value):
    raise ConfigError("activations",
                      f"expected a finite {act.param_name}, got {spec!r}")
  return ActivationSpec(name, value)
