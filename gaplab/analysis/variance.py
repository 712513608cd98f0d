"""Variance due to the random initialisation (Liang et al. 2022, Theorem 2).

Θ is every weight and bias of a network, U an input and h = h_k(U) one
output coordinate. The share of h's variance due to the initialisation is

    R = Var_Θ(E[h | Θ]) / Var(h).

For the layer that feeds h, x = h^(L-1)(U), with x, x' the outputs for two
independent inputs under one Θ:

* tr V := E_Θ tr Var[x | Θ] = E|x|² − E[x·x'];
* the paper's β = 1 − tr V (its Theorem 4, Appendix D, which assumes
  ‖U‖ = 1 and W, b ~ N(0, 1/d_out), so that E|x|² = 1 at every layer);
* the scale-free β̃ = E[x·x'] / E|x|² = 1 − tr V / E|x|²: the norm-weighted
  mean cosine of the previous layer. β̃ = β exactly when E|x|² = 1;
* ω = s_w² E|x|² / (s_w² E|x|² + s_b²): the share of the pre-activation
  variance carried by the weights (s_w², s_b²: the variances of one weight and
  one bias entry). ω = 1/2 in the theorem's setting.

Estimates (``decompose``) are one-way random-effects ANOVA over K seeds × N
inputs, pooled over the exchangeable coordinates, with delete-one-seed
jackknife errors; ``proof_bound`` is the bound the theorem's proof gives, and
``meanfield`` the infinite-width values. NumPy float64 except the per-seed
moments, which are JAX functions meant to run inside a jitted simulation.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from gaplab.nets import activations
from gaplab.nets import mlp
from gaplab.theory import meanfield as mf
from gaplab._errors import ConfigError

# The proof's bound implies R >= β̃ wherever ω <= OMEGA_MAX.
OMEGA_MAX = (math.pi - 1) / math.pi


# -- per-seed sufficient statistics (JAX) --------------------------------------
def coord_moments(h):
  """One seed's ``h`` (N inputs, n coordinates) -> per-coordinate means over
  inputs (n,) and the within-seed variance (ddof 1) averaged over coordinates."""
  return jnp.mean(h, axis=0), jnp.mean(jnp.var(h, axis=0, ddof=1))


def gram_sums(means):
  """Per-seed means (K, ..., n) -> (G_kk, Σ_k' G_kk') with G_kk' = Σ_j h̄_kj h̄_k'j,
  after a shift by the mean over seeds (S_between is shift-invariant; the shift
  avoids cancellation when E[h] is large)."""
  means = means - jnp.mean(means, 0)
  return (jnp.sum(means * means, axis=-1),
          jnp.sum(means * jnp.sum(means, 0), axis=-1))


def layer_moments(x):
  """One seed's layer outputs ``x`` (N, n, maybe zero-padded) -> (mean |x|², the
  distinct-pair mean of x·x' (unbiased for E[x·x'] under this seed), the
  all-pairs mean cosine of Fig 2b, diagonal included)."""
  n_in = x.shape[0]
  sq = jnp.sum(x * x, axis=1)
  s = jnp.sum(x, axis=0)
  off = (s @ s - jnp.sum(sq)) / (n_in * (n_in - 1))
  norm = jnp.sqrt(sq)
  u = jnp.where(norm[:, None] > 0, x / jnp.where(norm > 0, norm, 1.0)[:, None], 0.0)
  mu = jnp.mean(u, axis=0)
  return jnp.mean(sq), off, mu @ mu


def mlp_moments(keys, index, params, w_std, b_std, sphere, *, acts, width, depth,
                input_dim, n_inputs, batch):
  """Per-seed sufficient statistics of R for every layer of a random MLP.

  K seeds (typed ``keys``) of h_l = φ(h_{l-1} W_l + b_l), width ``width``,
  ``depth`` layers, on ``n_inputs`` inputs per seed: N(0, I_d) rows, or unit
  rows (uniform on the sphere) where ``sphere`` > 0. W_l entries are
  ``w_std[l]`` × N(0, 1), b_l entries ``b_std`` × N(0, 1), φ =
  ``acts[index]`` with parameter ``params[index]``. ``index``, ``w_std``
  (depth,), ``b_std`` and ``sphere`` are traced: one compiled program serves
  every setting of a shape. float64 where x64 is on.

  Returns (K, depth[, ...]) arrays: ``prev_sq``, ``prev_off``,
  ``prev_cos_diag`` (``layer_moments`` of the layer's input) and, for the
  pre-activation z and the output φ(z), ``{pre,post}_within`` and the
  ``gram_sums`` ``{pre,post}_g_diag``, ``{pre,post}_g_row`` (over seeds).
  """
  f64, p = jnp.float64, max(width, input_dim)
  branches = [lambda z, f=activations.get(a).fn, i=i: f(z, params[i])
              for i, a in enumerate(acts)]
  phi = lambda z: jax.lax.switch(index, branches, z)

  def collect(x, z, y):
    return {"prev": layer_moments(x), "pre": coord_moments(z), "post": coord_moments(y)}

  def one_seed(key):
    wkey = jax.random.fold_in(key, 1)

    def draw(entry):
      # drawn inside the loop: drawn before it, one seed's (depth, p + 1, width)
      # weights would outweigh the (N, p) activations the seed batch is sized
      # for. Layer 1 runs in the loop too: x_0 is zero-padded to p columns (and
      # every narrower layer output by ``mlp.forward``), so the extra weight
      # rows multiply zeros.
      l, s = entry
      wb = jax.random.normal(jax.random.fold_in(wkey, l), (p + 1, width), f64)
      return wb[:p] * s, b_std * wb[p]

    x0 = jax.random.normal(jax.random.fold_in(key, 0), (n_inputs, input_dim), f64)
    x0 = jnp.where(sphere > 0, x0 / jnp.linalg.norm(x0, axis=1, keepdims=True), x0)
    x0 = jnp.pad(x0, ((0, 0), (0, p - input_dim)))
    return mlp.forward(x0, (jnp.arange(1, depth + 1), w_std), phi, weights=draw,
                       collect=collect)[1]

  s = jax.lax.map(one_seed, keys, batch_size=batch)  # vmapped in seed batches
  out = dict(zip(("prev_sq", "prev_off", "prev_cos_diag"), s["prev"]))
  for kind in ("pre", "post"):
    means, out[f"{kind}_within"] = s[kind]  # (K, L, n), (K, L)
    out[f"{kind}_g_diag"], out[f"{kind}_g_row"] = gram_sums(means)
  return out


def seed_batch(k: int, n_inputs: int, p: int) -> int:
  """Seeds per vmapped batch of ``mlp_moments``: the largest divisor of K (no
  remainder program) keeping each (batch, N, p) float64 array under 128 MiB."""
  cap = 2**24 // (n_inputs * p)
  return max(b for b in range(1, k + 1) if k % b == 0 and (b <= cap or b == 1))


@functools.lru_cache(maxsize=None)
def compiled_moments(**static):
  """``mlp_moments`` jitted for one set of static arguments (cached)."""
  return jax.jit(functools.partial(mlp_moments, **static))


def settings_moments(keys, settings, *, width: int, depth: int, input_dim: int,
                     n_inputs: int) -> dict:
  """``mlp_moments`` of every setting in ``settings`` (dicts with
  ``activation``, a spec like ``relu`` or ``leaky_relu:0.2``, ``w_std``
  (depth,), ``b_std`` and ``inputs``: "sphere" or not) on the same seeds
  ``keys``: one compiled program (a switch over the distinct activations),
  seeds in ``seed_batch`` batches. Returns name: (setting, seed, layer, ...)
  float64 NumPy arrays."""
  parsed = [activations.parse(s["activation"]) for s in settings]
  specs = list({sp.label: sp for sp in parsed}.values())  # distinct, in order of first use
  index = [[sp.label for sp in specs].index(sp.label) for sp in parsed]
  batch = seed_batch(keys.shape[0], n_inputs, max(width, input_dim))
  fn = compiled_moments(acts=tuple(sp.name for sp in specs), batch=batch, width=width,
                        depth=depth, input_dim=input_dim, n_inputs=n_inputs)
  params = jnp.asarray([sp.param for sp in specs], jnp.float64)
  per = [jax.device_get(fn(keys, i, params, jnp.asarray(s["w_std"], jnp.float64), s["b_std"],
                           float(s["inputs"] == "sphere")))
         for i, s in zip(index, settings)]
  return {name: np.stack([np.asarray(a[name], np.float64) for a in per]) for name in per[0]}


# -- estimates over seeds (NumPy) ----------------------------------------------
def mean_reps(x):
  """Seed axis 0 (K, ...) -> replicates (K + 1, ...): the mean over all seeds,
  then the K delete-one means."""
  x = np.asarray(x, np.float64)
  k = x.shape[0]
  return np.concatenate([x.mean(0)[None], (x.sum(0) - x) / (k - 1)])


def jackknife_se(loo):
  """Delete-one jackknife standard error from replicates along axis 0."""
  k = loo.shape[0]
  return np.sqrt((k - 1) / k * np.sum((loo - loo.mean(0)) ** 2, axis=0))


def decompose(g_diag, g_row, within, n_inputs: int, n_coords: int) -> dict:
  """Per-seed sums (seed axis 0) -> replicates (K + 1, ...) of S_between,
  S_within, the ANOVA between part S_between − S_within/N, the share R and the
  uncorrected share S_between / (S_between + S_within).

  For a seed set S of size K', S_between = (Σ_S G_kk − Σ_{S×S} G_kk'/K') /
  (n (K' − 1)) (the ddof-1 variance of h̄_kj over seeds, averaged over j), so
  each delete-one set needs only G_kk, the row sums and their total.
  E[S_between] = Var_Θ E[h|Θ] + E Var[h|Θ] / N, hence the correction.
  """
  g_diag, g_row = np.asarray(g_diag, np.float64), np.asarray(g_row, np.float64)
  k = g_diag.shape[0]
  d, t = g_diag.sum(0), g_row.sum(0)
  full = (d - t / k) / (n_coords * (k - 1))
  loo = ((d - g_diag) - (t - 2 * g_row + g_diag) / (k - 1)) / (n_coords * (k - 2))
  s_b, s_w = np.concatenate([full[None], loo]), mean_reps(within)
  between = s_b - s_w / n_inputs
  return {"s_between": s_b, "within": s_w, "between": between,
          "share": between / (between + s_w), "naive": s_b / (s_b + s_w)}


def variance_share(h) -> tuple[float, float]:
  """(R, jackknife SE) from outputs ``h`` of shape (K >= 3 seeds, N >= 2
  inputs, n coordinates), the coordinates exchangeable (pooled)."""
  h = np.asarray(h, np.float64)
  if h.ndim != 3 or h.shape[0] < 3 or h.shape[1] < 2:
    raise ConfigError("h", f"expected (K >= 3 seeds, N >= 2 inputs, n) outputs, got "
                      f"shape {h.shape}")
  means, within = h.mean(axis=1), h.var(axis=1, ddof=1).mean(axis=1)
  g_diag, g_row = (np.asarray(a) for a in gram_sums(means))
  share = decompose(g_diag, g_row, within, h.shape[1], h.shape[2])["share"]
  return float(share[0]), float(jackknife_se(share[1:]))


def projection_beta(x) -> float:
  """β̃ = E[x·x'] / E[x·x] over independent inputs x, x' of one seed, from
  (K, N, F) features (distinct pairs: unbiased). For z = W x with W zero-mean,
  i.i.d. and independent of x (a bias-free random projection), the share R of
  z equals β̃ in expectation: an identity of the construction, not a test of
  the theorem."""
  x = np.asarray(x, np.float64)
  k, n, _ = x.shape
  s = x.sum(axis=1)
  sq = np.sum(x * x, axis=(1, 2))
  off = (np.sum(s * s, axis=1) - sq) / (n * (n - 1))
  return float(off.mean() / (sq / n).mean())


# -- the bound of the theorem's proof ------------------------------------------
def weight_share(sw2, e_sq, sb2):
  """ω = s_w² E|x|² / (s_w² E|x|² + s_b²)."""
  return sw2 * e_sq / (sw2 * e_sq + sb2)


def proof_bound(omega, beta_tilde):
  """The lower bound on a ReLU post-activation share that the proof of
  Theorem 4 gives, in any setting with independent centred Gaussian weights
  and biases:  R >= 1 − ω (1 − β̃) π / (π − 1).

  Derivation (Appendix D's three steps, kept general). With z = W_k·x + b_k,
  Var(W_kl) = s_w², Var(b_k) = s_b²: (1) Var(h_k) = E[φ(z)²] − E[φ(z)]² >=
  (s_w² E|x|² + s_b²)(π − 1)/(2π), by Jensen on E[√(s_w²|x|² + s_b²)];
  (2) E Var[h_k | Θ] <= ½ s_w² tr V, by the symmetry (W, b) -> (−W, −b) and
  φ(z)² + φ(−z)² = z²; (3) their ratio is <= ω (1 − β̃) π/(π − 1). In the
  theorem's setting (ω = 1/2) this is R >= 1 − (1 − β)·π/(2(π − 1)) >= β
  since π < 2(π − 1). In general it implies R >= β̃ exactly when
  ω <= (π − 1)/π = ``OMEGA_MAX``; at the cone (β̃ -> 1) it is attained in the
  wide limit. Each step holds at every finite width.
  """
  return 1 - np.asarray(omega) * (1 - np.asarray(beta_tilde)) * math.pi / (math.pi - 1)


# -- infinite width -------------------------------------------------------------
def sphere_cosines(d: int, order: int = 24):
  """Gauss-Jacobi nodes and weights (summing to 1) for the cosine t = U·U' of
  two independent uniform unit vectors in R^d, density ∝ (1 − t²)^((d−3)/2)."""
  if d < 2:
    raise ValueError(f"Expected a dimension d >= 2, got {d}")
  a = (d - 3) / 2
  t, w = scipy.special.roots_jacobi(order, a, a)
  return t, w / w.sum()


def meanfield(act, *, sigma_w2, sigma_b2, depth: int, q0: float, c0, weights) -> dict:
  """Infinite-width β̃, ω, R_pre and R_post of every layer 1..depth for inputs
  of equal squared norm per coordinate ``q0``, pair cosines ``c0`` with
  probabilities ``weights`` (e.g. ``sphere_cosines``). Mean-field conventions
  (``propagation.propagate``): Var(W) = sigma_w2 / fan_in (scalar or per
  layer), Var(b) = sigma_b2. R is a ratio of expectations over pairs; its
  complement is computed from 1 − cos, so it stays exact near the cone:

  1 − β̃_l = E[1 − cos_{l−1}],  1 − R_pre = E[1 − ρ_l],
  1 − R_post = E φ² · E[1 − cos_l] / (E φ² − (E φ)²).

  Returns arrays (depth,): ``beta``, ``omega``, ``share_pre``, ``share_post``
  and the complements ``one_minus_*``.
  """
  from gaplab.theory import propagation
  c0 = np.asarray(c0, np.float64)
  w = np.asarray(weights, np.float64)
  out = propagation.propagate(act, sigma_w2=sigma_w2, sigma_b2=sigma_b2, depth=depth,
                              q1=q0, q2=q0, c12=c0 * q0)
  avg = lambda a: np.sum(a * w, axis=-1)
  sw2 = np.broadcast_to(np.asarray(sigma_w2, np.float64), (depth,))
  k_prev = out["k1"][:-1, 0]  # E|x|² / fan_in of layers 0..L-1 (same for all pairs)
  q, k = out["q1"][1:, 0], out["k1"][1:, 0]  # pre-activation variance, E φ²
  m = mf.first_moment(act, q)
  omb = avg(out["one_minus_cos"][:-1])
  omr_pre = avg(out["one_minus_pre_corr"][1:])
  omr_post = k * avg(out["one_minus_cos"][1:]) / (k - m * m)
  return {"beta": 1 - omb, "one_minus_beta": omb,
          "omega": weight_share(sw2, k_prev, sigma_b2),
          "share_pre": 1 - omr_pre, "one_minus_share_pre": omr_pre,
          "share_post": 1 - omr_post, "one_minus_share_post": omr_post}
