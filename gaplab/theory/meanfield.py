"""Mean-field (infinite-width) theory of the random networks in the cone sweep.

For pre-activations z = W h + b with W_ij ~ N(0, sigma_w^2 / fan_in) and
b ~ N(0, sigma_b^2), h = phi(z), two inputs propagate as a bivariate Gaussian
(q1, q2, c12) per layer (Poole et al. 2016; Schoenholz et al. 2017):

    q'   = sigma_w^2 E[phi(u1)^2]     + sigma_b^2
    c12' = sigma_w^2 E[phi(u1)phi(u2)] + sigma_b^2,   (u1, u2) ~ N(0, [[q1, c12], [c12, q2]])

What a sweep measures is the *post-activation* cosine
E[phi(u1)phi(u2)] / sqrt(E[phi(u1)^2] E[phi(u2)^2]), not the next layer's
pre-activation correlation c12'/sqrt(q1' q2') (they differ when sigma_b != 0).

Every Gaussian expectation has one signature, ``kernel(act, q1, q2, c12)``, and
three methods:

* ``closed``: arc-cosine family (linear, relu, leaky_relu, abs; Cho & Saul
  2009), erf (Williams 1997) and exact GELU (derived here with Stein's lemma,
  see ``_gelu``);
* ``legendre``: Gauss-Legendre on [-10, 10] in each standard-normal variable,
  split where phi has its kink (at 0), so it converges exponentially for every
  registered activation, kinked ones included;
* ``hermite``: the plain tensor Gauss-Hermite rule; exponential only for
  smooth activations, slow (algebraic) at a kink.

Everything here is NumPy float64 (no global JAX switch needed); phi and phi'
come from the activation registry (``gaplab.nets.activations``, ``np_fn`` /
``np_grad``). Kernel values are accurate to about 1e-16 absolute; near the
cone (cos -> 1), ``distance`` integrates E[(phi(u1) - phi(u2))^2] as a squared
difference so that 1 - cos keeps its relative accuracy (``one_minus_cos``).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from gaplab.nets import activations
from gaplab._errors import ConfigError

LIMIT = 10.0  # |z| beyond 10 has Gaussian mass 1.5e-23: truncated
DEFAULT_ORDER = 64


def _spec(act) -> activations.ActivationSpec:
  spec = activations.parse(act) if isinstance(act, str) else act
  if spec.name not in activations.NUMPY_NAMES:
    raise ConfigError("activations", f"expected an activation with a mean-field "
                      f"theory ({', '.join(activations.NUMPY_NAMES)}), got {spec.name!r}")
  return spec


def functions(act):
  """(phi, phi', kinked) in NumPy float64 for an activation name or spec: the
  registry's ``np_fn``, ``np_grad`` and ``kinked`` with the parameter bound."""
  spec = _spec(act)
  a = activations.get(spec.name)
  return (functools.partial(a.np_fn, p=spec.param),
          functools.partial(a.np_grad, p=spec.param), a.kinked)


# -- quadrature ---------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _legendre(order: int):
  return np.polynomial.legendre.leggauss(order)


@functools.lru_cache(maxsize=16)
def _hermite(order: int):
  x, w = np.polynomial.hermite_e.hermegauss(order)
  return x, w / math.sqrt(2 * math.pi)


def _interval_nodes(points, order):
  """Gauss-Legendre nodes and N(0,1)-weights on consecutive intervals between
  ``points`` (..., k) (clipped to [-L, L], sorted): shapes (..., (k-1)*order)."""
  x, w = _legendre(order)
  pts = np.clip(np.asarray(points, np.float64), -LIMIT, LIMIT)
  lo, hi = pts[..., :-1, None], pts[..., 1:, None]
  half = (hi - lo) / 2
  z = (lo + half * (x + 1)).reshape(pts.shape[:-1] + (-1,))
  wt = (half * w).reshape(z.shape)
  return z, wt * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def _split_nodes(a, order):
  """Nodes and N(0,1)-weights of [-L, a] and [a, L]: (..., 2*order). A split
  point outside (-L, L) (no kink in range) moves to 0, so no half is wasted."""
  a = np.asarray(a, np.float64)
  a = np.where(np.abs(a) < LIMIT, a, 0.0)[..., None]
  return _interval_nodes(np.concatenate(
      [np.full_like(a, -LIMIT), a, np.full_like(a, LIMIT)], axis=-1), order)


@functools.lru_cache(maxsize=16)
def _zero_split(order):
  """``_split_nodes(0, order)``: the split of every mean-0 expectation."""
  z, w = _split_nodes(0.0, order)
  z.flags.writeable, w.flags.writeable = False, False
  return z, w


def _shifted_expectation(g, m, s, order):
  """E[g(m + s z)], z ~ N(0, 1), split where m + s z = 0; g(m) where s = 0."""
  centred = np.ndim(m) == 0 and m == 0  # split at 0 for every s: shared nodes
  m, s = np.broadcast_arrays(np.asarray(m, np.float64), np.asarray(s, np.float64))
  if centred:
    z, w = _zero_split(order)
  else:
    safe = np.where(s > 0, s, 1.0)
    z, w = _split_nodes(np.where(s > 0, -m / safe, 0.0), order)
  out = np.sum(w * g(m[..., None] + s[..., None] * z), axis=-1)
  return np.where(s > 0, out, g(m))


def _rho(q1, q2, c12):
  return np.clip(c12 / np.sqrt(q1 * q2), -1.0, 1.0)


def _kernel_legendre(f, g, q1, q2, c12, order):
  """E[f(u1) g(u2)] by split Gauss-Legendre: outer z1 split at 0, inner z2 at
  the kink of g; exponential convergence for piecewise-analytic f, g."""
  q1, q2, c12 = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in (q1, q2, c12)))
  rho = _rho(q1, q2, c12)
  s = np.sqrt(1 - rho * rho)
  # Near |rho| = 1 the inner expectation is a kink rounded over |z1| < ~s/|rho|:
  # extra breakpoints at +-8 s/|rho| resolve it (beyond them it is analytic to
  # within exp(-32)).
  w = np.minimum(8 * s / np.maximum(np.abs(rho), 1e-300), LIMIT)
  z1, w1 = _interval_nodes(np.stack([np.full_like(w, -LIMIT), -w, np.zeros_like(w),
                                     w, np.full_like(w, LIMIT)], axis=-1), order)
  r1, r2 = np.sqrt(q1)[..., None], np.sqrt(q2)[..., None]
  inner = _shifted_expectation(g, r2 * rho[..., None] * z1, r2 * s[..., None],
                               order)
  return np.sum(w1 * f(r1 * z1) * inner, axis=-1)


