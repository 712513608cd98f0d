"""Theorem 2's settings, and its quantities estimated from per-seed statistics.

Settings: ``sphere_settings`` (the theorem's law and its general grid) and
``fig2b_settings`` (the paper's Fig 2b; ``check_activations`` checks its
activation names) describe random MLPs as dicts with per-layer weight std
``w_std`` and bias std ``b_std``. ``variance.settings_moments`` simulates them
into the per-seed sufficient statistics ``STATS``; ``sphere_meanfield`` gives
the infinite-width values of the sphere settings.

Estimates: ``estimates`` turns the statistics into R (pre- and
post-activation), β, β̃, ω, the proof's bound and their differences
(notation: ``gaplab.analysis.variance``): per seed and coordinate the mean
over inputs and the within variance; the ANOVA between part S_between −
S_within/N; ratios of seed means; delete-one-seed jackknife errors, paired
for differences (every setting sees the same seeds). ``zscores``, ``lowest``
and ``largest`` read margins in units of their SE. NumPy float64.
"""
from __future__ import annotations

import math

import numpy as np

from gaplab.analysis import variance
from gaplab.nets import activations
from gaplab._errors import ConfigError

KINDS = ("pre", "post")
STATS = ("pre_g_diag", "pre_g_row", "pre_within", "post_g_diag", "post_g_row",
         "post_within", "prev_sq", "prev_off", "prev_cos_diag")
MF = ("beta", "omega", "share_pre", "share_post")
SATURATED = 1e-9  # 1 − β̃ below this: one output for every input in float64

# estimate name -> (x, y): x − y, paired over seeds
_MARGINS = {"margin_pre": ("share_pre", "beta"), "resid_pre": ("share_pre", "pred_pre"),
            "margin_post": ("share_post", "beta"),
            "margin_paper": ("share_post", "beta_paper"),
            "margin_bound": ("share_post", "bound"),
            "margin_cos": ("share_pre", "cos_mean")}


def sphere_settings(sigma_w2s, bias_ratios, *, width: int, depth: int) -> list[dict]:
  """ReLU MLPs on inputs uniform on the unit sphere, W and b entries of
  variance σ_w²/width and ρ/width (the theorem's law: variances over the
  output width): the theorem's setting (σ_w² = 1, ρ = 1) first, then every
  (σ_w², ρ) cell of ``sigma_w2s`` × ``bias_ratios`` but that one."""
  sets = [dict(part="theorem", activation="relu", sigma_w2=1.0, bias_ratio=1.0)]
  sets += [dict(part="general", activation="relu", sigma_w2=float(s), bias_ratio=float(r))
           for s in sigma_w2s for r in bias_ratios if (s, r) != (1.0, 1.0)]
  for s in sets:
    s.update(w_std=[math.sqrt(s["sigma_w2"] / width)] * depth,
             b_std=math.sqrt(s["bias_ratio"] / width), inputs="sphere",
             label=f"σw²={s['sigma_w2']:g}, σb²={s['bias_ratio']:g}/width")
  return sets


def fig2b_settings(acts, *, sigma_w, sigma_b, width: int, input_dim: int,
                   depth: int) -> list[dict]:
  """Fig 2b's MLPs, one per activation in ``acts``: N(0, I) inputs, W ~
  N(0, sigma_w²/fan_in), biases of absolute std ``sigma_b``."""
  w_std = [sigma_w / math.sqrt(input_dim)] + [sigma_w / math.sqrt(width)] * (depth - 1)
  return [dict(part="fig2b", activation=a, inputs="gaussian", label=a, w_std=list(w_std),
               b_std=float(sigma_b)) for a in acts]


def check_activations(field: str, names) -> None:
  """``names`` for ``fig2b_settings``: distinct specs (``relu``,
  ``leaky_relu:0.2``) of elementwise activations; ConfigError(field, ...)
  otherwise."""
  labels = []
  for s in names:
    if not isinstance(s, str):
      raise ConfigError(field, f"expected names like 'relu', got {s!r}")
    try:
      spec = activations.parse(s)
    except ConfigError as e:
      raise ConfigError(field, e.message) from None
    if activations.get(spec.name).arity != 1:
      raise ConfigError(field, f"expected elementwise activations, got {s!r}")
    labels.append(spec.label)
  if len(set(labels)) < len(labels):
    raise ConfigError(field, f"expected distinct names, got {names!r}")


