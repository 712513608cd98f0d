"""Post-hoc interventions on paired embeddings: each maps unit rows (a, b) to new unit rows.

Conventions: ``a`` and ``b`` are (N, D) float32/float64 unit rows, row i of a
pairs with row i of b; the paper's notebooks are read with a = images and
b = texts. Every function is pure, returns (a2, b2) with the input dtypes and
renormalised rows, and runs over row blocks accumulating in float64 (memory:
the outputs plus a few float64 blocks). The gap vector is

    d = mu_a - mu_b          (gap_vector; the notebooks' mean(image) - mean(text)).

* ``shift`` (Liang et al. 2022, Sec. 5): with d^ = d/|d| (``unit=True``) or d,
    which="both":  a - delta/2 d^,  b + delta/2 d^     (Table 1, shift_features.ipynb)
    which="a":     a - delta d^,    b                  (Table 2, shift_CLIP_FairFace_Bias.ipynb)
    which="b":     a,               b + delta d^
  then rows renormalised. Positive delta moves the modalities towards each
  other; before renormalisation the centroid gap is d - delta d^, closed at
  delta = |d| (unit) or 1 (raw), the default ``apply`` uses.
* ``mean_removal`` (C3, Zhang et al. 2024, "collapse"): u - mu_modality, renormalised.
* ``mean_removal_noise`` (C3 "corrupt" after "collapse"): u - mu + sigma z,
  z ~ N(0, I_D), renormalised; noise on b (texts) only by default, as C3.
* ``procrustes``: a R with R = argmin_{R^T R = I} |a R - b|_F = U V^T, U S V^T = a^T b.
* ``project_out_gap``: u - (u.g) g, g = d^, renormalised.
* ``standardize``: per modality and coordinate (u_j - mu_j) / sigma_j, renormalised.

Sources (read with the search tools; no code copied):
  Weixin-Liang/Modality-Gap, Table_1_Implications_CLIP_Zero_Shot/shifting/shift_features.ipynb,
  ``move_features(image_features, text_features, evaluate_func, direction_vec=None)``:
  direction = image.mean(0) - text.mean(0) divided by its norm (or the given
  ``direction_vec``, in a second cell the same unit vector from MSCOCO);
  for delta in np.arange(-5, 5, 0.25) (-5 ... 4.75; 5 itself is not in the grid):
  text + 0.5*delta*dir and image - 0.5*delta*dir, each renormalised;
  gap_distance = |mean(text') - mean(image')|.
  Table_2_Implications_CLIP_Fairness/shift_CLIP_FairFace_Bias.ipynb, cell "Shift
  main function": ``my_norm(face.image_features - delta * modality_gap)`` for
  delta in [0.0, -0.20, -0.5, -1.0, 0.75], the class prompts unshifted (a
  commented-out variant shifts both by -/+ 0.5 delta); negative delta widens the
  gap ("Increasing gap by 0.20 reduces biases" at delta = -0.2). Its
  ``modality_gap`` is loaded from ./features/modality_gap_vector.pkl (shape
  (512,)), made outside that notebook. Figure_3_Contrastive_Learning/get_gap_stats.ipynb
  computes ``my_norm(my_norm(img).mean(0) - my_norm(txt).mean(0))``, a UNIT
  vector, has a (commented) cell dumping exactly it to modality_gap_vector.pkl,
  and tabulates the same image-only shift (gap 0.822 at delta 0, 1.005 at -0.25,
  matching the README's 0.82 -> 0.97 for Table 2 near delta = -0.2). So the
  FairFace shift most likely used the unit vector; ``unit=False`` (raw d) is
  offered as the issue asks, but no notebook in that repository uses it.
  yuhui-zh15/C3, image_captioning/src/datasets/dataset_coco.py: texts (the
  training modality) ``normalize -> - text_embed_mean -> + randn * noise_level
  -> renormalise``; images at test time ``normalize -> - image_embed_mean ->
  renormalise`` with no noise; noise_level defaults to sqrt(0.016) in
  image_captioning/run.py; the means are of the normalised train embeddings
  (src/parse_data/compute_embed_means.py). Here the means are of the given rows.
  Chowers et al. 2026's "translate in the orthogonal complement" was not found in
  the stored sources; ``project_out_gap`` is the plain projection named above.

Degenerate cases raise ConfigError("intervention", ...): a zero gap where its
direction is needed (|d| <= 1e-12), and rows whose norm before renormalisation
is <= 100 eps of the input dtype (f32 1.2e-5, f64 2.2e-14), counted and named.
"""
from __future__ import annotations

