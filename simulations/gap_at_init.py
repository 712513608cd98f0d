"""The modality gap at initialisation: two independently initialised MLPs, measured and predicted.

Exact command (full preset; about a minute on a 2-core CPU):

    python simulations/gap_at_init.py --out runs/gap_at_init
    # or: gaplab reproduce --only gap_at_init --out figures --overwrite

Tiny mode (seconds): ``python simulations/gap_at_init.py --tiny --out /tmp/gap``.
Override any preset key, unknown keys rejected: ``--set depth=40 seeds=16``.

Setting: the Fig 2b MLP (W ~ N(0, sigma_w^2/fan_in), sigma_b = 1/sqrt(512),
linear then activation), K seeds = K independent encoders; every pair of
seeds (A, B) is a two-encoder model at init. gap = |mu_A - mu_B|, mu the
centroid of the L2-normalised embeddings, at every layer, with
gap^2 = c_A + c_B - 2 mu_A.mu_B (``gaplab.analysis.gap``). Two data settings: the *same*
N inputs fed to both encoders (one array), and *different* inputs (each seed
draws its own, as two modalities would).

Prediction (infinite width): c = the mean-field mean cosine with the diagonal
(``gaplab.theory.predictions``, averaged over the inputs' pairs) and mu_A.mu_B =
E[phi]^2 / E[phi^2] at the layer's pre-activation variance q_l
(``gap.predicted_cross``), so gap^2 = c_A + c_B - 2 E[phi]^2/E[phi^2]. The
common shortcut gap ~ sqrt(c_A + c_B) assumes mu_A.mu_B ~ 0, true only for
sign-symmetric outputs.

Expected result (full preset, layer 25, mean ± sd over 28 encoder pairs, with
the prediction): tanh 1.076 ± 0.042 (1.071; cross ~ 0, the shortcut holds),
ReLU 1.154 ± 0.035 (1.168), not sqrt(2) = 1.414 (cross 0.334 -> 1/pi), sigmoid
0.335 ± 0.011 (0.334: both cones are closed, yet nearly the same cone, cross
0.944), GELU 1.411 ± 0.034 (1.413). Same and different data agree (the cones
have closed); the prediction tracks every layer within the seed spread.
gaplab's random-init encoders end in a zero-mean projection, so there the
shortcut holds: ResNet 1.405 ± 0.073 (sqrt(c_A + c_B) = 1.392), ViT 1.383
(1.378), text 0.859 (0.863).
"""
from __future__ import annotations

import itertools
import math
import sys
import time

import numpy as np

from gaplab.harness import checks
from gaplab.cone import engine
from gaplab.analysis import gap
from gaplab.theory import propagation
from gaplab.io import provenance
from gaplab.io import results
from gaplab.io import tables
from gaplab.theory import predictions as theory
from gaplab._errors import ConfigError
from gaplab.cone.config import ConeConfig
from gaplab.harness import experiment
from gaplab.harness.experiment import experiment_main

NAME = "gap_at_init"
TITLE = "The gap at initialisation: two independent random encoders"
MODES = ("same data", "different data")

PRESET = dict(
    activations=["relu", "tanh", "sigmoid", "gelu"], sigma_w=1.0,
    sigma_b=1 / math.sqrt(512), depth=25, widths=[128, 512], input_dim=512,
    n_samples=256, seeds=8, seed=0, input_seed=4321, pairs=256, dtype="float32",
    encoders=["resnet", "vit", "text"], encoder_sizes="default",
)
SIZES = {
    "full": {},
    "quick": {"n_samples": 128, "seeds": 6, "pairs": 128, "widths": [512]},
    "tiny": {"activations": ["relu", "tanh"], "depth": 4, "widths": [64],
             "input_dim": 16, "n_samples": 16, "seeds": 3, "pairs": 60,
             "encoders": ["vit"], "encoder_sizes": "tiny"},
}


def config(size: str = "full", **overrides) -> dict:
  from gaplab import encoders
  cfg = checks.resolve(PRESET, SIZES, size, overrides)
  encoders.check_names(cfg["encoders"])
  encoders.check_sizes(cfg["encoder_sizes"], "encoder_sizes")
  if cfg["seeds"] < 2:
    raise ConfigError("seeds", f"expected at least 2 seeds (one pair), got {cfg['seeds']!r}")
  cone_config(cfg, "gaussian").validate()
  return cfg


def cone_config(cfg: dict, inputs: str) -> ConeConfig:
  return ConeConfig(activations=tuple(cfg["activations"]), sigma_w=(cfg["sigma_w"],),
                    sigma_b=(cfg["sigma_b"],), depth=cfg["depth"],
                    widths=tuple(cfg["widths"]), input_dim=cfg["input_dim"],
                    n_samples=cfg["n_samples"], inputs=inputs, seeds=cfg["seeds"],
                    seed=cfg["seed"], pairwise=False, dtype=cfg["dtype"])


