"""Fig 2a analogue: the cone at random initialisation across architectures, layer by layer.

Exact command (full preset; a minute or two on a 2-core CPU):

    python simulations/architectures_at_init.py --out runs/architectures
    # or: gaplab reproduce --only architectures_at_init --out figures --overwrite

Tiny mode: ``python simulations/architectures_at_init.py --tiny --out /tmp/arch``;
``--set seeds=8 n_inputs=1024`` overrides (unknown keys rejected).

Setting: gaplab's flax NNX encoders at their default (CPU-small) sizes
(``gaplab.encoders``: ResNet with train-mode batch norm, ViT with CLS pooling,
causal text Transformer pooled at the last position; each ends in a linear
projection), K seeds vmapped, all fed the same noise inputs: N(0, 1) images or
uniformly random tokens. Every layer's flattened representation (the residual
stream after the stem and after each block, the pooled feature, the embedding)
goes through the sweep's own statistics (``gaplab.cone.stats.cone_stats``): mean
cosine over distinct pairs, min and max, histogram.

Expected result (default sizes, 4 seeds, final embedding, mean ± sd over
seeds): ResNet 0.966 ± 0.005 (min pair 0.87), ViT 0.950 ± 0.011 (min 0.76),
text 0.395 ± 0.069. The paper, at full CLIP sizes on noise: ResNet 0.999, ViT
0.94, text 0.41 (printed by its Fig 2a notebook; ``gaplab.paper``). Per layer: the ResNet's feature maps (all positions) stay at
0.3-0.4 and the ViT's residual stream near 0.1; both cones appear at the
pooling (global average pool: 0.97; CLS token: 0.96). The text cone narrows
slowly through the blocks (0.20 -> 0.39).
"""
from __future__ import annotations

import sys
import time

import numpy as np

from gaplab import encoders, paper
from gaplab.harness import checks
from gaplab.io import provenance
from gaplab.io import results
from gaplab.io import tables
from gaplab.cone import stats
from gaplab._errors import ConfigError
from gaplab.harness.experiment import experiment_main

NAME = "architectures_at_init"
TITLE = "Fig 2a: the cone at random initialisation, across architectures"
# random init, noise inputs: keys of gaplab.paper (each with its source)
PAPER = {"resnet": "fig2a_noise_resnet", "vit": "fig2a_noise_vit", "text": "fig2a_noise_text"}
SCALARS = ("mean_cos", "one_minus_mean_cos", "min_cos", "max_cos", "centroid_norm")

PRESET = dict(encoders=["resnet", "vit", "text"], seeds=4, seed=0, n_inputs=512,
              input_seed=7, n_bins=50, sizes="default")
SIZES = {"full": {}, "quick": {"n_inputs": 256, "seeds": 3},
         "tiny": {"n_inputs": 16, "seeds": 2, "sizes": "tiny"}}


def config(size: str = "full", **overrides) -> dict:
  cfg = checks.resolve(PRESET, SIZES, size, overrides)
  encoders.check_names(cfg["encoders"])
  encoders.check_sizes(cfg["sizes"])
  for key, lo in (("seeds", 1), ("n_inputs", 2), ("n_bins", 1)):
    if cfg[key] < lo:
      raise ConfigError(key, f"expected an integer >= {lo}, got {cfg[key]!r}")
  return cfg


def measure(enc, seeds: int, seed: int, n_inputs: int, input_seed: int, n_bins: int):
  """Per layer, statistics (seed, layer) of every scalar, and the final
  embedding's cosine histogram (seed, bin)."""
  import functools
  import jax
  states = encoders.init_seeds(enc, seed, seeds)
  x = enc.inputs(jax.random.key(input_seed), n_inputs)
  _, layers = jax.vmap(enc.apply, in_axes=(0, None))(states, x)
  measure_one = jax.jit(jax.vmap(functools.partial(stats.cone_stats, n_bins=n_bins)))
  per = [jax.device_get(measure_one(h)) for h in layers]
  out = {k: np.stack([np.asarray(p[k], np.float64) for p in per], axis=1) for k in SCALARS}
  out["hist"] = np.asarray(per[-1]["hist"])
  return out