import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gaplab._errors import ConfigError
from gaplab.embeddings.blocks import DEFAULT_BLOCK, f64, mean_rows, row_blocks
from gaplab.embeddings import metrics

C3_SIGMA = math.sqrt(0.016)  # C3 image_captioning/run.py --noise_level default
GAP_TOL = 1e-12  # |d| at or below this: the gap direction is undefined
WHICH = ("both", "a", "b")


def _check_pair(a, b) -> None:
  for name, u in (("a", a), ("b", b)):
    if not isinstance(u, np.ndarray) or u.ndim != 2 or u.dtype not in (np.float32, np.float64):
      raise ValueError(f"Expected {name} a 2-D float32/float64 ndarray, got "
                       f"{type(u).__name__} {getattr(u, 'dtype', '')} {getattr(u, 'shape', '')}")
  if a.shape != b.shape or a.shape[0] < 1:
    raise ValueError(f"Expected a and b of one shape (N >= 1, D), got {a.shape} and {b.shape}")


def _zero_tol(dtype) -> float:
  return 100.0 * float(np.finfo(dtype).eps)


def _map_rows(u: np.ndarray, fn: Callable, block: int) -> tuple[np.ndarray, int]:
  """out[s] = y / |y| with y = fn(float64 rows, s) per block; also the count of
  rows with |y| <= _zero_tol(u.dtype) (left as 0 in out, to be refused)."""
  out = np.empty_like(u)
  tol, bad = _zero_tol(u.dtype), 0
  for s in row_blocks(u.shape[0], block):
    y = np.asarray(fn(f64(u[s]), s), np.float64)
    if np.may_share_memory(y, u):  # fn returned the input's rows: copy before dividing in place
      y = y.copy()
    n = np.linalg.norm(y, axis=1)
    zero = n <= tol
    bad += int(zero.sum())
    n[zero] = np.inf
    y /= n[:, None]
    out[s] = y
  return out, bad


def _both(name: str, a, b, fa: Callable, fb: Callable, block: int) -> tuple:
  a2, bad_a = _map_rows(a, fa, block)
  b2, bad_b = _map_rows(b, fb, block)
  if bad_a or bad_b:
    raise ConfigError("intervention", f"{name} leaves {bad_a} of {a.shape[0]} rows of a and "
                      f"{bad_b} of {b.shape[0]} rows of b zero (norm <= {_zero_tol(a.dtype):.1e}),"
                      " so they cannot be renormalised")
  return a2, b2


def _keep(x, s):
  return x


def gap_vector(a, b, block: int = DEFAULT_BLOCK) -> np.ndarray:
  """d = mu_a - mu_b, float64 (D,): ``metrics.gap_profile``, over row blocks."""
  _check_pair(a, b)
  return metrics.gap_profile(a, b, block)


def _direction(a, b, direction, unit: bool, block: int) -> np.ndarray:
  if direction is None:
    d = gap_vector(a, b, block)
  else:
    d = np.asarray(direction, np.float64)
    if d.shape != (a.shape[1],) or not np.all(np.isfinite(d)):
      raise ConfigError("direction", f"expected a finite vector of {a.shape[1]} entries, "
                        f"got shape {d.shape}")
  norm = float(np.linalg.norm(d))
  if unit and norm <= GAP_TOL:
    src = "given direction" if direction is not None else "gap vector mu_a - mu_b"
    raise ConfigError("intervention", f"the {src} has norm {norm:.1e}, so its direction is undefined")
  return d / norm if unit else d


