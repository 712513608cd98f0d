"""The split Gauss-Legendre rules of ``meanfield``, compiled: float64 JAX
programs over fixed-size chunks of kernels, for the bulk evaluations of a
prediction (many pairs x layers x variants).

Each program evaluates exactly the rule of its NumPy twin in ``meanfield``
(the same intervals, breakpoints, nodes and weights; only the order of the
floating-point sums differs): ``kernel`` is ``meanfield._kernel_legendre``
with f = g = phi, ``near_distance`` is ``meanfield._distance_legendre``, and
``moment`` is ``meanfield._shifted_expectation`` of phi^2 (or phi'^2) at mean
0. phi is the activation registry's own JAX function and phi' its forward-mode
derivative, traced in float64 under a scoped ``jax.enable_x64``; they agree with
the registry's NumPy twins to a few 1e-16 absolute, so results agree with the
NumPy rules to about 1e-15 relative (``tests/theory/test_fastquad.py``).

Inputs of any length are cut into chunks of ``CHUNK`` kernels (fewer inputs:
the next power of two, at least 8; the last chunk padded with a harmless
kernel), so each (rule, activation, order) compiles for a few shapes per
process (and is then found in the persistent compilation cache).
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from gaplab.nets import activations
from gaplab.theory import meanfield as mf

CHUNK = 32  # kernels per program call (intermediates stay in cache: 128 ran 3-5x slower)
_SQRT_2PI = math.sqrt(2 * math.pi)


def _phi(spec):
  """(phi, phi') of an ActivationSpec as JAX functions of one array."""
  fn, p = activations.get(spec.name).fn, spec.param
  f = lambda x: fn(x, p)
  df = lambda x: jax.jvp(f, (x,), (jnp.ones_like(x),))[1]
  return f, df


def _nodes(lo, hi, x, w):
  """Gauss-Legendre nodes and N(0,1)-weights on [lo, hi] (both (...)): (..., order)."""
  lo, hi = jnp.clip(lo, -mf.LIMIT, mf.LIMIT)[..., None], jnp.clip(hi, -mf.LIMIT, mf.LIMIT)[..., None]
  half = (hi - lo) / 2
  z = lo + half * (x + 1)
  return z, half * w * jnp.exp(-z * z / 2) / _SQRT_2PI


def _outer(width, x, w):
  """Nodes and weights on [-L, -width, 0, width, L], (..., 4, order)."""
  L = jnp.full_like(width, mf.LIMIT)
  lo = jnp.stack([-L, -width, jnp.zeros_like(width), width], axis=-1)
  hi = jnp.stack([-width, jnp.zeros_like(width), width, L], axis=-1)
  return _nodes(lo, hi, x, w)


def _split(a, x, w):
  """Nodes and weights of [-L, a], [a, L] (a (...) moved to 0 outside (-L, L)):
  (..., 2, order)."""
  a = jnp.where(jnp.abs(a) < mf.LIMIT, a, 0.0)
  L = jnp.full_like(a, mf.LIMIT)
  return _nodes(jnp.stack([-L, a], -1), jnp.stack([a, L], -1), x, w)


def _kernel(f, q1, q2, c12, x, w):
  """E[f(u1) f(u2)]: ``meanfield._kernel_legendre``'s rule, (C,) -> (C,)."""
  rho = jnp.clip(c12 / jnp.sqrt(q1 * q2), -1.0, 1.0)
  s = jnp.sqrt(1 - rho * rho)
  width = jnp.minimum(8 * s / jnp.maximum(jnp.abs(rho), 1e-300), mf.LIMIT)
  z1, w1 = _outer(width, x, w)  # (C, 4, o)
  r1, r2 = jnp.sqrt(q1)[:, None, None], jnp.sqrt(q2)[:, None, None]
  m, sd = r2 * rho[:, None, None] * z1, (r2 * s[:, None, None]) * jnp.ones_like(z1)
  pos = sd > 0
  z2, w2 = _split(jnp.where(pos, -m / jnp.where(pos, sd, 1.0), 0.0), x, w)  # (C, 4, o, 2, o)
  inner = jnp.sum(w2 * f(m[..., None, None] + sd[..., None, None] * z2), axis=(-2, -1))
  inner = jnp.where(pos, inner, f(m))
  return jnp.sum(w1 * f(r1 * z1) * inner, axis=(-2, -1))


_GL2 = mf._GL2


def _difference(f, df, x, delta, fx):
  """``meanfield._difference``: f(x + delta) - f(x) (fx = f(x)), 2-point
  Gauss-Legendre on f' where delta is small and x, x + delta are on one side
  of 0."""
  y = x + delta
  small = (jnp.abs(delta) <= 1e-3 * (jnp.abs(x) + 1e-3)) & ((x > 0) == (y > 0))
  ds = jnp.where(small, delta, 0.0)
  quad = ds * (df(x + _GL2[0] * ds) + df(x + _GL2[1] * ds)) / 2
  return jnp.where(small, quad, f(y) - fx)


def _near(f, df, q1, q2, dist, x, w):
  """E[(f(u2) - f(u1))^2]: ``meanfield._distance_legendre``'s rule, (C,) -> (C,)."""
  r1, r2 = jnp.sqrt(q1), jnp.sqrt(q2)
  a = (q2 - q1 - dist) / (2 * r1)
  gap = jnp.maximum(dist - ((q1 - q2) / (r1 + r2)) ** 2, 0.0) / 2
  b = jnp.sqrt(gap * (2 * r1 * r2 - gap) / q1)
  width = jnp.minimum(8 * b / jnp.maximum(jnp.abs(r1 + a), 1e-300), mf.LIMIT)
  z1, w1 = _outer(width, x, w)  # (C, 4, o)
  u1 = r1[:, None, None] * z1
  shift = a[:, None, None] * z1
  bb = b[:, None, None] * jnp.ones_like(z1)
  pos = bb > 0
  z2, w2 = _split(jnp.where(pos, -(u1 + shift) / jnp.where(pos, bb, 1.0), 0.0), x, w)
  delta = shift[..., None, None] + bb[..., None, None] * z2
  fu1 = f(u1)
  inner = jnp.sum(w2 * _difference(f, df, u1[..., None, None], delta,
                                   fu1[..., None, None]) ** 2, axis=(-2, -1))
  inner = jnp.where(pos, inner, _difference(f, df, u1, shift, fu1) ** 2)
  return jnp.sum(w1 * inner, axis=(-2, -1))


def _moment(g, q, x, w):
  """E[g(sqrt(q) z)]: ``meanfield._shifted_expectation`` at mean 0, (C,) -> (C,)."""
  s = jnp.sqrt(q)
  z, wt = _split(jnp.zeros_like(q), x, w)  # (C, 2, o)
  out = jnp.sum(wt * g(s[:, None, None] * z), axis=(-2, -1))
  return jnp.where(s > 0, out, g(jnp.zeros_like(q)))


@functools.lru_cache(maxsize=None)
def _program(rule: str, name: str, param: float, order: int):
  spec = activations.ActivationSpec(name, param)
  f, df = _phi(spec)
  xw = tuple(np.asarray(v, np.float64) for v in mf._legendre(order))
  body = {
      "kernel": lambda a, b, c, x, w: _kernel(f, a, b, c, x, w),
      "near": lambda a, b, c, x, w: _near(f, df, a, b, c, x, w),
      "second": lambda a, x, w: _moment(lambda u: f(u) ** 2, a, x, w),
      "derivative": lambda a, x, w: _moment(lambda u: df(u) ** 2, a, x, w),
  }[rule]
  jitted = jax.jit(body)
  return lambda *args: jitted(*args, *xw)


_PAD = {"kernel": (1.0, 1.0, 0.5), "near": (1.0, 1.0, 1e-6), "second": (1.0,),
        "derivative": (1.0,)}


def _run(rule, act, order, *arrays):
  """``rule`` of ``act`` at ``order`` on float64 arrays (broadcast), chunked."""
  spec = mf._spec(act)
  arrays = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in arrays))
  shape, n = arrays[0].shape, arrays[0].size
  if n == 0:
    return np.zeros(shape)
  size = min(CHUNK, max(8, 1 << (n - 1).bit_length()))  # few shapes, little padding
  chunks = -(-n // size)
  flat = [np.full(chunks * size, pad) for pad in _PAD[rule]]
  for dst, src in zip(flat, arrays):
    dst[:n] = src.ravel()
  out = np.empty(chunks * size)
  with jax.enable_x64(True):
    prog = _program(rule, spec.name, float(spec.param), int(order))
    parts = [prog(*(a[i * size:(i + 1) * size] for a in flat)) for i in range(chunks)]
    for i, p in enumerate(parts):
      out[i * size:(i + 1) * size] = np.asarray(p)
  return out[:n].reshape(shape)


def kernel(act, q1, q2, c12, order: int = mf.DEFAULT_ORDER):
  """E[phi(u1) phi(u2)] by split Gauss-Legendre (``meanfield.kernel`` with
  ``method='legendre'``), broadcast."""
  return _run("kernel", act, order, q1, q2, c12)


def near_distance(act, q1, q2, dist, order: int = mf.DEFAULT_ORDER):
  """E[(phi(u1) - phi(u2))^2] integrated as a squared difference (the rule
  ``meanfield.distance`` uses near the cone), broadcast."""
  return _run("near", act, order, q1, q2, dist)


def second_moment(act, q, order: int = mf.DEFAULT_ORDER):
  """E[phi(sqrt(q) z)^2] by the 1-D split rule (``meanfield.second_moment``
  with ``method='legendre'``)."""
  return _run("second", act, order, q)


def derivative_moment(act, q, order: int = mf.DEFAULT_ORDER):
  """E[phi'(sqrt(q) z)^2] (``meanfield.derivative_moment``)."""
  return _run("derivative", act, order, q)


def distance(act, q1, q2, dist, *, order: int = mf.DEFAULT_ORDER):
  """``meanfield.distance`` (same rules, same near/far split) with its
  Gauss-Legendre kernels and near-cone integrals compiled; closed forms and
  the 1-D second moments stay NumPy (they are cheap)."""
  spec = mf._spec(act)
  q1, q2, dist = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in (q1, q2, dist)))
  if spec.name == "linear":
    return dist.copy()
  near = dist < mf.NEAR * (q1 + q2)
  out = np.empty(q1.shape)
  far = ~near
  if far.any():
    a, b = q1[far], q2[far]
    c12 = (a + b - dist[far]) / 2
    k12 = (mf.kernel(spec, a, b, c12) if mf.has_closed_form(spec)
           else kernel(spec, a, b, c12, order))
    out[far] = (mf.second_moment(spec, a, order=order)
                + mf.second_moment(spec, b, order=order) - 2 * k12)
  if near.any():
    out[near] = near_distance(spec, q1[near], q2[near], dist[near], order)
  return out