def estimates(stats, w_std, b_std, *, n_inputs: int, width: int, input_dim: int,
              depth: int) -> dict:
  """Per-seed statistics ``stats`` (name in ``STATS`` -> (setting, seed,
  layer) arrays) of networks with per-layer weight std ``w_std`` (setting,
  layer) and bias std ``b_std`` (setting,) -> name: (2, setting, layer) arrays
  of (point estimate, delete-one jackknife SE over seeds)."""
  sw2 = np.asarray(w_std, np.float64) ** 2  # (setting, layer)
  sb2 = np.asarray(b_std, np.float64)[:, None] ** 2
  a = {s: np.moveaxis(stats[s], 1, 0) for s in STATS}  # seed axis first
  rep = {}
  for kind in KINDS:
    parts = variance.decompose(a[f"{kind}_g_diag"], a[f"{kind}_g_row"], a[f"{kind}_within"],
                               n_inputs, width)
    rep[f"share_{kind}"], rep[f"naive_{kind}"] = parts["share"], parts["naive"]
  sq, off = variance.mean_reps(a["prev_sq"]), variance.mean_reps(a["prev_off"])
  fan_in = np.array([input_dim] + [width] * (depth - 1))
  rep["q_prev"], rep["q"] = sq, sq / fan_in  # E|x|², and per coordinate
  rep["beta"] = off / sq  # β̃, a ratio of seed means
  rep["beta_paper"] = 1 - (sq - off)  # 1 − E tr Var[x | Θ]
  rep["omega"] = variance.weight_share(sw2, sq, sb2)
  rep["bound"] = variance.proof_bound(rep["omega"], rep["beta"])
  rep["pred_pre"] = (sw2 * off + sb2) / (sw2 * sq + sb2)
  rep["cos_mean_diag"] = variance.mean_reps(a["prev_cos_diag"])
  n = n_inputs
  rep["cos_mean"] = variance.mean_reps((n * a["prev_cos_diag"] - 1) / (n - 1))  # i != j
  for name, (x, y) in _MARGINS.items():
    rep[name] = rep[x] - rep[y]  # paired: same seeds
  rep["q_prev_minus_1"] = rep["q_prev"] - 1
  return {name: np.stack([r[0], variance.jackknife_se(r[1:])]) for name, r in rep.items()}


def zscores(x, se):
  """x / se elementwise; where se = 0: 0 if x = 0, else ±inf by the sign of x."""
  with np.errstate(divide="ignore", invalid="ignore"):
    return np.where(se > 0, x / se, np.where(x == 0, 0.0, np.sign(x) * np.inf))


def lowest(pair, ok):
  """(min z-score of an (estimate, SE) ``pair`` over the cells ``ok``, its
  index); inf at index 0 where no cell is ``ok``."""
  t = np.where(ok, zscores(*pair), np.inf)
  i = np.unravel_index(int(np.argmin(t)), t.shape)
  return float(t[i]), i


def largest(pair, ok):
  """(max |z-score| of an (estimate, SE) ``pair`` over the cells ``ok``, its
  index); 0 at index 0 where no cell is ``ok``."""
  t = np.where(ok, np.abs(zscores(*pair)), 0.0)
  i = np.unravel_index(int(np.argmax(t)), t.shape)
  return float(t[i]), i


def unsaturated(est):
  """(setting, layer) mask of the cells with 1 − β̃ >= ``SATURATED``."""
  return 1 - est["beta"][0] >= SATURATED


def relative(est, name, i, ok):
  """(x − y)/(1 − β̃) of the margin ``name`` in setting i: in units of the
  cone's width; nan outside ``ok``."""
  return np.where(ok, est[name][0, i] / np.where(ok, 1 - est["beta"][0, i], 1.0), np.nan)


def sphere_meanfield(settings, *, width: int, input_dim: int, depth: int) -> dict:
  """Infinite-width ``MF`` values, name: (setting, layer), of ReLU MLPs on
  inputs uniform on the unit sphere of R^input_dim with W of variance
  ``sigma_w2``/width and b of variance ``bias_ratio``/width per setting."""
  c0, wt = variance.sphere_cosines(input_dim)
  out = {m: [] for m in MF}
  for s in settings:
    # propagation's convention is Var(W) = sigma_w2 / fan_in: the first layer's
    # fan-in is d, so the theorem's 1/width there reads sigma_w2 * d / width
    sw2 = np.full(depth, s["sigma_w2"])
    sw2[0] *= input_dim / width
    r = variance.meanfield("relu", sigma_w2=sw2, sigma_b2=s["bias_ratio"] / width,
                           depth=depth, q0=1.0 / input_dim, c0=c0, weights=wt)
    for m in MF:
      out[m].append(r[m])
  return {m: np.stack(v) for m, v in out.items()}
