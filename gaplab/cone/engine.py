"""The cone sweep engine: one jitted, seed-vmapped program per array shape.

For one seed the program draws the inputs, then runs depth as a ``lax.scan``
over layers; in each layer it draws the shared base weights once, applies every
init family's stack of variants (``network.family_apply``) and measures the
cone statistics on all variants at once: the mean-cosine ones
(``stats.mean_stats``) at every layer, the pairwise ones
(``stats.pairwise_stats``: min/max cosine, histogram) only at the config's
``measured_pairwise_layers()`` (by default a few chosen layers; a ``lax.cond``
on the unbatched layer index inside the scan, so skipped layers cost no Gram),
NaN and a histogram of -1 elsewhere.
Seeds are a vmapped axis of typed keys, chunked to bound memory and sharded over
devices when there are several. Scales, biases and activation parameters are
arrays, so a new sigma grid of the same size reuses the compiled program.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from gaplab.nets import chunks
from gaplab.nets import inits
from gaplab.nets import inputs as inputs_mod
from gaplab.nets import network
from gaplab.nets import rows
from gaplab.cone import stats
from gaplab.cone.config import ConeConfig, Variant

STAT_KEYS = tuple(stats.SCALARS) + ("hist",)


@dataclasses.dataclass(frozen=True)
class Plan:
  """The static structure of one compiled program."""
  # per init family: (family, ((activation, start, stop), ...)) row segments
  families: tuple[tuple[str, tuple[tuple[str, int, int], ...]], ...]
  block: str
  depth: int
  width: int
  input_dim: int
  n_samples: int
  inputs: str  # "gaussian" | "uniform" | "array"
  n_bins: int
  pair_block: int
  pairwise: bool
  dtype: str
  precision: str
  # "stats": statistics per layer; "final": the last layer's outputs;
  # "centroids": per layer, the mean of the L2-normalised rows (for gaps)
  output: str = "stats"
  # with ``pairwise``, the layers that get pairwise statistics (None: all)
  pairwise_layers: tuple[int, ...] | None = None

  def pairwise_set(self) -> frozenset:
    """The layers 0..depth whose pairwise statistics are computed."""
    if not self.pairwise:
      return frozenset()
    if self.pairwise_layers is None:
      return frozenset(range(self.depth + 1))
    return frozenset(self.pairwise_layers)


def _precision(name):
  return jax.lax.Precision.HIGHEST if name == "highest" else jax.lax.Precision.DEFAULT


def variant_scales(cfg: ConeConfig, v: Variant, width: int, fan_in: int) -> dict:
  """Scales of one variant at a layer whose first map has ``fan_in``."""
  w1, bn1, bu1 = inits.scales(v.init, v.sigma_w, v.sigma_b, cfg.bias, fan_in, width)
  fi2 = network.second_map_fan_in(cfg.block, v.activation, fan_in, width)
  w2 = bn2 = bu2 = 0.0
  if fi2 is not None:
    w2, bn2, bu2 = inits.scales(v.init, v.sigma_w, v.sigma_b, cfg.bias, fi2, width)
  return dict(w1=w1, bn1=bn1, bu1=bu1, w2=w2, bn2=bn2, bu2=bu2)


def family_stacks(variants) -> dict[str, list[Variant]]:
  """Variants per init family, ordered by activation (first appearance), so
  each activation is one contiguous segment of its family's stack."""
  stacks: dict[str, list[Variant]] = {}
  for v in variants:
    stacks.setdefault(inits.get(v.init).family, []).append(v)
  acts = list(dict.fromkeys(v.activation for v in variants))
  return {f: sorted(vs, key=lambda v: (acts.index(v.activation), v.index))
          for f, vs in stacks.items()}


def segments(vs: list[Variant]) -> tuple[tuple[str, int, int], ...]:
  out, start = [], 0
  for i in range(1, len(vs) + 1):
    if i == len(vs) or vs[i].activation != vs[start].activation:
      out.append((vs[start].activation, start, i))
      start = i
  return tuple(out)


def family_params(cfg, stacks, width, input_dim, dtype):
  """Per family: {"act": (V,), "first": {w1..bu2: (V,)}, "rest": {...}}."""
  out = []
  for vs in stacks.values():
    arr = lambda xs: jnp.asarray(np.array(xs, np.float64), dtype)
    first = [variant_scales(cfg, v, width, input_dim) for v in vs]
    rest = [variant_scales(cfg, v, width, width) for v in vs]
    out.append({
        "act": arr([0.0 if math.isnan(v.act_param) else v.act_param for v in vs]),
        "first": {k: arr([s[k] for s in first]) for k in network.MAP_KEYS},
        "rest": {k: arr([s[k] for s in rest]) for k in network.MAP_KEYS},
    })
  return out


