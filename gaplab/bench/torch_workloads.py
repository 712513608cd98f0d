"""The PyTorch programs a user would write instead of gaplab, for the
benchmarks' end-to-end comparisons (run in their own process; never imported
by the library unless torch is installed).

* ``cone``: the paper's Fig 2b notebook loop. Per activation and seed, Gaussian
  inputs (N, d); per layer a fresh ``nn.Linear`` with W, b ~ N(0, 1/d); the
  activation; the full N x N cosine matrix of the unit rows (NumPy) and its
  mean (diagonal included, as the notebook does).
* ``two_tower``: R two-tower runs one after another, as a Python loop of
  steps: MLP towers (depth 3, ReLU, width W, embedding 32, no last bias), Adam,
  the symmetric InfoNCE loss at a fixed temperature, batches drawn from a
  reshuffled order, and at every evaluation point the gap between the two
  modalities' centroids and the top-1 retrieval of matched pairs.

These are the workloads of ``shared/bench`` that the issues measure against,
written here so that ``gaplab bench`` can run them without that directory.
Usage: ``python -m gaplab.bench.torch_workloads cone|two_tower KEY=VALUE ...``;
the last stdout line is a JSON object with ``seconds`` (the loop, after the
imports and the data), ``threads`` and a few result values for sanity checks.
"""
from __future__ import annotations

import json
import math
import sys
import time

CONE_DEFAULTS = dict(n=1024, d=512, depth=25, seeds=10,
                     activations="linear,relu,leaky_relu,sigmoid,tanh,gelu,elu")
TWO_TOWER_DEFAULTS = dict(width=16, runs=64, steps=200, n_train=2048, n_eval=256,
                          batch=128, eval_every=25, temperatures=8)


def cone(n, d, depth, seeds, activations):
  """Seconds of the Fig 2b loop and its mean cosine per activation at the last
  layer (mean over seeds)."""
  import numpy as np
  import torch
  fns = {"linear": lambda x: x, "relu": torch.relu,
         "leaky_relu": torch.nn.functional.leaky_relu, "sigmoid": torch.sigmoid,
         "tanh": torch.tanh, "gelu": torch.nn.functional.gelu,
         "elu": torch.nn.functional.elu}

  def mean_cos(f):
    u = f / (np.linalg.norm(f, axis=-1, keepdims=True) + 1e-16)
    return float(np.mean(u @ u.T))

  def layer(x, act):
    lin = torch.nn.Linear(d, d, bias=True)
    torch.nn.init.normal_(lin.weight, std=1 / math.sqrt(d))
    torch.nn.init.normal_(lin.bias, std=1 / math.sqrt(d))
    return act(lin(x))

  last = {}
  t0 = time.perf_counter()
  for name in activations.split(","):
    curves = []
    for _ in range(seeds):
      with torch.no_grad():
        x = torch.randn(n, d)
        feats = [x.numpy()]
        for _ in range(depth):
          x = layer(x, fns[name])
          feats.append(x.numpy())
        curves.append([mean_cos(f) for f in feats])
    last[name] = float(np.mean(curves, 0)[-1])
  return dict(seconds=time.perf_counter() - t0, mean_cos_last_layer=last)


def two_tower(width, runs, steps, n_train, n_eval, batch, eval_every, temperatures):
  """Seconds of ``runs`` runs (seed = run // temperatures, temperatures
  log-spaced from 1 to 1/100) and the last run's final gap and top-1."""
  import torch
  taus = [math.exp(i * math.log(0.01) / max(temperatures - 1, 1))
          for i in range(temperatures)]

  def data(seed, n):
    g = torch.Generator().manual_seed(seed)
    a1, a2 = torch.randn(8, 64, generator=g), torch.randn(8, 64, generator=g)
    z = torch.randn(n, 8, generator=g)
    return (torch.tanh(z @ a1) + 0.1 * torch.randn(n, 64, generator=g),
            torch.tanh(z @ a2) + 0.1 * torch.randn(n, 64, generator=g))

  def tower():
    layers, fan_in = [], 64
    for _ in range(3):
      layers += [torch.nn.Linear(fan_in, width), torch.nn.ReLU()]
      fan_in = width
    return torch.nn.Sequential(*layers, torch.nn.Linear(fan_in, 32, bias=False))

  xt, yt = data(0, n_train)
  xe, ye = data(1, n_eval)
  m = int(0.2 * n_train)  # 20% mismatched pairs: a cyclic shift of the first m texts
  yt = yt.clone()
  yt[:m] = yt[:m][torch.roll(torch.arange(m), 1)]
  normalize, ce = torch.nn.functional.normalize, torch.nn.functional.cross_entropy
  gap = top1 = float("nan")
  t0 = time.perf_counter()
  for r in range(runs):
    seed, tau = r // temperatures, taus[r % temperatures]
    torch.manual_seed(seed)
    f, g = tower(), tower()
    opt = torch.optim.Adam(list(f.parameters()) + list(g.parameters()), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    order, pos = torch.randperm(n_train, generator=gen), 0
    labels = torch.arange(batch)
    for step in range(steps):
      if pos + batch > n_train:
        order, pos = torch.randperm(n_train, generator=gen), 0
      idx = order[pos:pos + batch]
      pos += batch
      logits = normalize(f(xt[idx]), dim=1) @ normalize(g(yt[idx]), dim=1).T / tau
      loss = 0.5 * (ce(logits, labels) + ce(logits.T, labels))
      opt.zero_grad()
      loss.backward()
      opt.step()
      if (step + 1) % eval_every == 0:
        with torch.no_grad():
          a, b = normalize(f(xe), dim=1), normalize(g(ye), dim=1)
          gap = (a.mean(0) - b.mean(0)).norm().item()
          top1 = ((a @ b.T).argmax(1) == torch.arange(n_eval)).float().mean().item()
  return dict(seconds=time.perf_counter() - t0, last_gap=gap, last_top1=top1)


WORKLOADS = {"cone": (cone, CONE_DEFAULTS), "two_tower": (two_tower, TWO_TOWER_DEFAULTS)}


def parse(name: str, pairs: list[str]) -> dict:
  """The workload's keyword arguments: its defaults overridden by KEY=VALUE."""
  if name not in WORKLOADS:
    raise SystemExit(f"expected a workload in {', '.join(WORKLOADS)}, got {name!r}")
  defaults = WORKLOADS[name][1]
  kw = dict(defaults)
  for p in pairs:
    key, _, value = p.partition("=")
    if key not in defaults:
      raise SystemExit(f"expected a key in {', '.join(defaults)}, got {key!r}")
    kw[key] = type(defaults[key])(value)
  return kw


def main(argv=None) -> None:
  argv = sys.argv[1:] if argv is None else argv
  if not argv:
    raise SystemExit(f"usage: python -m gaplab.bench.torch_workloads "
                     f"{'|'.join(WORKLOADS)} KEY=VALUE ...")
  kw = parse(argv[0], argv[1:])
  import torch
  out = WORKLOADS[argv[0]][0](**kw)
  print(json.dumps(dict(out, workload=argv[0], config=kw, torch=torch.__version__,
                        threads=torch.get_num_threads())), flush=True)


if __name__ == "__main__":
  main()
