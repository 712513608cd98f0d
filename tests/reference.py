"""Independent float64 NumPy reference for the cone sweep.

Nothing here calls JAX for the math: the activations, the forward pass and the
cone statistics are written from their definitions (``docs/science.md`` and
the docstrings of ``gaplab``), in float64, by brute force over the full N x N
cosine matrix. The only bridge to the engine is the pair of accessors
``gaplab.cone.engine.explicit_weights`` / ``explicit_inputs``, which hand over the
exact random numbers a variant sees, as NumPy arrays.
"""
import math

import numpy as np

# SELU constants (Klambauer et al. 2017), written out independently.
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805

_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def sigmoid(x):
  """1 / (1 + exp(-x)) without overflow: exp of a non-positive number only."""
  e = np.exp(-np.abs(x))
  return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(x):
  """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), stable for any x."""
  return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def std_normal_cdf(x):
  """Phi(x) = erfc(-x / sqrt 2) / 2: erfc keeps the left tail accurate."""
  return 0.5 * _erfc(-x / math.sqrt(2.0))


def elu(x, alpha):
  return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def _gelu_tanh(x):
  c = math.sqrt(2.0 / math.pi)
  with np.errstate(over="ignore", invalid="ignore"):
    return 0.5 * x * (1.0 + np.tanh(c * (x + 0.044715 * x**3)))


# name -> f(x, param); param is ignored where the activation has none.
ACTIVATIONS = {
    "linear": lambda x, p: x,
    "relu": lambda x, p: np.maximum(x, 0.0),
    "leaky_relu": lambda x, p: np.where(x >= 0, x, p * x),
    "gelu": lambda x, p: x * std_normal_cdf(x),
    "gelu_tanh": lambda x, p: _gelu_tanh(x),
    "quick_gelu": lambda x, p: x * sigmoid(1.702 * x),
    "sigmoid": lambda x, p: sigmoid(x),
    "tanh": lambda x, p: np.tanh(x),
    "elu": elu,
    "selu": lambda x, p: SELU_SCALE * elu(x, SELU_ALPHA),
    "silu": lambda x, p: x * sigmoid(x),
    "softplus": lambda x, p: softplus(x),
    "erf": lambda x, p: _erf(x),
    "abs": lambda x, p: np.abs(x),
}


def activation(name, x, param=math.nan):
  return ACTIVATIONS[name](np.asarray(x, np.float64), param)


# -- forward pass --------------------------------------------------------------


def block_forward(h, maps, name, param, block):
  """One block, h (N, fan_in) -> (N, width), with explicit (W, b) pairs.

  maps: [(W1, b1)] or [(W1, b1), (W2, b2)], W of shape (fan_in, fan_out).
  """
  phi = lambda z: activation(name, z, param)
  aff = lambda a, m: a @ m[0] + m[1]
  if block == "linear-act":
    if name == "maxout":
      return np.maximum(aff(h, maps[0]), aff(h, maps[1]))
    return phi(aff(h, maps[0]))
  if block == "act-linear":
    return aff(phi(h), maps[0])
  if block == "linear-act-linear":
    return aff(phi(aff(h, maps[0])), maps[1])
  raise ValueError(block)


def expected_n_maps(block, name):
  """How many affine maps a block has, from the block definitions."""
  if block == "linear-act-linear" or (block == "linear-act" and name == "maxout"):
    return 2
  return 1


def forward(x, layer_maps, name, param, block):
  """[x, h_1, ..., h_depth] for explicit per-layer maps."""
  hs = [np.asarray(x, np.float64)]
  for maps in layer_maps:
    assert len(maps) == expected_n_maps(block, name), (block, name, len(maps))
    hs.append(block_forward(hs[-1], maps, name, param, block))
  return hs