def _kernel_hermite(f, g, q1, q2, c12, order):
  q1, q2, c12 = (np.asarray(a, np.float64)[..., None, None] for a in (q1, q2, c12))
  x, w = _hermite(order)
  z1, z2 = x[:, None], x[None, :]
  rho = _rho(q1, q2, c12)
  u1 = np.sqrt(q1) * z1
  u2 = np.sqrt(q2) * (rho * z1 + np.sqrt(1 - rho * rho) * z2)
  return np.sum(w[:, None] * w[None, :] * f(u1) * g(u2), axis=(-2, -1))


# -- closed forms ---------------------------------------------------------------
def _arccos1(q1, q2, c12):
  """E[relu(u1) relu(u2)]: the degree-1 arc-cosine kernel."""
  rho = _rho(q1, q2, c12)
  theta = np.arccos(rho)
  return np.sqrt(q1 * q2) * (np.sin(theta) + (np.pi - theta) * rho) / (2 * np.pi)


def _leaky(alpha):
  # phi(x) = relu(x) - alpha relu(-x): E = (1 + alpha^2) K(c) - 2 alpha K(-c)
  return lambda q1, q2, c: ((1 + alpha * alpha) * _arccos1(q1, q2, c)
                            - 2 * alpha * _arccos1(q1, q2, -c))


def _erf(q1, q2, c12):
  return 2 / np.pi * np.arcsin(2 * c12 / np.sqrt((1 + 2 * q1) * (1 + 2 * q2)))


def _gelu(a, b, c):
  """E[u Phi(u) v Phi(v)], Var u = a, Var v = b, Cov = c.

  With Phi = 1/2 + psi, psi odd, the cross terms vanish by symmetry; Stein's
  lemma applied twice to E[u psi(u) v psi(v)] and the Gaussian integrals
  E[psi psi] = asin(c / sqrt((1+a)(1+b))) / 2pi, E[psi' psi'] = 1 / (2pi sqrt(D)),
  E[psi''(u) psi(v)] = -c / (2pi (1+a) sqrt(D)), D = (1+a)(1+b) - c^2, give
  c/4 + c asin(.)/2pi + (ab + c^2 (1 - ab)/((1+a)(1+b))) / (2pi sqrt(D)).
  """
  p = (1 + a) * (1 + b)
  d = np.maximum(a * b - c * c, 0.0) + a + b + 1  # = p - c^2 >= 1, no cancellation
  return (c / 4 + c / (2 * np.pi) * np.arcsin(np.clip(c / np.sqrt(p), -1.0, 1.0))
          + (a * b + c * c * (1 - a * b) / p) / (2 * np.pi * np.sqrt(d)))


