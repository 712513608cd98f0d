"""Fig 2c analogue: K random initialisations of one network put the same inputs in K different cones.

Exact command (full preset; about two minutes on a 2-core CPU):

    python simulations/init_cones.py --out runs/init_cones
    # or: gaplab reproduce --only init_cones --out figures --overwrite

Tiny mode: ``python simulations/init_cones.py --tiny --out /tmp/ic``; override
keys with ``--set seeds=10 depth=12`` (unknown keys rejected).

Setting: the Fig 2b MLP (W ~ N(0, 1/fan_in), sigma_b = 1/sqrt(512), linear then
activation, width 512, depth 25), K = 25 seeds (the paper's count) vmapped in
one program, all fed the same N Gaussian inputs (one array). Per activation:
within-seed mean cosine (distinct pairs) vs between-seed mean cosine; held-out
nearest-centroid accuracy of telling an embedding's seed (first half of each
seed's rows give the centroids, second half is tested; chance 1/K); the pooled
PCA spectrum of the unit rows (K narrow cones span about K - 1 dominant
directions: the ratio lambda_{K-1} / lambda_K measures the drop); a 2-D PCA
scatter coloured by seed.

The same for gaplab's random-init ResNet, ViT and text encoders (default CPU
sizes, one noise batch), with Theorem 2 at the architecture level: the
between-seed share R of an embedding coordinate's variance next to beta of the
pooled features (a bias-free random projection makes R = beta in expectation).

Expected result (full preset, 25 seeds): ReLU MLP within 1.0000, between
0.323 (two independent ReLU cones meet at cos ~ 1/pi), accuracy 1.00, and the
spectrum drops 5e5-fold after component K - 1 = 24: 25 points, one per seed;
tanh MLP (cones still open at depth 25: within 0.57, between 0.00) is told
apart just as well, with a 4-fold drop. ResNet / ViT / text: within 0.970 /
0.952 / 0.332, between ~0, accuracy 1.00 / 1.00 / 0.95; R = 0.969 / 0.953 /
0.335 against beta = 0.968 / 0.955 / 0.333.
"""
from __future__ import annotations

import math
import os
import sys
import tempfile
import time

import numpy as np

from gaplab import checks, engine, inputs, provenance, results, seeds
from gaplab._errors import ConfigError
from gaplab.config import ConeConfig
from gaplab.experiment import experiment_main

NAME = "init_cones"
TITLE = "Fig 2c: different random initialisations, different cones"

PRESET = dict(activations=["relu", "tanh"], sigma_w=1.0, sigma_b=1 / math.sqrt(512),
              depth=25, width=512, input_dim=512, n_samples=512, seeds=25, seed=0,
              input_seed=2022, dtype="float32", encoders=["resnet", "vit", "text"],
              encoder_sizes="default")
SIZES = {"full": {}, "quick": {"n_samples": 256, "seeds": 12},
         "tiny": {"depth": 6, "width": 64, "input_dim": 16, "n_samples": 32, "seeds": 4,
                  "encoder_sizes": "tiny"}}


def config(size: str = "full", **overrides) -> dict:
  cfg = checks.resolve(PRESET, SIZES, size, overrides)
  if cfg["seeds"] < 2 or cfg["n_samples"] < 4:
    bad = "seeds" if cfg["seeds"] < 2 else "n_samples"
    raise ConfigError(bad, f"expected seeds >= 2 and n_samples >= 4, got {cfg[bad]!r}")
  return cfg


def run(out: str, size: str = "full", overwrite: bool = False, **overrides) -> str:
  cfg = config(size, **overrides)
  results.check_writable(out, overwrite)
  if cfg["dtype"] == "float64":
    checks.enable_x64()
  t0 = time.perf_counter()
  x = inputs.shared_gaussian(cfg["input_seed"], cfg["n_samples"], cfg["input_dim"])
  with tempfile.TemporaryDirectory() as tmp:
    np.save(os.path.join(tmp, "x.npy"), x)
    cc = ConeConfig(activations=tuple(cfg["activations"]), sigma_w=(cfg["sigma_w"],),
                    sigma_b=(cfg["sigma_b"],), depth=cfg["depth"], widths=(cfg["width"],),
                    inputs=os.path.join(tmp, "x.npy"), seeds=cfg["seeds"],
                    seed=cfg["seed"], pairwise=False, dtype=cfg["dtype"])
    emb, _ = engine.embeddings(cc)  # (K, V, N, width)
  k = cfg["seeds"]
  per = [analyse(emb[:, v]) for v in range(emb.shape[1])]
  names = [f"mlp {a}" for a in cfg["activations"]]
  for name in cfg["encoders"]:
    e, pooled = encoder_embeddings(name, cfg)
    per.append(dict(analyse(e), beta=np.float64(seeds.projection_beta(pooled))))
    names.append(name)
  arrays = {key: np.stack([p.get(key, np.float64(np.nan)) for p in per])
            for key in per[-1]}
  meta = {"kind": NAME, "config": cfg, "networks": names,
          "axes": {key: ["network"] for key in ("within", "between", "accuracy", "drop",
                                               "share", "share_se", "beta")}
          | {"spectrum": ["network", "component"],
             "scatter": ["network", "seed", "sample", "pc"]},
          "coords": {"network": names, "seed": list(range(k))},
          "inputs": {"law": "N(0, I)", "key": f"jax.random.key({cfg['input_seed']})",
                     "shared_by": "every seed"},
          "provenance": dict(provenance.collect(precision="highest", dtype=cfg["dtype"]),
                             elapsed_s=time.perf_counter() - t0)}
  cols = ("within", "between", "accuracy", "drop", "share", "share_se", "beta")
  rows = [(a,) + tuple(arrays[c][i] for c in cols) for i, a in enumerate(names)]
  return results.save_run(out, meta=meta, arrays=arrays, rows=rows, overwrite=overwrite,
                          header=["network"] + list(cols))