def _which(which) -> str:
  if which not in WHICH:
    raise ConfigError("intervention", f"expected which one of {', '.join(WHICH)}, got {which!r}")
  return which


def shift(a, b, delta, *, which: str = "both", unit: bool = True, direction=None,
          block: int = DEFAULT_BLOCK) -> tuple:
  """Shift along the gap: ``a - delta/2 v, b + delta/2 v`` (which="both"),
  ``a - delta v`` (which="a") or ``b + delta v`` (which="b"), rows renormalised;
  v = d/|d| (unit=True) or d, d = ``direction`` or ``gap_vector(a, b)``.
  a = images, b = texts: which="both", unit=True is shift_features.ipynb's
  ``move_features`` (with ``direction_vec`` = a unit ``direction``); which="a" is
  shift_CLIP_FairFace_Bias.ipynb (its vector most likely unit; see the module
  docstring). Positive delta closes the gap (the notebooks' sign)."""
  _check_pair(a, b)
  if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not math.isfinite(delta):
    raise ConfigError("intervention", f"expected delta a finite number, got {delta!r}")
  which = _which(which)
  v = _direction(a, b, direction, bool(unit), block)
  ca, cb = {"both": (-0.5, 0.5), "a": (-1.0, 0.0), "b": (0.0, 1.0)}[which]
  return _both("shift", a, b, lambda x, s: x + (ca * delta) * v,
               lambda x, s: x + (cb * delta) * v, block)


def mean_removal(a, b, block: int = DEFAULT_BLOCK) -> tuple:
  """C3's collapse: ``u - mu_modality`` per modality, rows renormalised.

  Before renormalisation each modality is centred, so its mean and the centroid
  gap |mu_a - mu_b| are exactly 0. After it, mean(a2) = (1/N) sum_i (u_i - mu)/r_i
  with r_i = |u_i - mu|, which is 0 only when the r_i are equal: l2m after
  mean removal is small, not 0."""
  _check_pair(a, b)
  mu_a, mu_b = mean_rows(a, block), mean_rows(b, block)
  return _both("mean_removal", a, b, lambda x, s: x - mu_a, lambda x, s: x - mu_b, block)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _noise_block(key, start, n: int, d: int):
  idx = start + jnp.arange(n, dtype=jnp.uint32)
  return jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), (d,), jnp.float32))(idx)


def row_noise(key, start: int, stop: int, d: int) -> np.ndarray:
  """Standard normal rows start..stop-1 (float32 draws, returned float64): row i
  from ``fold_in(key, i)``, so the noise does not depend on the block size."""
  return np.asarray(_noise_block(key, jnp.uint32(start), stop - start, d), np.float64)


def mean_removal_noise(a, b, key, *, sigma: float = C3_SIGMA, which: str = "b",
                       block: int = DEFAULT_BLOCK) -> tuple:
  """C3's collapse then corrupt: ``u - mu_modality (+ sigma z)``, z ~ N(0, I_D)
  per row, rows renormalised. C3 adds noise to the texts only (its training
  modality; images are mean-removed without noise), hence which="b" by default
  with b = texts; "a" or "both" move the noise. Default sigma = sqrt(0.016), C3's.
  ``key`` is a typed PRNG key; the modalities' noises come from its two splits."""
  _check_pair(a, b)
  if not (isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)):
    raise ValueError(f"Expected a typed PRNG key (jax.random.key), got {key!r}")
  if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma >= 0 \
     or not math.isfinite(sigma):
    raise ConfigError("intervention", f"expected sigma a finite number >= 0, got {sigma!r}")
  which = _which(which)
  mu_a, mu_b = mean_rows(a, block), mean_rows(b, block)
  ka, kb = jax.random.split(key)
  d = a.shape[1]

  def fn(mu, k, noisy):
    if not noisy:
      return lambda x, s: x - mu
    return lambda x, s: x - mu + sigma * row_noise(k, s.start, s.stop, d)
  return _both("mean_removal_noise", a, b, fn(mu_a, ka, which in ("a", "both")),
               fn(mu_b, kb, which in ("b", "both")), block)