def variant_layers(cfg, variant, seed_index, width, memo=None):
  """Reference hidden states [x, h_1, ..., h_depth] of one variant and seed,
  from the engine's explicit weights and inputs.

  ``memo`` (a dict) optionally caches ``explicit_weights`` across the
  activations of one sweep: by design (common random numbers) a variant's
  weights depend on its init, sigmas and number of maps, not on which
  activation follows them.
  """
  from gaplab.cone import engine
  x = engine.explicit_inputs(cfg, seed_index)
  n_maps = expected_n_maps(cfg.block, variant.activation)
  layer_maps = []
  for layer in range(1, cfg.depth + 1):
    key = (cfg.replace(activations=()), variant.init, variant.sigma_w,
           variant.sigma_b, n_maps, seed_index, layer, width)
    if memo is not None and key in memo:
      maps = memo[key]
    else:
      maps = engine.explicit_weights(cfg, variant, seed_index, layer, width,
                                     x.shape[1])
      if memo is not None:
        memo[key] = maps
    layer_maps.append(maps)
  return forward(x, layer_maps, variant.activation, variant.act_param,
                 cfg.block)


# -- brute-force cone statistics -----------------------------------------------


def unit_rows(x):
  """(rows / |row|, |row|^2, degenerate mask) in float64."""
  x = np.asarray(x, np.float64)
  with np.errstate(all="ignore"):
    sq = np.sum(x * x, axis=1)
    u = x / np.sqrt(sq)[:, None]
  bad = ~(np.all(np.isfinite(x), axis=1) & (sq > 0))
  return u, sq, bad


def cosine_matrix(x):
  u, _, _ = unit_rows(x)
  with np.errstate(all="ignore"):
    return u @ u.T


def distinct_pairs(c):
  """The N(N-1)/2 entries above the diagonal of a symmetric matrix."""
  i, j = np.triu_indices(c.shape[0], k=1)
  return c[i, j]


def hist_edges(n_bins):
  return np.linspace(-1.0, 1.0, n_bins + 1)


def pair_histogram(cos_pairs, n_bins):
  """np.histogram of pair cosines on n_bins equal bins of [-1, 1].

  Rounding can push a cosine of identical directions to 1 + 1e-16, which
  np.histogram would drop; clipping to [-1, 1] keeps it in the end bin.
  """
  return np.histogram(np.clip(cos_pairs, -1.0, 1.0), bins=hist_edges(n_bins))[0]


def near_edge_count(cos_pairs, n_bins, window):
  """Pairs whose cosine lies within ``window`` of an interior bin edge: their
  bin depends on rounding, so two correct implementations may disagree on them
  (each such pair moves one count between two neighbouring bins)."""
  inner = hist_edges(n_bins)[1:-1]
  d = np.abs(np.asarray(cos_pairs)[:, None] - inner[None, :])
  return int(np.sum(np.any(d < window, axis=1)))


def cone_radius(u):
  """Max angle between a unit row and the centroid direction, via arctan2 of
  the orthogonal and parallel components (accurate for tiny angles, unlike
  arccos of a dot product near 1). NaN when the centroid is 0 (no direction)."""
  m = np.mean(u, axis=0)
  with np.errstate(invalid="ignore", divide="ignore"):
    mhat = m / np.linalg.norm(m)
  par = u @ mhat
  perp = np.linalg.norm(u - par[:, None] * mhat[None, :], axis=1)
  return np.max(np.arctan2(perp, par))


def cone_stats(x, n_bins=50):
  """Every statistic of ``gaplab.cone.stats.SCALARS`` plus ``hist``, by brute force.

  Rows that are zero or non-finite make every cosine statistic NaN and the
  histogram all -1 (the documented convention); ``q`` stays |x|^2 / d.
  """
  x = np.asarray(x, np.float64)
  n, d = x.shape
  u, sq, bad = unit_rows(x)
  out = {"q": np.mean(sq) / d, "frac_degenerate": np.mean(bad)}
  names = ("mean_cos", "one_minus_mean_cos", "mean_cos_diag", "centroid_norm",
           "cone_radius", "min_cos", "max_cos", "one_minus_max_cos")
  if np.any(bad):
    out.update({k: np.nan for k in names})
    out["hist"] = np.full(n_bins, -1)
    return out
  c = u @ u.T
  pairs = distinct_pairs(c)
  m = np.mean(u, axis=0)
  out.update(
      mean_cos=np.mean(pairs),
      one_minus_mean_cos=np.mean(1.0 - pairs),
      mean_cos_diag=np.mean(c),
      centroid_norm=np.linalg.norm(m),
      cone_radius=cone_radius(u),
      min_cos=np.min(pairs),
      max_cos=np.max(pairs),
      one_minus_max_cos=1.0 - np.max(pairs),
      hist=pair_histogram(pairs, n_bins),
  )
  return out
