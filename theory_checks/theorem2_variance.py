"""Theorem 2 (Liang et al. 2022): the initialisation share of a random MLP's output variance vs β, per layer.

Exact command (about 10 s on a 2-core CPU; ``--tiny`` about 8 s, mostly compile
and figures; the full preset about 3 minutes):

    python theory_checks/theorem2_variance.py --quick --out runs/theorem2

Setting (Fig 2b): x_0 = U ~ N(0, I_d), z_l = x_{l-1} W_l + b_l, x_l = φ(z_l), W_l ~
N(0, σ_w²/fan_in), b_l ~ N(0, σ_b²), σ_w = 1, σ_b = 1/√512 absolute; layers width ×
width after the first (fan_in = d). Θ = all weights and biases; h = one output
coordinate of layer l, ``pre`` (z_l[j]) or ``post`` (x_l[j]). Coordinates are
exchangeable, so estimates average over all j. R_l = Var_Θ(E_U[h|Θ]) / Var(h) is a
ratio of expectations, estimated from K seeds × N inputs (fresh inputs per seed:
one-way random effects), float64.

β (appendix D of the paper is not available offline; our derivation). With
m_Θ = E_U[x_{l-1}|Θ], n = fan_in and (w, b) of layer l centred and independent of
(Θ_<l, U): Var_Θ(E_U[z|Θ]) = σ_w² E‖m_Θ‖²/n + σ_b² and Var(z) = σ_w² E‖x_{l-1}‖²/n
+ σ_b², exactly. Let β_l = E‖m_Θ‖² / E‖x_{l-1}‖² = E[x·x'] / E[x·x] (x, x' for
independent inputs under one Θ): the norm-weighted average cosine of the previous
layer, exactly E cos(x, x') when norms are constant (the theorem's ‖U‖ = 1). Then
R_l^pre = (σ_w² q β + σ_b²)/(σ_w² q + σ_b²), q = E‖x_{l-1}‖²/n, and R^pre − β =
σ_b²(1 − β)/(σ_w² q + σ_b²) ≥ 0 since β ≤ 1 (Jensen). With unequal norms the
plain average cosine c̄ can exceed β (norms r, 1, cosine c > 0: β = ½ + rc/(1 + r²)
< ½ + c/2), so the bound is asserted for β and c̄ is only reported. β uses
distinct pairs (unbiased for ‖m_Θ‖²); Fig 2b's diagonal-included cosine adds
(1 − β)/N, the same bias as the uncorrected between-seed variance below.

Post-activation shares are reported, not asserted: the bound fails for them. In
the wide limit (z, z') is Gaussian with correlation ρ(U, U'), and with Hermite
coefficients a_k of φ, R^post = Σ_{k≥1} a_k² E[ρ^k] / Σ_{k≥1} a_k² ≤ E ρ = R^pre
when ρ ≥ 0, strictly for nonlinear φ (ReLU at ρ = ½: 0.43).

Estimators: per seed k and coordinate j the mean over inputs h̄_kj and the
within variance (ddof 1); S_between = variance of h̄_kj over seeds (ddof 1),
S_within = mean within variance. E[S_between] = Var_Θ(E[h|Θ]) + E[Var(h|Θ)]/N, so
the between part is S_between − S_within/N (ANOVA) and R = between / (between +
S_within). Error bars: delete-one jackknife over seeds (the i.i.d. units).
Asserted for every activation and unsaturated layer: R^pre ≥ β − z·SE and
|R^pre − (σ_w² q β + σ_b²)/(σ_w² q + σ_b²)| ≤ z·SE (paired jackknife SEs), z the
Student-t (K − 1 df) quantile, Bonferroni over all tests at family-wise ``alpha``
(z = 4.35 full, 4.60 quick).

Expected result (full preset): R^pre equals the prediction within 2.5 SE and
exceeds β at every layer, by σ_b²(1 − β)/(σ_w² q + σ_b²): 0.0019 at layer 1
(β = 0); ReLU 0.324 vs β 0.319 at layer 2, 0.945 vs 0.919 at layer 10, deep ReLU
R^pre − β ≈ (1 − β)/2; tanh 0.442 vs 0.413 at layer 20; linear +0.0019 at every
layer. R^post falls below β for ReLU at layers 2–8 (0.428 vs 0.498 at layer 3)
and GELU at layers 2–3; tanh, sigmoid and linear post ≈ pre. Deep sigmoid and
GELU layers are saturated (1 − β < 1e-9: all inputs give one output in float64)
and skipped.
"""
from __future__ import annotations