def procrustes_rotation(a, b, block: int = DEFAULT_BLOCK) -> np.ndarray:
  """R = argmin_{R^T R = I} |a R - b|_F = U V^T with U S V^T = a^T b (Schonemann
  1966; scipy.linalg.orthogonal_procrustes(a, b)), a^T b summed over row blocks
  in float64. (D, D) float64."""
  _check_pair(a, b)
  m = np.zeros((a.shape[1], a.shape[1]), np.float64)
  for s in row_blocks(a.shape[0], block):
    m += f64(a[s]).T @ f64(b[s])
  u, _, vt = np.linalg.svd(m)
  return u @ vt


def procrustes(a, b, block: int = DEFAULT_BLOCK) -> tuple:
  """Orthogonal Procrustes: (a R, b) with R = procrustes_rotation(a, b), rows
  renormalised (R is orthogonal, so only rounding changes)."""
  r = procrustes_rotation(a, b, block)
  return _both("procrustes", a, b, lambda x, s: x @ r, _keep, block)


def project_out_gap(a, b, *, direction=None, block: int = DEFAULT_BLOCK) -> tuple:
  """Remove the component along g = d/|d| from every row: u - (u.g) g, rows
  renormalised; d = ``direction`` or gap_vector(a, b). With the own gap the
  projected (pre-renormalisation) centroids coincide, P(mu_a - mu_b) = 0; after
  renormalisation they differ slightly. Rows parallel to g become zero and are
  refused."""
  _check_pair(a, b)
  g = _direction(a, b, direction, True, block)
  proj = lambda x, s: x - np.outer(x @ g, g)
  return _both("project_out_gap", a, b, proj, proj, block)


def _mean_std(u, block: int) -> tuple[np.ndarray, np.ndarray]:
  """Row mean and population std per coordinate (two passes over blocks); std
  set to inf where it is <= 1e-10 of the coordinate's rms (zero variance up to
  the float64 rounding of the mean), so that coordinate standardises to 0."""
  mu = mean_rows(u, block)
  ss, sq = np.zeros_like(mu), np.zeros_like(mu)
  for s in row_blocks(u.shape[0], block):
    x = f64(u[s])
    ss += ((x - mu) ** 2).sum(axis=0)
    sq += (x * x).sum(axis=0)
  sd, rms = np.sqrt(ss / u.shape[0]), np.sqrt(sq / u.shape[0])
  return mu, np.where(sd <= 1e-10 * rms, np.inf, sd)


def standardize(a, b, block: int = DEFAULT_BLOCK) -> tuple:
  """Per modality and coordinate: (u_j - mu_j) / sigma_j (population std of that
  coordinate in that modality; zero-variance coordinates become 0), rows
  renormalised."""
  _check_pair(a, b)
  mu_a, sd_a = _mean_std(a, block)
  mu_b, sd_b = _mean_std(b, block)
  return _both("standardize", a, b, lambda x, s: (x - mu_a) / sd_a,
               lambda x, s: (x - mu_b) / sd_b, block)


INTERVENTIONS: dict[str, Callable] = {
    "shift": shift, "mean_removal": mean_removal, "mean_removal_noise": mean_removal_noise,
    "procrustes": procrustes, "project_out_gap": project_out_gap, "standardize": standardize,
}

# name -> {param: (kind, default)}; kind "number", "sigma", "seed", "bool" or a tuple of choices.
# shift's delta None -> the delta that closes the pre-renormalisation gap (apply).
PARAMS: dict[str, dict] = {
    "shift": {"delta": ("number", None), "which": (WHICH, "both"), "unit": ("bool", True)},
    "mean_removal": {}, "procrustes": {}, "project_out_gap": {}, "standardize": {},
    "mean_removal_noise": {"sigma": ("sigma", C3_SIGMA), "seed": ("seed", 0),
                           "which": (WHICH, "b")},
}


def _literal(text: str):
  """A CLI value: true/false, an int, a float, else the string itself."""
  low = text.strip().lower()
  if low in ("true", "false"):
    return low == "true"
  for cast in (int, float):
    try:
      return cast(text)
    except ValueError:
      pass
  return text.strip()