def _closed_form(spec):
  name, p = spec.name, spec.param
  return {
      "linear": lambda q1, q2, c: np.asarray(c, np.float64) * 1.0,
      "relu": _arccos1,
      "leaky_relu": _leaky(p),
      "abs": _leaky(-1.0),
      "erf": _erf,
      "gelu": _gelu,
  }.get(name)


def has_closed_form(act) -> bool:
  return _closed_form(_spec(act)) is not None


METHODS = ("auto", "closed", "legendre", "hermite")


def kernel(act, q1, q2, c12, *, method: str = "auto", order: int = DEFAULT_ORDER):
  """E[phi(u1) phi(u2)] for (u1, u2) ~ N(0, [[q1, c12], [c12, q2]]), broadcast.

  ``auto`` uses the closed form where there is one, else split Gauss-Legendre.
  """
  spec = _spec(act)
  if method not in METHODS:
    raise ConfigError("method", f"expected one of {', '.join(METHODS)}, got {method!r}")
  closed = _closed_form(spec)
  if method == "closed" or (method == "auto" and closed is not None):
    if closed is None:
      raise ConfigError("method", f"expected an activation with a closed form, "
                        f"got {spec.name!r}; use 'legendre' or 'hermite'")
    q1, q2, c12 = (np.asarray(a, np.float64) for a in (q1, q2, c12))
    return closed(q1, q2, c12)
  f, _, _ = functions(spec)
  quad = _kernel_hermite if method == "hermite" else _kernel_legendre
  return quad(f, f, q1, q2, c12, order)


def derivative_kernel(act, q1, q2, c12, *, order: int = DEFAULT_ORDER):
  """E[phi'(u1) phi'(u2)] (split Gauss-Legendre; phi' may jump at 0)."""
  _, df, _ = functions(act)
  return _kernel_legendre(df, df, q1, q2, c12, order)


def second_moment(act, q, *, method: str = "auto", order: int = DEFAULT_ORDER):
  """E[phi(sqrt(q) z)^2]: the closed form at c12 = q, else a 1-D rule."""
  spec = _spec(act)
  if method in ("auto", "closed") and _closed_form(spec) is not None:
    return kernel(spec, q, q, q, method=method, order=order)
  if method not in METHODS:
    raise ConfigError("method", f"expected one of {', '.join(METHODS)}, got {method!r}")
  if method == "closed":
    kernel(spec, q, q, q, method="closed")  # raises: no closed form
  f, _, _ = functions(spec)
  q = np.asarray(q, np.float64)
  if method == "hermite":
    x, w = _hermite(order)
    return np.sum(w * f(np.sqrt(q)[..., None] * x) ** 2, axis=-1)
  return _shifted_expectation(lambda x: f(x) ** 2, 0.0, np.sqrt(q), order)


def first_moment(act, q, *, order: int = DEFAULT_ORDER):
  """E[phi(sqrt(q) z)]: the mean of a unit's output (0 for odd phi)."""
  f, _, _ = functions(act)
  return _shifted_expectation(f, 0.0, np.sqrt(np.asarray(q, np.float64)), order)


def derivative_moment(act, q, *, order: int = DEFAULT_ORDER):
  """E[phi'(sqrt(q) z)^2], 1-D split Gauss-Legendre."""
  _, df, _ = functions(act)
  return _shifted_expectation(lambda x: df(x) ** 2, 0.0, np.sqrt(q), order)


def convergence_error(act, q1, q2, c12, *, method: str = "legendre",
                      order: int = DEFAULT_ORDER):
  """|kernel at order - kernel at 2*order|: an error estimate for ``order``."""
  a = kernel(act, q1, q2, c12, method=method, order=order)
  b = kernel(act, q1, q2, c12, method=method, order=2 * order)
  return np.abs(a - b)


def post_cosine(act, q1, q2, c12, **kw):
  """The post-activation cosine E[phi phi] / sqrt(E[phi1^2] E[phi2^2])."""
  k12 = kernel(act, q1, q2, c12, **kw)
  k11 = second_moment(act, q1, **kw)
  k22 = second_moment(act, q2, **kw)
  return k12 / np.sqrt(k11 * k22)


# -- near the cone: 1 - cos without cancellation ---------------------------------
_GL2 = (0.5 - 0.5 / math.sqrt(3), 0.5 + 0.5 / math.sqrt(3))