def encoder_embeddings(name: str, cfg: dict):
  """K seeds of encoder ``name`` on one noise batch: (embeddings (K, N, D),
  pooled features before the final projection (K, N, F))."""
  import jax
  from gaplab.simulations.architectures_at_init import encoder, init_states
  enc = encoder(name, cfg["encoder_sizes"])
  states = init_states(enc, cfg["seed"], cfg["seeds"])
  x = enc.inputs(jax.random.key(cfg["input_seed"]), cfg["n_samples"])
  emb, layers = jax.vmap(enc.apply, in_axes=(0, None))(states, x)
  return np.asarray(emb, np.float64), np.asarray(layers[-2], np.float64)


def analyse(emb) -> dict:
  """The statistics of one activation's (K, N, D) embeddings."""
  k = emb.shape[0]
  c = seeds.seed_cosines(emb)
  spec = seeds.pca_spectrum(emb)[:2 * k]
  spec = np.pad(spec, (0, 2 * k - len(spec)), constant_values=np.nan)
  return {"within": np.float64(c["within"]), "between": np.float64(c["between"]),
          "accuracy": np.float64(seeds.nearest_centroid_accuracy(emb)),
          "spectrum": spec, "drop": np.float64(spec[k - 2] / spec[k - 1]),
          "scatter": seeds.pca_project(emb),
          **dict(zip(("share", "share_se"), map(np.float64, seeds.variance_share(emb))))}


def figures(run_dir: str, fig_dir: str) -> list[str]:
  from gaplab import plot_gap
  return plot_gap.plot_init_cones(results.load_run(run_dir), fig_dir, NAME)


def report(run_dir: str) -> str:
  run = results.load_run(run_dir)
  cfg, a = run.meta["config"], run.arrays
  k = cfg["seeds"]
  lines = [f"## {TITLE}", "",
           f"{k} seeds of each network; the MLPs (width {cfg['width']}, depth "
           f"{cfg['depth']}) see the same {cfg['n_samples']} N(0, I) inputs, the encoders "
           f"({cfg['encoder_sizes']} sizes) one noise batch; "
           f"{run.meta['provenance']['elapsed_s']:.0f} s. Accuracy: held-out nearest "
           f"centroid (chance {1 / k:.3f}). Drop: λ_{k - 1}/λ_{k} of the pooled PCA. "
           "Theorem 2 at the architecture level: R = Var_Θ(E[h|Θ]) / Var(h) of an "
           "embedding coordinate (ANOVA-corrected, jackknife error over seeds) next to "
           "β = E[x·x′]/E[x·x] of the pooled features, which a bias-free random "
           "projection turns into R exactly in expectation (no β for the MLPs: their "
           "last layer is an activation, where the bound does not hold).", "",
           "| network | within-seed cos | between-seed cos | seed accuracy | drop at K−1 "
           "| R (Theorem 2) | β |", "|---|---|---|---|---|---|---|"]
  for i, net in enumerate(run.meta["networks"]):
    beta = a["beta"][i]
    lines.append(f"| {net} | {a['within'][i]:.4f} | {a['between'][i]:.4f} | "
                 f"{a['accuracy'][i]:.3f} | {a['drop'][i]:.3g} | {a['share'][i]:.3f} ± "
                 f"{a['share_se'][i]:.3f} | {'–' if np.isnan(beta) else f'{beta:.3f}'} |")
  return "\n".join(lines) + "\n"


def main(argv=None) -> int:
  return experiment_main(sys.modules[__name__], argv)


if __name__ == "__main__":
  sys.exit(main())