import functools
import math
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from gaplab import activations, bands, checks, provenance, results
from gaplab._errors import ConfigError

NAME = "theorem2_variance"
TITLE = "Theorem 2: variance due to random initialisation vs the previous layer's cosine"
PRESET = dict(
    activations=["relu", "tanh", "sigmoid", "linear", "gelu"], width=512,
    depth=20, input_dim=512, n_inputs=1024, seeds=64, sigma_w=1.0,
    sigma_b=1 / math.sqrt(512), alpha=0.01, seed=0,
)
SIZES = {
    "full": {},
    "quick": {"width": 128, "input_dim": 128, "depth": 15, "n_inputs": 256,
              "seeds": 32},
    "tiny": {"width": 16, "input_dim": 16, "depth": 4, "n_inputs": 32, "seeds": 8},
}
KINDS = ("pre", "post")
STATS = ("pre_g_diag", "pre_g_row", "pre_within", "post_g_diag", "post_g_row",
         "post_within", "prev_e_diag", "prev_e_off", "prev_cos_diag")
COLUMNS = ("beta", "share_pre", "pred_pre", "share_post", "cos_mean",
           "cos_mean_diag", "naive_pre", "naive_post", "q")  # results.csv


def _validate(cfg):
  for key in ("width", "depth", "input_dim"):
    if cfg[key] < 1:
      raise ConfigError(key, f"expected an integer >= 1, got {cfg[key]!r}")
  for key, low in (("n_inputs", 2), ("seeds", 3), ("seed", 0)):
    if cfg[key] < low:
      raise ConfigError(key, f"expected an integer >= {low}, got {cfg[key]!r}")
  if not (math.isfinite(cfg["sigma_w"]) and cfg["sigma_w"] > 0):
    raise ConfigError("sigma_w", f"expected a finite number > 0, got {cfg['sigma_w']!r}")
  if not (math.isfinite(cfg["sigma_b"]) and cfg["sigma_b"] >= 0):
    raise ConfigError("sigma_b", f"expected a finite number >= 0, got {cfg['sigma_b']!r}")
  if not 0 < cfg["alpha"] < 1:
    raise ConfigError("alpha", f"expected 0 < alpha < 1, got {cfg['alpha']!r}")
  specs = []
  for s in cfg["activations"]:
    if not isinstance(s, str):
      raise ConfigError("activations", f"expected names like 'relu', got {s!r}")
    spec = activations.parse(s)
    if activations.get(spec.name).arity != 1:
      raise ConfigError("activations", f"expected elementwise activations, got {s!r}")
    specs.append(spec)
  if len({sp.label for sp in specs}) < len(specs):
    raise ConfigError("activations", f"expected distinct names, got {cfg['activations']!r}")
  return specs


def prev_stats(x, fan_in):
  """Per-seed moments of the previous layer's outputs ``x`` (N, fan_in, maybe
  zero-padded): E‖x‖²/fan_in, the distinct-pair mean of x·x'/fan_in, and Fig
  2b's all-pairs mean cosine (diagonal included)."""
  n_in = x.shape[0]
  sq = jnp.sum(x * x, axis=1)
  s = jnp.sum(x, axis=0)
  e_off = (s @ s - jnp.sum(sq)) / (n_in * (n_in - 1) * fan_in)
  norm = jnp.sqrt(sq)
  u = jnp.where(norm[:, None] > 0, x / jnp.where(norm > 0, norm, 1.0)[:, None], 0.0)
  mu = jnp.mean(u, axis=0)
  return jnp.mean(sq) / fan_in, e_off, mu @ mu


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