def _measure(h, pairwise, plan: Plan):
  """Statistics of every variant's rows ``h`` (V, N, width): dict of (V[, n_bins]);
  of one set of rows ``h`` (N, d) (the inputs): dict of ([n_bins]).

  ``pairwise``: True, False, or a traced unbatched bool (the layer's entry of
  the scan's pairwise flags); then the pairwise pass sits in a ``lax.cond``,
  which stays a conditional under the seed ``vmap`` because its predicate does
  not depend on the seed (``tests/cone/test_engine.py`` checks the jaxpr), so
  layers without pairwise statistics skip their Gram entirely.
  """
  per_variant = (lambda f: f) if h.ndim == 2 else jax.vmap
  out, aux = per_variant(stats.mean_stats)(h)
  pair = per_variant(functools.partial(stats.pairwise_stats, n_bins=plan.n_bins,
                                       block=plan.pair_block))
  skip = lambda h, aux: stats.pairwise_skipped(h.dtype, plan.n_bins, h.shape[:-2])
  if pairwise is True:
    out.update(pair(h, aux))
  elif pairwise is False:
    out.update(skip(h, aux))
  else:
    out.update(jax.lax.cond(pairwise, pair, skip, h, aux))
  return out


def _seed_program(key, x_user, params, plan: Plan):
  """All statistics of one seed: dict of (V, depth + 1[, n_bins]), variants in
  family-stack order."""
  dtype = jnp.dtype(plan.dtype)
  prec = _precision(plan.precision)
  kin, kw = network.seed_keys(key)
  if plan.inputs == "array":
    x = x_user.astype(dtype)
  else:
    x = inputs_mod.generate(kin, plan.inputs, plan.n_samples, plan.input_dim, dtype)

  def forward(hs, layer_idx, which):
    bases = network.LayerBases(network.layer_key(kw, layer_idx), dtype)
    return tuple(network.family_apply(h, bases, dict(p[which], act=p["act"]),
                                      segments=segs, family=fam, block=plan.block,
                                      width=plan.width, precision=prec)
                 for h, p, (fam, segs) in zip(hs, params, plan.families))

  stacked = lambda hs: hs[0] if len(hs) == 1 else jnp.concatenate(hs, axis=0)
  if plan.output in ("final", "centroids"):
    def step(hs, layer_idx, which):
      new = forward(hs, layer_idx, which)
      if plan.output == "final":
        return new, None
      h = stacked(new)  # (V, N, width) -> centroid (V, width)
      return new, jnp.mean(jax.vmap(rows.unit_rows)(h), axis=1)
    hs, c1 = step((x,) * len(plan.families), 1, "first")
    hs, crest = jax.lax.scan(lambda c, l: step(c, l, "rest"), hs,
                             jnp.arange(2, plan.depth + 1))
    if plan.output == "final":  # the last layer's outputs (V, N, width) and x
      return stacked(hs), x
    return jnp.concatenate([c1[:, None], jnp.moveaxis(crest, 0, 1)], axis=1), x

  on = plan.pairwise_set()
  s0 = _measure(x, 0 in on, plan)  # layer 0: the inputs, shared by all variants
  hs = forward((x,) * len(plan.families), 1, "first")
  s1 = _measure(stacked(hs), 1 in on, plan)
  rest = np.arange(2, plan.depth + 1)
  flags = np.isin(rest, list(on))
  if flags.all() or not flags.any():  # one static branch for every step
    def body(c, xs):
      new = forward(c, xs, "rest")
      return new, _measure(stacked(new), bool(flags.all()) and len(rest) > 0, plan)
    xs = jnp.asarray(rest)
  else:
    def body(c, xs):
      new = forward(c, xs[0], "rest")
      return new, _measure(stacked(new), xs[1], plan)
    xs = (jnp.asarray(rest), jnp.asarray(flags))
  _, srest = jax.lax.scan(body, hs, xs)
  v = sum(p["act"].shape[0] for p in params)
  return {k: jnp.concatenate([
      jnp.broadcast_to(s0[k], (v,) + s0[k].shape)[:, None],  # layer 0: inputs
      s1[k][:, None],
      jnp.moveaxis(srest[k], 0, 1)], axis=1)  # (V, depth + 1, ...)
          for k in STAT_KEYS}


@functools.lru_cache(maxsize=32)
def compiled(plan: Plan):
  """The jitted program for ``plan``: (keys (S,), x_user, params) -> stats."""
  f = functools.partial(_seed_program, plan=plan)
  return jax.jit(jax.vmap(f, in_axes=(0, None, None)))


def seed_keys(cfg: ConeConfig):
  """Typed keys of the sweep's seeds: fold_in(key(cfg.seed), i), i < cfg.seeds."""
  base = jax.random.key(cfg.seed)
  return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(cfg.seeds))