def _difference(f, df, x, delta):
  """f(x + delta) - f(x) without rounding x + delta: 2-point Gauss-Legendre on
  f' over [x, x + delta] (relative error ~ delta^4 / 4320) where |delta| <=
  1e-3 (|x| + 1e-3) and x, x + delta are on one side of 0 (every registered
  kink is at 0); the plain difference elsewhere (its rounding error is then
  small relative to it)."""
  x, delta = np.broadcast_arrays(x, delta)
  y = x + delta
  small = (np.abs(delta) <= 1e-3 * (np.abs(x) + 1e-3)) & ((x > 0) == (y > 0))
  out = np.empty(x.shape)
  xs, ds = x[small], delta[small]
  out[small] = ds * (df(xs + _GL2[0] * ds) + df(xs + _GL2[1] * ds)) / 2
  out[~small] = f(y[~small]) - f(x[~small])
  return out


def _distance_legendre(f, df, q1, q2, dist, order):
  """E[(f(u2) - f(u1))^2] with u1 = r1 z1, u2 = u1 + a z1 + b z2; the
  integrand is formed as a difference (``_difference``), so the result keeps
  its relative accuracy however close u1 and u2 are (a kernel difference
  k11 + k22 - 2 k12 loses it as 1e-16 / D)."""
  q1, q2, dist = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in (q1, q2, dist)))
  r1, r2 = np.sqrt(q1), np.sqrt(q2)
  # cov(u1, u2 - u1) = c12 - q1 = (q2 - q1 - D) / 2; b^2 = det / q1 with
  # sqrt(q1 q2) - c12 = (D - (r1 - r2)^2) / 2 and (r1 - r2) = (q1 - q2) / (r1 + r2)
  a = (q2 - q1 - dist) / (2 * r1)
  gap = np.maximum(dist - ((q1 - q2) / (r1 + r2)) ** 2, 0.0) / 2
  b = np.sqrt(gap * (2 * r1 * r2 - gap) / q1)
  slope = r1 + a  # u2's mean given z1, per unit z1
  w = np.minimum(8 * b / np.maximum(np.abs(slope), 1e-300), LIMIT)
  z1, w1 = _interval_nodes(np.stack([np.full_like(w, -LIMIT), -w, np.zeros_like(w),
                                     w, np.full_like(w, LIMIT)], axis=-1), order)
  u1 = r1[..., None] * z1
  shift = a[..., None] * z1  # u2 given z1 is u1 + shift + b z2
  bb = b[..., None]
  m = u1 + shift
  z2, w2 = _split_nodes(np.where(bb > 0, -m / np.where(bb > 0, bb, 1.0), 0.0), order)
  delta = shift[..., None] + bb[..., None] * z2
  inner = np.sum(w2 * _difference(f, df, u1[..., None], delta) ** 2, axis=-1)
  inner = np.where(bb > 0, inner, _difference(f, df, u1, shift) ** 2)
  return np.sum(w1 * inner, axis=-1)


NEAR = 1e-4  # below this relative distance a kernel difference loses > 4 digits


def distance(act, q1, q2, dist, *, order: int = DEFAULT_ORDER):
  """E[(phi(u1) - phi(u2))^2] for (u1, u2) with variances q1, q2 and
  E[(u1 - u2)^2] = dist (so c12 = (q1 + q2 - dist) / 2).

  Far from the cone this is k11 + k22 - 2 k12 (closed forms where they exist);
  where dist / (q1 + q2) < ``NEAR`` it is integrated directly as a squared
  difference that never rounds u1 + (u2 - u1), so it keeps its relative
  accuracy down to the smallest distances (the kernel difference has none
  left at dist ~ 1e-16).
  """
  spec = _spec(act)
  q1, q2, dist = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in (q1, q2, dist)))
  if spec.name == "linear":
    return dist.copy()
  f, df, _ = functions(spec)
  near = dist < NEAR * (q1 + q2)
  out = np.empty(q1.shape)
  far = ~near
  if far.any():
    c12 = (q1[far] + q2[far] - dist[far]) / 2
    out[far] = (second_moment(spec, q1[far], order=order)
                + second_moment(spec, q2[far], order=order)
                - 2 * kernel(spec, q1[far], q2[far], c12, order=order))
  if near.any():
    out[near] = _distance_legendre(f, df, q1[near], q2[near], dist[near], order)
  return out


def one_minus_cos(k1, k2, dist):
  """1 - cos for vectors with per-coordinate second moments k1, k2 and squared
  distance ``dist``: (dist - (sqrt k1 - sqrt k2)^2) / (2 sqrt(k1 k2)), without
  forming cos."""
  k1, k2, dist = (np.asarray(x, np.float64) for x in (k1, k2, dist))
  s1, s2 = np.sqrt(k1), np.sqrt(k2)
  return (dist - ((k1 - k2) / (s1 + s2)) ** 2) / (2 * s1 * s2)