def _simulate(keys, index, params, *, acts, width, depth, input_dim, n_inputs,
              sigma_w, sigma_b, batch):
  """K seeds (typed keys) -> per-seed (K, depth) sufficient statistics for the
  activation ``acts[index]`` (one compiled program serves every activation)."""
  f64, p = jnp.float64, max(width, input_dim)
  branches = [lambda z, f=activations.get(a).fn, i=i: f(z, params[i])
              for i, a in enumerate(acts)]
  # Layer 1 runs in the scan too: x_0 is zero-padded to p columns, so the extra
  # weight rows multiply zeros; its scale and stats use fan_in = input_dim.
  fan_in = jnp.array([input_dim] + [width] * (depth - 1), f64)

  def one_seed(key):
    wkey = jax.random.fold_in(key, 1)

    def layer(x, inp):
      l, n = inp
      wb = jax.random.normal(jax.random.fold_in(wkey, l), (p + 1, width), f64)
      z = x @ (wb[:p] * (sigma_w / jnp.sqrt(n))) + sigma_b * wb[p]
      y = jax.lax.switch(index, branches, z)
      out = {"prev": prev_stats(x, n)}
      out["pre"], out["post"] = coord_moments(z), coord_moments(y)
      return jnp.pad(y, ((0, 0), (0, p - width))), out

    x0 = jax.random.normal(jax.random.fold_in(key, 0), (n_inputs, input_dim), f64)
    x0 = jnp.pad(x0, ((0, 0), (0, p - input_dim)))
    return jax.lax.scan(layer, x0, (jnp.arange(1, depth + 1), fan_in))[1]

  s = jax.lax.map(one_seed, keys, batch_size=batch)  # vmapped in seed batches
  out = dict(zip(("prev_e_diag", "prev_e_off", "prev_cos_diag"), s["prev"]))
  for kind in KINDS:
    means, out[f"{kind}_within"] = s[kind]  # (K, L, n), (K, L)
    out[f"{kind}_g_diag"], out[f"{kind}_g_row"] = gram_sums(means)
  return out


@functools.lru_cache(maxsize=None)
def _compiled(**static):
  return jax.jit(functools.partial(_simulate, **static))


def run(out: str, size: str = "full", overwrite: bool = False, **overrides) -> str:
  checks.enable_x64()
  cfg = checks.resolve(PRESET, SIZES, size, overrides)
  specs = _validate(cfg)
  results.check_writable(out, overwrite)
  t0 = time.time()
  k = cfg["seeds"]
  keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(cfg["seed"]),
                                                   jnp.arange(k))
  # seeds per vmapped batch: a divisor of K (no remainder program) keeping each
  # (batch, N, width) float64 array under 128 MiB
  cap = 2**24 // (cfg["n_inputs"] * max(cfg["width"], cfg["input_dim"]))
  batch = max(b for b in range(1, k + 1) if k % b == 0 and (b <= cap or b == 1))
  fn = _compiled(acts=tuple(sp.name for sp in specs), sigma_w=float(cfg["sigma_w"]),
                 sigma_b=float(cfg["sigma_b"]), batch=batch,
                 **{key: cfg[key] for key in ("width", "depth", "input_dim", "n_inputs")})
  params = jnp.asarray([sp.param for sp in specs], jnp.float64)
  per_act = [jax.device_get(fn(keys, i, params)) for i in range(len(specs))]
  arrays = {s: np.stack([np.asarray(a[s], np.float64) for a in per_act]) for s in STATS}
  arrays["layer"] = np.arange(1, cfg["depth"] + 1)
  prov = provenance.collect(precision="highest", dtype="float64")
  prov["elapsed_s"] = time.time() - t0
  meta = {"kind": "check", "check": NAME, "config": cfg, "provenance": prov,
          "axes": {**{s: ["activation", "seed", "layer"] for s in STATS},
                   "layer": ["layer"]},
          "coords": {"activation": [sp.label for sp in specs],
                     "seed": list(range(k)), "layer": arrays["layer"].tolist()}}
  est = estimates(arrays, cfg)
  meta["claims"] = checks.save_claims(_claims(est, meta))
  header = ["activation", "layer"] + [c for q in COLUMNS for c in (q, q + "_se")]
  rows = [[label, int(layer)] + [v for q in COLUMNS for v in est[q][:, a, i]]
          for a, label in enumerate(meta["coords"]["activation"])
          for i, layer in enumerate(arrays["layer"])]
  return results.save_run(out, meta=meta, arrays=arrays, header=header, rows=rows,
                          overwrite=overwrite)


def mean_reps(x):
  """Seed axis 0 (K, ...) -> replicates (K + 1, ...): the mean over all seeds,
  then the K delete-one means."""
  k = x.shape[0]
  return np.concatenate([x.mean(0)[None], (x.sum(0) - x) / (k - 1)])


def decompose(g_diag, g_row, within, n_inputs, n_coords) -> dict:
  """Per-seed sums (seed axis 0) -> replicates (K + 1, ...) of S_between,
  S_within, the ANOVA between part S_between − S_within/N, the share R and the
  uncorrected share S_between / (S_between + S_within).

  For a seed set S of size K', S_between = (Σ_S G_kk − Σ_{S×S} G_kk'/K') /
  (n (K' − 1)) (the ddof-1 variance of h̄_kj over seeds, averaged over j), so
  each delete-one set needs only G_kk, the row sums and their total.
  """
  k = g_diag.shape[0]
  d, t = g_diag.sum(0), g_row.sum(0)
  full = (d - t / k) / (n_coords * (k - 1))
  loo = ((d - g_diag) - (t - 2 * g_row + g_diag) / (k - 1)) / (n_coords * (k - 2))
  s_b, s_w = np.concatenate([full[None], loo]), mean_reps(within)
  between = s_b - s_w / n_inputs  # E[S_between] = Var_Θ E[h|Θ] + E Var[h|Θ]/N
  return {"s_between": s_b, "within": s_w, "between": between,
          "share": between / (between + s_w), "naive": s_b / (s_b + s_w)}