def _measure(cc: ConeConfig) -> dict:
  """Per width: c (seed, V, L) and, per seed pair, gap and cross (pair, V, L)."""
  pairs = list(itertools.combinations(range(cc.seeds), 2))
  out = {"c": [], "gap": [], "cross": []}
  for w in cc.widths:
    mu, _ = engine.embeddings(cc, width=w, output="centroids")  # (S, V, L, w)
    mu = mu.astype(np.float64)
    a, b = (mu[[p[i] for p in pairs]] for i in (0, 1))
    out["c"].append(np.sum(mu * mu, -1))
    out["gap"].append(np.linalg.norm(a - b, axis=-1))
    out["cross"].append(np.sum(a * b, -1))
  return {k: np.stack(v) for k, v in out.items()}


def _predict(cc: ConeConfig, n_pairs: int) -> dict:
  """c (V, L) from the mean-field theory; cross (V, L) = E[phi]^2 / E[phi^2]."""
  pred = theory.predict(cc.replace(widths=cc.widths[:1]), n_pairs=n_pairs)
  c = pred.arrays["mean_cos_diag"][0, :, 1:]
  q0 = float(np.mean(theory.input_pairs(cc, 64)["q1"]))
  cross = np.zeros_like(c)
  for v in pred.variants:
    sw2, sb2 = theory.layer_variances(cc, v, cc.widths[0], cc.input_dim)
    q = propagation.propagate(theory._act(v), sigma_w2=sw2, sigma_b2=sb2,
                              depth=cc.depth, q1=q0, q2=q0, c12=0.0)["q1"][1:]
    cross[v.index] = gap.predicted_cross(theory._act(v), q)
  return {"c": c, "cross": cross, "gap": np.sqrt(np.maximum(2 * c - 2 * cross, 0))}


def _encoder_gaps(name: str, cfg: dict) -> dict:
  """Final-embedding gap, c and cross for every seed pair of one encoder, fed
  the same noise batch ("same") or a batch of its own per seed ("diff")."""
  import jax
  from gaplab import encoders
  enc = encoders.sized(name, cfg["encoder_sizes"])
  k, n = cfg["seeds"], cfg["n_samples"]
  states = encoders.init_seeds(enc, cfg["seed"], k)
  base = jax.random.key(cfg["input_seed"])
  same = enc.inputs(base, n)
  own = jax.vmap(lambda i: enc.inputs(jax.random.fold_in(base, i), n))(np.arange(k))
  out = {}
  for tag, emb in (("same", jax.vmap(enc.apply, in_axes=(0, None))(states, same)[0]),
                   ("diff", jax.vmap(enc.apply)(states, own)[0])):
    emb = np.asarray(emb, np.float64)
    d = [gap.decomposition(emb[a], emb[b]) for a, b in itertools.combinations(range(k), 2)]
    out[f"{tag}_gap"] = np.array([x["gap"] for x in d])
    out[f"{tag}_cross"] = np.array([x["cross"] for x in d])
    out[f"{tag}_c"] = np.array([gap.decomposition(e, e)["c_a"] for e in emb])
  return out