def _coerce(name: str, key: str, value):
  kind = PARAMS[name][key][0]
  is_num = isinstance(value, (int, float)) and not isinstance(value, bool)
  if isinstance(kind, tuple):
    if value in kind:
      return value
    want = f"one of {', '.join(kind)}"
  elif kind == "bool":
    if isinstance(value, bool):
      return value
    want = "true or false"
  elif kind == "seed":
    if is_num and float(value).is_integer() and 0 <= value < 2 ** 32:
      return int(value)
    want = "an integer in [0, 2^32)"
  else:
    if is_num and math.isfinite(value) and (kind == "number" or value >= 0):
      return float(value)
    want = "a finite number" + (" >= 0" if kind == "sigma" else "")
  raise ConfigError("intervention", f"expected {name} {key} {want}, got {value!r}")


def _check_params(name: str, params: dict) -> dict:
  if name not in INTERVENTIONS:
    raise ConfigError("intervention", f"expected one of {', '.join(INTERVENTIONS)}, got {name!r}")
  out = {}
  for k, v in params.items():
    if k not in PARAMS[name]:
      keys = ", ".join(PARAMS[name]) or "none"
      raise ConfigError("intervention", f"expected a parameter of {name} (one of {keys}), got {k!r}")
    out[k] = _coerce(name, k, v)
  return out


def parse(spec: str) -> tuple[str, dict]:
  """``"NAME"`` or ``"NAME:key=value,key=value"`` -> (name, the given params,
  typed and checked). Values: true/false, numbers, strings. E.g.
  ``"shift:delta=0.5,which=a,unit=false"``, ``"mean_removal_noise:sigma=0.05,seed=0"``."""
  if not isinstance(spec, str) or not spec.strip():
    raise ConfigError("intervention", f"expected NAME or NAME:key=value,..., got {spec!r}")
  name, _, rest = spec.strip().partition(":")
  name = name.strip()
  params: dict = {}
  if rest.strip():
    for item in rest.split(","):
      k, eq, v = item.partition("=")
      k = k.strip()
      if not eq or not k or not v.strip():
        raise ConfigError("intervention", f"expected key=value in {spec!r}, got {item!r}")
      if k in params:
        raise ConfigError("intervention", f"expected each key once in {spec!r}, got {k!r} twice")
      params[k] = _literal(v)
  elif rest or spec.strip().endswith(":"):
    raise ConfigError("intervention", f"expected key=value after ':' in {spec!r}, got nothing")
  return name, _check_params(name, params)


def apply(spec, a, b, *, key=None) -> tuple[np.ndarray, np.ndarray, dict]:
  """Parse ``spec`` (a string for ``parse`` or a (name, params) tuple) and run it:
  (a2, b2, record), record = {"name", "params"} with defaults filled in. shift
  without delta uses the delta that closes the centroid gap before
  renormalisation, |d| (unit) or 1 (raw). mean_removal_noise draws from ``key``
  when given (params then record seed None), else jax.random.key(seed)."""
  if isinstance(spec, str):
    name, given = parse(spec)
  else:
    name, given = spec[0], _check_params(spec[0], dict(spec[1]))
  params = {k: given.get(k, default) for k, (_, default) in PARAMS[name].items()}
  fn = INTERVENTIONS[name]
  if name == "shift":
    if params["delta"] is None:
      params["delta"] = float(np.linalg.norm(gap_vector(a, b))) if params["unit"] else 1.0
    a2, b2 = fn(a, b, params["delta"], which=params["which"], unit=params["unit"])
  elif name == "mean_removal_noise":
    if key is not None and "seed" in given:
      raise ValueError("Expected either key or a seed parameter, got both")
    if key is None:
      key = jax.random.key(params["seed"])
    else:
      params["seed"] = None
    a2, b2 = fn(a, b, key, sigma=params["sigma"], which=params["which"])
  else:
    a2, b2 = fn(a, b)
  return a2, b2, {"name": name, "params": params}