def auto_seed_chunk(cfg: ConeConfig, n_variants: int, width: int, n: int,
                    platform: str | None = None) -> int:
  """Seeds per compiled call.

  On CPU the elementwise work streams the whole (seeds, V, N, width) stack per
  op, so a stack that stays in cache wins: at most 32 MiB per layer (measured on
  a 2-core EPYC: the Fig 2b preset is about 15% faster with 2 seeds per call than
  with 10). On accelerators, as many seeds as fit about 2 GiB of live arrays.
  """
  platform = platform or jax.devices()[0].platform
  item = jnp.dtype(cfg.dtype).itemsize
  stack = item * n_variants * n * max(width, cfg.input_dim)
  if platform == "cpu":
    return int(max(1, min(cfg.seeds, (32 * 2**20) // stack)))
  per_seed = stack * 8
  if cfg.measured_pairwise_layers():
    b = min(cfg.pair_block, n)
    per_seed += item * n_variants * b * n * 4
  return int(max(1, min(cfg.seeds, (2 * 2**30) // per_seed)))


@dataclasses.dataclass
class SweepOutput:
  """Arrays with axes (width, variant, seed, layer[, bin]) and their coordinates."""
  config: ConeConfig
  arrays: dict
  variants: list
  input_dim: int
  n_samples: int
  seed_chunk: int
  seconds: float
  inputs: np.ndarray | None = None  # the user's input array; None when generated


def run(cfg: ConeConfig) -> SweepOutput:
  """Validates ``cfg`` (loading a user input file once) and runs the whole sweep."""
  return sweep(cfg, cfg.resolve_inputs())


def plan_widths(cfg: ConeConfig, x_user, max_memory: int | None = None) -> list:
  """Per width, the memory plan (``runtime.memory.ChunkPlan``) of its seed
  chunks: each device takes ``cfg.seed_chunk`` seeds per call, or the speed
  heuristic ``auto_seed_chunk``'s, lowered until the estimated peak fits the
  device (or ``max_memory`` bytes); ConfigError ("max_memory") when one seed
  per device does not fit. ``plan.chunk`` is the seeds per call over all
  devices (``chunks.global_chunk``)."""
  from gaplab.runtime import memory
  n, d_in = x_user.shape if x_user is not None else (cfg.n_samples, cfg.input_dim)
  variants = cfg.variants()
  n_var, n_families = len(variants), len(family_stacks(variants))
  budget = memory.device_budget(max_memory=max_memory)
  out = []
  for width in cfg.widths:
    est = memory.cone_estimate(
        n_variants=n_var, n_samples=n, width=width, input_dim=d_in, depth=cfg.depth,
        n_bins=cfg.n_bins, pair_block=stats.block_size(n, cfg.pair_block),
        pairwise=bool(cfg.measured_pairwise_layers()), itemsize=jnp.dtype(cfg.dtype).itemsize,
        shared_inputs=x_user is not None,
        n_families=n_families)
    preferred = cfg.seed_chunk or auto_seed_chunk(cfg, n_var, width, n)
    out.append(chunks.plan(est, cfg.seeds, budget, preferred=preferred, item="seed"))
  return out


def sweep(cfg: ConeConfig, x_user, seed_chunks=None, store=None) -> SweepOutput:
  """The whole sweep of a validated ``cfg`` on ``x_user`` (its loaded input
  array, None for generated inputs): ``cfg.resolve_inputs()`` gives both.

  ``seed_chunks``: seeds per compiled call for each width (default: the
  memory plan, ``plan_widths``); ``store``: a ``gaplab.io.chunkstore`` store
  that keeps each finished chunk, so a killed sweep resumes."""
  t0 = time.perf_counter()
  n, d_in = x_user.shape if x_user is not None else (cfg.n_samples, cfg.input_dim)
  dtype = jnp.dtype(cfg.dtype)
  variants = cfg.variants()
  stacks = family_stacks(variants)
  order = [v.index for vs in stacks.values() for v in vs]
  inverse = np.argsort(order)  # family-stack rows -> variant order
  keys = seed_keys(cfg)
  x_arg = None if x_user is None else jnp.asarray(x_user, dtype)
  if seed_chunks is None:
    seed_chunks = [p.chunk for p in plan_widths(cfg, x_user)]
  per_width = []
  for wi, (width, chunk) in enumerate(zip(cfg.widths, seed_chunks)):
    plan = Plan(families=tuple((f, segments(vs)) for f, vs in stacks.items()),
                block=cfg.block, depth=cfg.depth,
                width=width, input_dim=d_in, n_samples=n,
                inputs="array" if x_user is not None else cfg.inputs,
                n_bins=cfg.n_bins, pair_block=cfg.pair_block,
                pairwise=bool(cfg.measured_pairwise_layers()), dtype=cfg.dtype,
                precision=cfg.precision,
                pairwise_layers=cfg.measured_pairwise_layers())
    params = family_params(cfg, stacks, width, d_in, dtype)
    call = chunks.program(compiled(plan), x_arg, params, label=f"cone program, width {width}")
    # padded chunks of seeds, so every call reuses the compiled shape
    out = chunks.chunked(call, keys, cfg.seeds, chunk, axis="seed", store=store,
                         prefix=f"width{wi}", label=f"cone sweep, width {width}")
    # (seed, V, layer, ...) -> (V, seed, layer, ...), rows in variant order
    per_width.append({k: np.swapaxes(out[k], 0, 1)[inverse] for k in STAT_KEYS})
  arrays = {k: np.stack([w[k] for w in per_width]) for k in STAT_KEYS}
  return SweepOutput(cfg, arrays, variants, d_in, n, int(seed_chunks[-1]),
                     time.perf_counter() - t0, x_user)


def embeddings(cfg: ConeConfig, width: int | None = None, seeds=None,
               output: str = "final"):
  """The last layer's outputs of every variant, for the given seed indices
  (default: all): (outputs (S, V, N, width) in variant order, inputs (S, N, d)).

  The same program as ``run`` (same keys, weights and inputs) up to its last
  layer, for analyses that need the embeddings themselves, e.g. the gap
  between two independently initialised networks. Memory grows with S: pass a
  few seeds at a time for big sweeps. ``output="centroids"`` returns instead,
  for layers 1..L, the centroid of the L2-normalised rows: (S, V, L, width).
  """
  x_user = cfg.resolve_inputs()
  width = cfg.widths[0] if width is None else width
  n, d_in = x_user.shape if x_user is not None else (cfg.n_samples, cfg.input_dim)
  dtype = jnp.dtype(cfg.dtype)
  variants = cfg.variants()
  stacks = family_stacks(variants)
  inverse = np.argsort([v.index for vs in stacks.values() for v in vs])
  plan = Plan(families=tuple((f, segments(vs)) for f, vs in stacks.items()),
              block=cfg.block, depth=cfg.depth, width=width, input_dim=d_in,
              n_samples=n, inputs="array" if x_user is not None else cfg.inputs,
              n_bins=cfg.n_bins, pair_block=cfg.pair_block, pairwise=False,
              dtype=cfg.dtype, precision=cfg.precision, output=output)
  keys = seed_keys(cfg)
  idx = np.arange(cfg.seeds) if seeds is None else np.asarray(seeds)
  x_arg = None if x_user is None else jnp.asarray(x_user, dtype)
  h, x = compiled(plan)(keys[idx], x_arg, family_params(cfg, stacks, width, d_in, dtype))
  return np.asarray(h)[:, inverse], np.asarray(x)


def explicit_weights(cfg: ConeConfig, variant: Variant, seed_index: int,
                     layer: int, width: int, input_dim: int):
  """The (W, b) pairs the engine uses for one variant, seed and layer, as
  float64 NumPy arrays (for reference implementations and tests)."""
  key = seed_keys(cfg)[seed_index]
  _, kw = network.seed_keys(key)
  bases = network.LayerBases(network.layer_key(kw, layer), jnp.dtype(cfg.dtype))
  fan_in = input_dim if layer == 1 else width
  s = variant_scales(cfg, variant, width, fan_in)
  family = inits.get(variant.init).family
  fi2 = network.second_map_fan_in(cfg.block, variant.activation, fan_in, width)
  maps = []
  for which, fi in ((1, fan_in), (2, fi2)):
    if fi is None:
      continue
    w = np.asarray(bases.weight(family, which, fi, width), np.float64)
    bn, bu = (np.asarray(b, np.float64) for b in bases.bias(which, width))
    maps.append((s[f"w{which}"] * w, s[f"bn{which}"] * bn + s[f"bu{which}"] * bu))
  return maps


def explicit_inputs(cfg: ConeConfig, seed_index: int, x_user=None):
  """The inputs the engine feeds seed ``seed_index``, as a float64 array;
  ``x_user`` is the loaded user array (loaded here when None and needed)."""
  if x_user is None:
    x_user = cfg.load_inputs()
  if x_user is not None:
    return np.asarray(np.asarray(x_user, cfg.dtype), np.float64)
  kin, _ = network.seed_keys(seed_keys(cfg)[seed_index])
  x = inputs_mod.generate(kin, cfg.inputs, cfg.n_samples, cfg.input_dim,
                          jnp.dtype(cfg.dtype))
  return np.asarray(x, np.float64)
