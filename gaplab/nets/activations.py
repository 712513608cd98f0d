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

Each elementwise entry also carries its NumPy float64 twin for the mean-field
theory (``gaplab.theory.meanfield``): ``np_fn(x, p)``, its derivative
``np_grad(x, p)`` (written out by hand) and ``kinked``, whether phi is not
analytic at 0 (every registered kink is at 0; informational: the mean-field
quadrature always splits at 0). The
NumPy side uses ``scipy.special`` (erf, ndtr, expit), never JAX, so it is
float64 whatever the JAX x64 switch says. ``maxout`` has none (``np_fn is
None``): it has no mean-field theory yet.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

from gaplab._errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Activation:
  name: str
  fn: Callable  # fn(x, param) for arity 1; fn(z1, z2) for arity 2
  description: str
  default_param: Optional[float] = None
  param_name: Optional[str] = None
  arity: int = 1
  np_fn: Optional[Callable] = None  # NumPy float64 phi(x, p); None: no theory
  np_grad: Optional[Callable] = None  # NumPy float64 phi'(x, p)
  kinked: bool = False  # phi not analytic at 0 (informational)

  @property
  def has_numpy(self) -> bool:
    return self.np_fn is not None


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


# -- NumPy float64 twins (phi, phi') for the mean-field theory ---------------
_SELU_LAMBDA, _SELU_ALPHA = 1.0507009873554805, 1.6732632423543772
_GT = math.sqrt(2 / math.pi)
_sig = special.expit


def _np_gelu_tanh(x, p):
  return 0.5 * x * (1 + np.tanh(_GT * (x + 0.044715 * x**3)))


def _np_gelu_tanh_grad(x, p):
  t = np.tanh(_GT * (x + 0.044715 * x**3))
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GT * (1 + 3 * 0.044715 * x * x)


def _np_elu(x, p):
  return np.where(x > 0, x, p * np.expm1(np.minimum(x, 0)))


def _np_elu_grad(x, p):
  return np.where(x > 0, 1.0, p * np.exp(np.minimum(x, 0)))


def _np_selu(x, p):
  return _SELU_LAMBDA * _np_elu(x, _SELU_ALPHA)


def _np_selu_grad(x, p):
  return _SELU_LAMBDA * _np_elu_grad(x, _SELU_ALPHA)


def _np_gelu_grad(x, p):
  return special.ndtr(x) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _np_quick_gelu_grad(x, p):
  return _sig(1.702 * x) * (1 + 1.702 * x * _sig(-1.702 * x))


_REGISTRY = {
    a.name: a for a in [
        Activation("linear", _linear, "identity",
                   np_fn=lambda x, p: x, np_grad=lambda x, p: np.ones_like(x)),
        Activation("relu", _relu, "max(x, 0)",
                   np_fn=lambda x, p: np.maximum(x, 0),
                   np_grad=lambda x, p: (x > 0) * 1.0, kinked=True),
        Activation("leaky_relu", _leaky_relu, "x if x >= 0 else slope*x",
                   default_param=0.01, param_name="slope",
                   np_fn=lambda x, p: np.where(x >= 0, x, p * x),
                   np_grad=lambda x, p: np.where(x >= 0, 1.0, p), kinked=True),
        Activation("gelu", _gelu, "x*Phi(x), exact erf form (PyTorch default)",
                   np_fn=lambda x, p: x * special.ndtr(x), np_grad=_np_gelu_grad),
        Activation("gelu_tanh", _gelu_tanh,
                   "tanh approximation of GELU (jax.nn.gelu default)",
                   np_fn=_np_gelu_tanh, np_grad=_np_gelu_tanh_grad),
        Activation("quick_gelu", _quick_gelu, "x*sigmoid(1.702x) (CLIP)",
                   np_fn=lambda x, p: x * _sig(1.702 * x), np_grad=_np_quick_gelu_grad),
        Activation("sigmoid", _drop(jax.nn.sigmoid), "1/(1+exp(-x))",
                   np_fn=lambda x, p: _sig(x),
                   np_grad=lambda x, p: _sig(x) * _sig(-x)),
        Activation("tanh", _drop(jnp.tanh), "tanh(x)",
                   np_fn=lambda x, p: np.tanh(x),
                   np_grad=lambda x, p: 1 / np.cosh(x) ** 2),
        Activation("elu", _elu, "x if x > 0 else alpha*(exp(x)-1)",
                   default_param=1.0, param_name="alpha",
                   np_fn=_np_elu, np_grad=_np_elu_grad, kinked=True),
        Activation("selu", _drop(jax.nn.selu), "scale*elu(x, alpha), fixed constants",
                   np_fn=_np_selu, np_grad=_np_selu_grad, kinked=True),
        Activation("silu", _drop(jax.nn.silu), "x*sigmoid(x)",
                   np_fn=lambda x, p: x * _sig(x),
                   np_grad=lambda x, p: _sig(x) * (1 + x * _sig(-x))),
        Activation("softplus", _drop(jax.nn.softplus), "log(1+exp(x))",
                   np_fn=lambda x, p: np.logaddexp(0, x),
                   np_grad=lambda x, p: _sig(x)),
        Activation("erf", _drop(jax.scipy.special.erf), "erf(x)",
                   np_fn=lambda x, p: special.erf(x),
                   np_grad=lambda x, p: 2 / math.sqrt(math.pi) * np.exp(-x * x)),
        Activation("abs", _drop(jnp.abs), "|x|",
                   np_fn=lambda x, p: np.abs(x), np_grad=lambda x, p: np.sign(x),
                   kinked=True),
        Activation("maxout", _maxout,
                   "max of two affine maps (replaces the linear map)", arity=2),
    ]
}

NAMES = tuple(_REGISTRY)
NUMPY_NAMES = tuple(n for n, a in _REGISTRY.items() if a.has_numpy)


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