def run(out: str, size: str = "full", overwrite: bool = False, **overrides) -> str:
  cfg = config(size, **overrides)
  results.check_writable(out, overwrite)
  t0 = time.perf_counter()
  arrays, meta_enc = {}, {}
  for name in cfg["encoders"]:
    enc = encoders.sized(name, cfg["sizes"])
    m = measure(enc, cfg["seeds"], cfg["seed"], cfg["n_inputs"], cfg["input_seed"],
                cfg["n_bins"])
    arrays.update({f"{name}_{k}": v for k, v in m.items()})
    import dataclasses
    meta_enc[name] = {"config": dataclasses.asdict(enc.cfg), "layers": list(enc.layer_names)}
  arrays["hist_edges"] = stats.hist_edges(cfg["n_bins"])
  meta = {"kind": NAME, "config": cfg, "encoders": meta_enc,
          "axes": {f"{n}_{k}": ["seed", "layer"] for n in cfg["encoders"] for k in SCALARS}
          | {f"{n}_hist": ["seed", "bin"] for n in cfg["encoders"]},
          "seeds": {"keys": f"fold_in(key({cfg['seed']}), i)", "inputs":
                    f"one noise batch from key({cfg['input_seed']}) for every seed"},
          "statistics": {k: stats.SCALARS[k] for k in SCALARS},
          "provenance": dict(provenance.collect(precision="default", dtype="float32"),
                             elapsed_s=time.perf_counter() - t0)}
  rows = [(n, li, layer, s) + tuple(arrays[f"{n}_{k}"][s, li] for k in SCALARS)
          for n in cfg["encoders"] for li, layer in enumerate(meta_enc[n]["layers"])
          for s in range(cfg["seeds"])]
  return results.save_run(out, meta=meta, arrays=arrays, rows=rows, overwrite=overwrite,
                          header=["encoder", "layer_index", "layer", "seed"] + list(SCALARS))


def figures(run_dir: str, fig_dir: str) -> list[str]:
  from gaplab.plotting import gap as plot_gap
  return plot_gap.plot_architectures(results.load_run(run_dir), fig_dir, NAME)


def report(run_dir: str) -> str:
  run = results.load_run(run_dir)
  cfg, a = run.meta["config"], run.arrays
  lines = [f"## {TITLE}", "",
           f"{cfg['seeds']} seeds, {cfg['n_inputs']} noise inputs, {cfg['sizes']} sizes "
           f"(gaplab.encoders), {run.meta['provenance']['elapsed_s']:.0f} s. Final "
           "embedding, mean cosine over distinct pairs (mean ± sd over seeds) and the "
           "smallest pairwise cosine; the paper's values are for full CLIP sizes.", ""]
  rows = []
  for n in cfg["encoders"]:
    m = a[f"{n}_mean_cos"]
    per_layer = ", ".join(f"{name} {v:.2f}" for name, v in
                          zip(run.meta["encoders"][n]["layers"], m.mean(0)))
    sd = m[:, -1].std(ddof=1) if m.shape[0] > 1 else float("nan")
    rows.append((n, f"{m[:, -1].mean():.3f} ± {sd:.3f}", f"{a[f'{n}_min_cos'][:, -1].min():.3f}",
                 paper.cite(PAPER[n]), per_layer))
  lines += [tables.table(["encoder", "mean cos", "min cos", "paper (random init, noise)",
                          "per layer (mean over seeds)"], rows), ""]
  lines += paper.footnotes([PAPER[n] for n in cfg["encoders"]])
  return "\n".join(lines) + "\n"


def main(argv=None) -> int:
  return experiment_main(sys.modules[__name__], argv)


if __name__ == "__main__":
  sys.exit(main())