def run(out: str, size: str = "full", overwrite: bool = False, **overrides) -> str:
  cfg = config(size, **overrides)
  experiment.start(cfg, out, overwrite)
  t0 = time.perf_counter()
  arrays = {}
  with experiment.shared_inputs(cfg) as (x, path):
    for tag, source in (("same", path), ("diff", "gaussian")):
      cc = cone_config(cfg, source)
      for k, v in _measure(cc).items():
        arrays[f"{tag}_{k}"] = v
      for k, v in _predict(cc, cfg["pairs"]).items():
        arrays[f"{tag}_pred_{k}"] = v
  for name in cfg["encoders"]:
    arrays.update({f"enc_{name}_{k}": v for k, v in _encoder_gaps(name, cfg).items()})
  arrays.update(layer=np.arange(1, cfg["depth"] + 1), width=np.asarray(cfg["widths"]),
                inputs=x)
  axes = {"c": ["width", "seed", "activation", "layer"],
          "gap": ["width", "seed_pair", "activation", "layer"],
          "cross": ["width", "seed_pair", "activation", "layer"]}
  meta = {
      "kind": NAME, "config": cfg,
      "axes": {f"{t}_{k}": v for t in ("same", "diff") for k, v in axes.items()}
      | {f"{t}_pred_{k}": ["activation", "layer"] for t in ("same", "diff")
         for k in axes},
      "coords": {"activation": cfg["activations"], "layer": list(range(1, cfg["depth"] + 1)),
                 "width": cfg["widths"], "seed_pair": [list(p) for p in itertools.combinations(
                     range(cfg["seeds"]), 2)]},
      "encoders": "enc_NAME_{same,diff}_{gap,cross}: (seed_pair,); enc_NAME_*_c: (seed,)",
      "modes": {"same": "one input array (key input_seed) fed to every seed",
                "diff": "each seed draws its own N(0, I) inputs"},
      "provenance": dict(provenance.collect(precision="highest", dtype=cfg["dtype"]),
                         elapsed_s=time.perf_counter() - t0),
  }
  rows = [(t, w, a, layer, arrays[f"{t}_gap"][wi, :, vi, li].mean(),
           arrays[f"{t}_gap"][wi, :, vi, li].std(ddof=1),
           arrays[f"{t}_pred_gap"][vi, li], arrays[f"{t}_c"][wi, :, vi, li].mean(),
           arrays[f"{t}_cross"][wi, :, vi, li].mean(), arrays[f"{t}_pred_cross"][vi, li])
          for t in ("same", "diff") for wi, w in enumerate(cfg["widths"])
          for vi, a in enumerate(cfg["activations"]) for li, layer in enumerate(arrays["layer"])]
  header = ["data", "width", "activation", "layer", "gap_mean", "gap_sd", "gap_pred",
            "c_mean", "cross_mean", "cross_pred"]
  return results.save_run(out, meta=meta, arrays=arrays, header=header, rows=rows,
                          overwrite=overwrite)


def figures(run_dir: str, fig_dir: str) -> list[str]:
  from gaplab.plotting import gap as plot_gap
  return plot_gap.plot_gap_at_init(results.load_run(run_dir), fig_dir, NAME)


def report(run_dir: str) -> str:
  run = results.load_run(run_dir)
  cfg, a = run.meta["config"], run.arrays
  prov = run.meta["provenance"]
  L = cfg["depth"]
  lines = [f"## {TITLE}", "",
           f"{cfg['seeds']} seeds ({len(run.meta['coords']['seed_pair'])} encoder pairs), "
           f"N = {cfg['n_samples']} inputs, depth {L}, {prov['dtype']}, "
           f"{prov['elapsed_s']:.0f} s. Layer {L}: measured gap (mean ± sd over seed "
           "pairs), the mean-field prediction sqrt(c_A + c_B − 2 E[φ]²/E[φ²]), the "
           "shortcut sqrt(c_A + c_B) and the centroids' measured cosine.", ""]
  rows = []
  for t, mode in zip(("same", "diff"), MODES):
    for wi, w in enumerate(cfg["widths"]):
      for vi, act in enumerate(cfg["activations"]):
        g = a[f"{t}_gap"][wi, :, vi, -1]
        c = a[f"{t}_c"][wi, :, vi, -1].mean()
        rows.append((mode, w, act, f"{g.mean():.3f} ± {g.std(ddof=1):.3f}",
                     f"{a[f'{t}_pred_gap'][vi, -1]:.3f}", f"{math.sqrt(2 * c):.3f}",
                     f"{a[f'{t}_cross'][wi, :, vi, -1].mean():.3f} "
                     f"({a[f'{t}_pred_cross'][vi, -1]:.3f})"))
  lines.append(tables.table(["data", "width", "activation", "gap", "predicted",
                             "sqrt(c_A + c_B)", "mu_A.mu_B (pred.)"], rows))
  if cfg["encoders"]:
    lines += ["", f"Random-init encoders ({cfg['encoder_sizes']} sizes, `gaplab.encoders`), "
              "final embedding: each ends in a zero-mean random projection, so "
              "mu_A.mu_B ~ 0 and the shortcut sqrt(c_A + c_B) is the prediction.", ""]
    rows = []
    for t, mode in zip(("same", "diff"), MODES):
      for n in cfg["encoders"]:
        g, c = a[f"enc_{n}_{t}_gap"], a[f"enc_{n}_{t}_c"].mean()
        rows.append((mode, n, f"{g.mean():.3f} ± {g.std(ddof=1):.3f}",
                     f"{math.sqrt(2 * c):.3f}", f"{a[f'enc_{n}_{t}_cross'].mean():.3f}"))
    lines.append(tables.table(["data", "encoder", "gap", "sqrt(c_A + c_B)", "mu_A.mu_B"], rows))
  return "\n".join(lines) + "\n"


def main(argv=None) -> int:
  return experiment_main(sys.modules[__name__], argv)


if __name__ == "__main__":
  sys.exit(main())