def estimates(arrays, cfg) -> dict:
  """Saved (activation, seed, layer) arrays -> name: (2, activation, layer)
  arrays of (point estimate, delete-one jackknife SE over seeds)."""
  n_in = cfg["n_inputs"]
  sw2, sb2 = cfg["sigma_w"] ** 2, cfg["sigma_b"] ** 2
  a = {name: np.moveaxis(v, 1, 0) for name, v in arrays.items() if name in STATS}
  rep = {}
  for kind in KINDS:
    parts = decompose(a[f"{kind}_g_diag"], a[f"{kind}_g_row"], a[f"{kind}_within"],
                      n_in, cfg["width"])
    rep[f"share_{kind}"], rep[f"naive_{kind}"] = parts["share"], parts["naive"]
  q, off = mean_reps(a["prev_e_diag"]), mean_reps(a["prev_e_off"])
  rep["q"], rep["beta"] = q, off / q  # β = E‖m_Θ‖² / E‖x‖², a ratio of seed means
  rep["pred_pre"] = (sw2 * off + sb2) / (sw2 * q + sb2)
  rep["cos_mean_diag"] = mean_reps(a["prev_cos_diag"])
  rep["cos_mean"] = mean_reps((n_in * a["prev_cos_diag"] - 1) / (n_in - 1))  # i != j
  rep["margin_pre"] = rep["share_pre"] - rep["beta"]  # paired: same seeds
  rep["resid_pre"] = rep["share_pre"] - rep["pred_pre"]
  rep["margin_post"] = rep["share_post"] - rep["beta"]
  rep["margin_cos"] = rep["share_pre"] - rep["cos_mean"]
  return {name: np.stack([r[0], jackknife_se(r[1:])]) for name, r in rep.items()}


def jackknife_se(loo):
  """Delete-one jackknife standard error from replicates along axis 0."""
  k = loo.shape[0]
  return np.sqrt((k - 1) / k * np.sum((loo - loo.mean(0)) ** 2, axis=0))


def z_value(cfg) -> float:
  # Two claims per activation, each tested at every layer: Bonferroni over all
  # of them, two-sided, Student t with K - 1 df (the jackknife's), so that the
  # chance of any false failure is at most alpha when the theory holds.
  m = 2 * len(cfg["activations"]) * cfg["depth"]
  return bands.t_quantile(1 - cfg["alpha"] / (2 * m), cfg["seeds"] - 1)


# 1 − β below this: every input maps to one output within float64 rounding
# (deep sigmoid, GELU), so R − β = σ_b²(1 − β)/(σ_w²q + σ_b²) is unresolvable.
SATURATED = 1e-9


def _zscores(x, se):
  with np.errstate(divide="ignore", invalid="ignore"):
    return np.where(se > 0, x / se, np.where(x == 0, 0.0, np.sign(x) * np.inf))


def _claims(est, meta):
  cfg, labels = meta["config"], meta["coords"]["activation"]
  z, layers = z_value(cfg), meta["coords"]["layer"]
  out = []
  for a, label in enumerate(labels):
    ok = 1 - est["beta"][0, a] >= SATURATED
    skip = f"; {np.sum(~ok)} saturated layers skipped" if np.any(~ok) else ""
    t = np.where(ok, _zscores(*est["margin_pre"][:, a]), np.inf)
    i = int(np.argmin(t))
    out.append(checks.Claim(
        f"{label}: pre-activation share R >= β, every layer",
        f"min (R − β)/SE = {t[i]:.1f} at layer {layers[i]} (R "
        f"{est['share_pre'][0, a, i]:.4f}, β {est['beta'][0, a, i]:.4f}){skip}",
        f">= −{z:.2f}", bool(t[i] >= -z)))
    t = np.where(ok, np.abs(_zscores(*est["resid_pre"][:, a])), 0.0)
    i = int(np.argmax(t))
    out.append(checks.Claim(
        f"{label}: R = (σw²qβ + σb²)/(σw²q + σb²), every layer",
        f"max |R − pred|/SE = {t[i]:.1f} at layer {layers[i]}{skip}",
        f"<= {z:.2f}", bool(t[i] <= z)))
  return out


