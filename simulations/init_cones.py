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
sizes, one noise batch), with Theorem 2 per network: the between-seed share R
of an output coordinate's variance next to beta of the layer that feeds it.
For the encoders that layer is a bias-free random projection, which makes R =
beta in expectation by construction (an identity, not a test of the theorem);
the ReLU MLP ends in the theorem's post-activation ReLU, where its proof gives
R >= beta whenever the weights carry at most (pi - 1)/pi of the pre-activation
variance (omega; 0.50 at depth 25 here).

Expected result (full preset, 25 seeds): ReLU MLP within 1.0000, between
0.323 (two independent ReLU cones meet at cos ~ 1/pi), accuracy 1.00, and the
spectrum drops 5e5-fold after component K - 1 = 24: 25 points, one per seed;
tanh MLP (cones still open at depth 25: within 0.57, between 0.00) is told
apart just as well, with a 4-fold drop. ResNet / ViT / text: within 0.970 /
0.952 / 0.332, between ~0, accuracy 1.00 / 1.00 / 0.95; R = 0.969 / 0.953 /
0.335 against beta = 0.968 / 0.955 / 0.333.
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time

import numpy as np

from gaplab.harness import checks
from gaplab.cone import engine
from gaplab.io import provenance
from gaplab.io import results
from gaplab.io import tables
from gaplab.analysis import seed_embeddings as seeds
from gaplab.analysis import variance
from gaplab._errors import ConfigError
from gaplab.cone.config import ConeConfig
from gaplab.harness import experiment
from gaplab.harness.experiment import experiment_main

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
  for key, low in (("seeds", 2), ("n_samples", 4), ("depth", 2)):
    if cfg[key] < low:  # depth 2: the layer feeding the last one is a hidden layer
      raise ConfigError(key, f"expected {key} >= {low}, got {cfg[key]!r}")
  return cfg


def run(out: str, size: str = "full", overwrite: bool = False, **overrides) -> str:
  cfg = config(size, **overrides)
  experiment.start(cfg, out, overwrite)
  t0 = time.perf_counter()
  with experiment.shared_inputs(cfg) as (_, path):
    cc = ConeConfig(activations=tuple(cfg["activations"]), sigma_w=(cfg["sigma_w"],),
                    sigma_b=(cfg["sigma_b"],), depth=cfg["depth"], widths=(cfg["width"],),
                    inputs=path, seeds=cfg["seeds"],
                    seed=cfg["seed"], pairwise=False, dtype=cfg["dtype"])
    emb, _ = engine.embeddings(cc)  # (K, V, N, width)
    # the same seeds' layer L - 1 (same keys, so the same weights up to it)
    prev, _ = engine.embeddings(dataclasses.replace(cc, depth=cfg["depth"] - 1))
  k = cfg["seeds"]
  sw2 = cfg["sigma_w"] ** 2 / cfg["width"]  # the last layer's fan-in
  per = []
  for v in range(emb.shape[1]):
    x = np.asarray(prev[:, v], np.float64)
    omega = variance.weight_share(sw2, np.mean(np.sum(x * x, -1)), cfg["sigma_b"] ** 2)
    per.append(dict(analyse(emb[:, v]), beta=np.float64(variance.projection_beta(x)),
                    omega=np.float64(omega)))
  names = [f"mlp {a}" for a in cfg["activations"]]
  for name in cfg["encoders"]:
    e, pooled = encoder_embeddings(name, cfg)
    per.append(dict(analyse(e), beta=np.float64(variance.projection_beta(pooled)),
                    omega=np.float64(1.0)))
    names.append(name)
  arrays = {key: np.stack([p.get(key, np.float64(np.nan)) for p in per])
            for key in per[-1]}
  meta = {"kind": NAME, "config": cfg, "networks": names,
          "axes": {key: ["network"] for key in ("within", "between", "accuracy", "drop",
                                               "share", "share_se", "beta", "omega")}
          | {"spectrum": ["network", "component"],
             "scatter": ["network", "seed", "sample", "pc"]},
          "coords": {"network": names, "seed": list(range(k))},
          "inputs": {"law": "N(0, I)", "key": f"jax.random.key({cfg['input_seed']})",
                     "shared_by": "every seed"},
          "provenance": dict(provenance.collect(precision="highest", dtype=cfg["dtype"]),
                             elapsed_s=time.perf_counter() - t0)}
  cols = ("within", "between", "accuracy", "drop", "share", "share_se", "beta", "omega")
  rows = [(a,) + tuple(arrays[c][i] for c in cols) for i, a in enumerate(names)]
  return results.save_run(out, meta=meta, arrays=arrays, rows=rows, overwrite=overwrite,
                          header=["network"] + list(cols))


def encoder_embeddings(name: str, cfg: dict):
  """K seeds of encoder ``name`` on one noise batch: (embeddings (K, N, D),
  pooled features before the final projection (K, N, F))."""
  import jax
  from gaplab import encoders
  enc = encoders.sized(name, cfg["encoder_sizes"])
  states = encoders.init_seeds(enc, cfg["seed"], cfg["seeds"])
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
          **dict(zip(("share", "share_se"), map(np.float64, variance.variance_share(emb))))}


def figures(run_dir: str, fig_dir: str) -> list[str]:
  from gaplab.plotting import gap as plot_gap
  return plot_gap.plot_init_cones(results.load_run(run_dir), fig_dir, NAME)


def _near1(v) -> str:
  """A share near 1 as '1 − 2e-07' (four decimals would read 1.0000)."""
  return f"1 − {1 - v:.1g}" if 0 < 1 - v < 1e-3 else f"{v:.4f}"


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
           "Theorem 2 per network: R = Var_Θ(E[h|Θ]) / Var(h) of an output "
           "coordinate (ANOVA-corrected, jackknife error over seeds) next to β̃ = "
           "E[x·x′]/E[x·x] of the layer that feeds it and ω, the weights' share of "
           "that coordinate's variance. The encoders end in a bias-free random "
           "projection, so R = β̃ in expectation by construction: an identity, not "
           "evidence for the theorem. The MLPs end in an activation; for ReLU the "
           "proof of Theorem 2 gives R >= 1 − ω(1 − β̃)π/(π − 1), hence R >= β̃, "
           f"wherever ω <= {variance.OMEGA_MAX:.3f} (theory_checks/theorem2_variance.py "
           "checks it); tanh is outside the theorem (ReLU only).", ""]
  rows = []
  for i, net in enumerate(run.meta["networks"]):
    beta, om = a["beta"][i], a["omega"][i]
    if not net.startswith("mlp "):
      rel = "identity (bias-free projection)"
    elif net == "mlp relu":
      rel = (f"R >= β̃ by the proof (ω <= {variance.OMEGA_MAX:.2f})"
             if om <= variance.OMEGA_MAX else "proof's condition fails (ω > 0.68)")
    else:
      rel = "outside the theorem (not ReLU)"
    rows.append((net, f"{a['within'][i]:.4f}", f"{a['between'][i]:.4f}",
                 f"{a['accuracy'][i]:.3f}", f"{a['drop'][i]:.3g}",
                 f"{_near1(a['share'][i])} ± {a['share_se'][i]:.2g}", _near1(beta), f"{om:.3f}",
                 rel))
  lines.append(tables.table(["network", "within-seed cos", "between-seed cos", "seed accuracy",
                             "drop at K−1", "R (Theorem 2)", "β̃", "ω", "R vs β̃"], rows))
  return "\n".join(lines) + "\n"


def main(argv=None) -> int:
  return experiment_main(sys.modules[__name__], argv)


if __name__ == "__main__":
  sys.exit(main())