def claims(run_dir: str) -> list:
  run = checks.load(run_dir, NAME)
  return _claims(estimates(run.arrays, run.meta["config"]), run.meta)


def figures(run_dir: str, fig_dir: str) -> list[str]:
  from gaplab import plot_theorem2
  run = checks.load(run_dir, NAME)
  cfg = run.meta["config"]
  note = (f"width {cfg['width']}, d {cfg['input_dim']}, N {cfg['n_inputs']} inputs × "
          f"{cfg['seeds']} seeds, σw {cfg['sigma_w']:g}, σb {cfg['sigma_b']:.4g}; "
          "error bars ±1 jackknife SE over seeds")
  return plot_theorem2.plot(estimates(run.arrays, cfg), run.meta["coords"]["activation"],
                            run.arrays["layer"], fig_dir, NAME, note)


def report(run_dir: str) -> str:
  run = checks.load(run_dir, NAME)
  cfg, prov = run.meta["config"], run.meta["provenance"]
  est, layers = estimates(run.arrays, cfg), run.arrays["layer"]
  show = [i for i, l in enumerate(layers) if l in (1, 2, 3, 5, 10, 15, 20) or
          l == layers[-1]]
  f = lambda q, a, i: f"{est[q][0, a, i]:.4f} ± {est[q][1, a, i]:.4f}"
  lines = [f"## {TITLE}", "",
           f"width {cfg['width']}, input dim {cfg['input_dim']}, depth {cfg['depth']}, "
           f"N = {cfg['n_inputs']} inputs × K = {cfg['seeds']} seeds, σ_w = "
           f"{cfg['sigma_w']:g}, σ_b = {cfg['sigma_b']:.4g}, {prov['dtype']}, "
           f"{prov['device']['platform']}, {prov['elapsed_s']:.1f} s. ± is one "
           f"jackknife SE over seeds; claims use z = {z_value(cfg):.2f}. R: "
           "between-init share of one output coordinate (ANOVA-corrected); β: the "
           "previous layer's norm-weighted mean cosine E[x·x']/E[x·x]; c̄: its plain "
           "mean cosine (distinct pairs, not asserted); post-activation R is not "
           "asserted (see the module docstring).", "",
           "| activation | layer | β | R pre | prediction | R post | c̄ |",
           "|---|---|---|---|---|---|---|"]
  for a, label in enumerate(run.meta["coords"]["activation"]):
    for i in show:
      lines.append(f"| {label} | {layers[i]} | {f('beta', a, i)} | {f('share_pre', a, i)} "
                   f"| {est['pred_pre'][0, a, i]:.4f} | {f('share_post', a, i)} | "
                   f"{est['cos_mean'][0, a, i]:.4f} |")
  post, labels = est["margin_post"][0], run.meta["coords"]["activation"]
  a, i = np.unravel_index(np.argmin(post), post.shape)
  lines += ["", f"Post-activation R − β: min {post[a, i]:.4f} ({labels[a]}, "
            f"layer {layers[i]}); below β in "
            f"{int(np.sum(post < -3 * est['margin_post'][1]))} of {post.size} "
            "(activation, layer) cells by more than 3 SE. Without the −S_within/N "
            f"correction the layer-1 pre-activation share reads "
            f"{est['naive_pre'][0, 0, 0]:.4f} instead of {est['share_pre'][0, 0, 0]:.4f} "
            f"(σ_b²/(σ_w²q + σ_b²) = {est['pred_pre'][0, 0, 0]:.4f})."]
  t = np.where(1 - est["beta"][0] >= SATURATED, _zscores(*est["margin_cos"]), np.inf)
  a, i = np.unravel_index(np.argmin(t), t.shape)
  lines += ["", f"Against the plain mean cosine c̄ instead of β (not asserted): min "
            f"(R pre − c̄)/SE = {t[a, i]:.1f} ({labels[a]}, layer {layers[i]}, R − c̄ = "
            f"{est['margin_cos'][0, a, i]:.4f}). Layers with 1 − β < {SATURATED:g} are "
            f"saturated in float64 and not tested: "
            f"{int(np.sum(1 - est['beta'][0] < SATURATED))} of {post.size}."]
  return "\n".join(lines) + "\n"


def main(argv=None) -> int:
  return checks.check_main(sys.modules[__name__], argv)


if __name__ == "__main__":
  sys.exit(main())
