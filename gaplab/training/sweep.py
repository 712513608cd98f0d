"""Seeds x hyperparameter grids of two-tower training, from one config dict.

``resolve_spec(cfg)`` builds the static program (towers, sharing, steps),
``make_data(cfg, mismatch)`` the task, ``grid(cfg, variants)`` the runs and
``sweep(...)`` trains them: runs are chunked (``run_chunk``, padded so every
chunk reuses one compiled program) and sharded over devices when there are
several (``gaplab.nets.chunks``). Run r of seed s uses the keys
fold_in(key(seed), s): the same towers
at init and the same batch order for every variant of that seed, so variants
are compared over the same seeds.

Config keys read here (the experiment files' presets hold them all):
image_encoder, text_encoder (mlp | resnet | vit | text), encoder_sizes
(default | tiny, for the registered encoders), view_dim, width, depth,
embed_dim, activation, sigma_w, sigma_b, share, steps, batch_size, eval_every,
lr_schedule, warmup_steps, n_train, n_eval, latent_dim, noise, n_classes,
class_spread, data_seed, seed, seeds, run_chunk, and the ``train.HYPER``
defaults lr, lr_tau, tau_ramp, swap, w_align, w_unif.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from gaplab.contrastive import pairs
from gaplab.nets import chunks
from gaplab.training import segments
from gaplab.training import towers
from gaplab.training import loop as train
from gaplab._errors import ConfigError


def _tower(cfg: dict, which: str):
  kind = cfg[f"{which}_encoder"]
  if kind == "mlp":
    return towers.build("mlp", towers.MLPConfig(
        view_dim=cfg["view_dim"], width=cfg["width"], depth=cfg["depth"],
        embed_dim=cfg["embed_dim"], activation=cfg["activation"],
        sigma_w=float(cfg["sigma_w"]), sigma_b=float(cfg["sigma_b"])))
  if kind not in towers.KINDS:
    raise ConfigError(f"{which}_encoder", f"expected one of {', '.join(towers.KINDS)}, "
                      f"got {kind!r}")
  from gaplab import encoders
  encoders.check_sizes(cfg["encoder_sizes"], "encoder_sizes")
  over = dict(encoders.TINY[kind]) if cfg["encoder_sizes"] == "tiny" else {}
  return towers.build(kind, encoders.config(kind, **dict(over, embed_dim=cfg["embed_dim"])))


def resolve_spec(cfg: dict) -> train.Spec:
  """The static program of ``cfg``; raises ConfigError naming a bad key."""
  image, text = _tower(cfg, "image"), _tower(cfg, "text")
  towers.check_share(cfg["share"], image, text)
  log_every = cfg.get("log_every", 1)
  for key, lo in (("steps", 1), ("batch_size", 2), ("eval_every", 1), ("n_train", 2),
                  ("n_eval", 2), ("seeds", 1), ("run_chunk", 0)):
    if cfg[key] < lo:
      raise ConfigError(key, f"expected an integer >= {lo}, got {cfg[key]!r}")
  for key, every in (("eval_every", cfg["eval_every"]), ("log_every", log_every)):
    if isinstance(every, bool) or not isinstance(every, int) or every < 1 \
        or cfg["steps"] % every:
      raise ConfigError(key, f"expected a divisor of steps = {cfg['steps']}, got {every!r}")
  if cfg["lr_schedule"] not in train.LR_SCHEDULES:
    raise ConfigError("lr_schedule", f"expected one of {', '.join(train.LR_SCHEDULES)}, "
                      f"got {cfg['lr_schedule']!r}")
  w = cfg["warmup_steps"]
  if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w < cfg["steps"]:
    raise ConfigError("warmup_steps", f"expected an integer in [0, steps = {cfg['steps']}), "
                      f"got {w!r}")
  if cfg["batch_size"] > cfg["n_train"]:
    raise ConfigError("batch_size", f"expected at most n_train = {cfg['n_train']}, "
                      f"got {cfg['batch_size']}")
  if cfg["n_eval"] > cfg["n_train"]:
    raise ConfigError("n_eval", f"expected at most n_train = {cfg['n_train']} (the "
                      f"Procrustes map uses that many training pairs), got {cfg['n_eval']}")
  return train.Spec(image, text, cfg["share"], cfg["steps"], cfg["batch_size"],
                    cfg["eval_every"], cfg["lr_schedule"], cfg["warmup_steps"], log_every)


def make_data(cfg: dict, spec: train.Spec, mismatch: float):
  """(training pairs with ``mismatch``, matched evaluation pairs), one world
  (one compiled program: eagerly it is dozens of small ones)."""
  return _task(cfg["data_seed"], cfg["latent_dim"], (spec.image.view_dim, spec.text.view_dim),
               cfg["n_classes"], cfg["noise"], cfg["class_spread"], cfg["n_train"],
               cfg["n_eval"], mismatch)


@functools.partial(jax.jit, static_argnums=tuple(range(9)))
def _task(data_seed, latent_dim, view_dims, n_classes, noise, class_spread, n_train, n_eval,
          mismatch):
  key = jax.random.key(data_seed)
  w = pairs.world(jax.random.fold_in(key, 0), latent_dim=latent_dim, view_dims=view_dims,
                  n_classes=n_classes)
  kw = dict(noise=noise, class_spread=class_spread)
  return (pairs.make_pairs(jax.random.fold_in(key, 1), n_train, w, mismatch=mismatch, **kw),
          pairs.make_pairs(jax.random.fold_in(key, 2), n_eval, w, **kw))


def check_hyper(hp: dict) -> None:
  for name in ("tau_start", "tau_end", "lr", "lr_tau"):
    v = np.asarray(hp[name], np.float64)
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
      raise ConfigError(name, f"expected finite values > 0, got {v.tolist()}")
  for name in ("swap", "amend"):
    v = np.asarray(hp[name], np.float64)
    if np.any(v < 0) or np.any(v > 1):
      raise ConfigError(name, f"expected values in [0, 1], got {v.tolist()}")
  for name in ("tau_ramp", "horizon"):
    v = np.asarray(hp[name], np.float64)
    if np.any(~(v > 0)) or np.any(v > 1):
      raise ConfigError(name, f"expected values in (0, 1], got {v.tolist()}")
  for name in ("w_align", "w_unif"):
    v = np.asarray(hp[name], np.float64)
    if not np.all(np.isfinite(v)) or np.any(v < 0):
      raise ConfigError(name, f"expected finite values >= 0, got {v.tolist()}")


def variant(cfg: dict, **kw) -> dict:
  """One run's hyperparameters: ``cfg``'s defaults, overridden by ``kw``; a
  ``tau_mode`` name becomes its code."""
  hp = {"tau_start": 0.07, "tau_end": 0.07, "tau_mode": "fixed", "tau_ramp": cfg["tau_ramp"],
        "lr": cfg["lr"], "lr_tau": cfg["lr_tau"], "horizon": 1.0,
        "swap": cfg["swap"], "w_align": cfg["w_align"], "w_unif": cfg["w_unif"],
        "amend": 0.0}
  unknown = set(kw) - set(hp)
  if unknown:
    raise ConfigError(sorted(unknown)[0], f"unknown hyperparameter; expected one of "
                      f"{', '.join(hp)}")
  hp.update(kw)
  if hp["tau_mode"] not in train.TAU_MODES:
    raise ConfigError("tau_mode", f"expected one of {', '.join(train.TAU_MODES)}, "
                      f"got {hp['tau_mode']!r}")
  return hp


def grid(cfg: dict, variants: list[dict]):
  """(hp arrays (R,), seed index (R,)) for seeds x variants, seed-major."""
  runs = list(itertools.product(range(cfg["seeds"]), variants))
  hp = {k: np.array([train.TAU_MODES.index(v[k]) if k == "tau_mode" else v[k]
                     for _, v in runs], np.int32 if k == "tau_mode" else np.float64)
        for k in train.HYPER}
  check_hyper(hp)
  short = hp["horizon"] * cfg["steps"] <= cfg["warmup_steps"]
  if np.any(short):
    raise ConfigError("horizon", f"expected horizon x steps > warmup_steps = "
                      f"{cfg['warmup_steps']}, got {hp['horizon'][short].tolist()}")
  return hp, np.array([s for s, _ in runs])


def init_params(cfg: dict, spec: train.Spec, seed_index):
  """Per-seed tower parameters (vmapped, one compiled program) and run keys,
  gathered per run."""
  return _init(spec.share, spec.image, spec.text, cfg["seed"], cfg["seeds"],
               jnp.asarray(seed_index))


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def _init(share: str, image, text, seed: int, seeds: int, idx):
  base = jax.random.key(seed)
  seed_keys = jax.vmap(lambda s: jax.random.fold_in(base, s))(jnp.arange(seeds))
  p = jax.vmap(lambda k: towers.init_pair(share, image, text,
                                          jax.random.fold_in(k, 0)))(seed_keys)
  order = jax.vmap(lambda k: jax.random.fold_in(k, 1))(seed_keys)
  return jax.tree.map(lambda a: a[idx], p), order[idx]


def n_params(spec: train.Spec) -> int:
  """Parameters of one run's two towers (from shapes only, no compute)."""
  shapes = jax.eval_shape(lambda k: towers.init_pair(spec.share, spec.image, spec.text, k),
                          jax.random.key(0))
  return int(sum(np.prod(a.shape) for a in jax.tree.leaves(shapes)))


def activation_floats(tower) -> int:
  """Values one example's forward pass through ``tower`` creates: the sum of
  the sizes of the outputs of its jaxpr's top-level equations (no compute; a
  loop's stacked outputs count once)."""
  params = jax.eval_shape(tower.init, jax.random.key(0))
  view = jax.ShapeDtypeStruct((1, tower.view_dim), jnp.float32)
  jaxpr = jax.make_jaxpr(tower.apply)(params, view).jaxpr
  return int(sum(np.prod(v.aval.shape) for eqn in jaxpr.eqns for v in eqn.outvars))


def run_estimate(cfg: dict, spec: train.Spec):
  """Estimated device memory of one run of ``spec`` (``runtime.memory``)."""
  from gaplab.runtime import memory
  itemsize = 8 if cfg["dtype"] == "float64" else 4
  return memory.train_estimate(
      n_params=n_params(spec), batch_size=spec.batch_size, n_eval=cfg["n_eval"],
      n_train=cfg["n_train"], view_dims=(spec.image.view_dim, spec.text.view_dim),
      widths_sum=activation_floats(spec.image) + activation_floats(spec.text),
      embed_dim=spec.image.cfg.embed_dim,
      log_steps=segment_intervals(cfg, spec) * spec.eval_every,
      n_logged=len(train.LOGGED), itemsize=itemsize)


def plan_chunk(cfg: dict, specs, n_runs: int, max_memory: int | None = None):
  """The memory plan of a training sweep (``runtime.memory.ChunkPlan``): runs
  per call on each device, ``run_chunk`` (0: all), lowered until the largest
  setting's estimated peak fits the device (or ``max_memory`` bytes);
  ``plan.chunk`` is the runs per call over all devices."""
  from gaplab.runtime import memory
  est = max((run_estimate(cfg, s) for s in specs), key=lambda e: e.total(1))
  return chunks.plan(est, n_runs, memory.device_budget(max_memory=max_memory),
                     preferred=cfg["run_chunk"] or n_runs, item="run")


def describe_plan(cfg: dict, specs, plan, n_runs: int) -> str:
  """The --dry-run text of a training sweep."""
  seg = segment_intervals(cfg, specs[0]) * cfg["eval_every"]
  n_sets = len(specs) * len(cfg["mismatch"])
  return "\n".join([
      f"training sweep: {n_runs} runs x {n_sets} setting(s) (share x mismatch), "
      f"{cfg['steps']} steps, checkpoints every {seg} steps, {len(jax.devices())} "
      f"device(s) in {jax.process_count()} process(es)", plan.describe()])


def segment_intervals(cfg: dict, spec: train.Spec) -> int:
  """Evaluation intervals per checkpointed segment: ``checkpoint_every`` steps
  (0: the longest multiple of eval_every and log_every that divides the steps
  and is at most ``AUTO_SEGMENT`` steps, or one such multiple)."""
  every = cfg.get("checkpoint_every", 0) or auto_segment(cfg)
  return every // spec.eval_every


AUTO_SEGMENT = 2000  # steps between checkpoints by default: ~3 s a run-step ms


def auto_segment(cfg: dict) -> int:
  unit = math.lcm(cfg["eval_every"], cfg.get("log_every", 1))
  fits = [m * unit for m in range(1, cfg["steps"] // unit + 1)
          if cfg["steps"] % (m * unit) == 0 and m * unit <= max(AUTO_SEGMENT, unit)]
  return max(fits) if fits else cfg["steps"]


def sweep(cfg: dict, spec: train.Spec, data, hp: dict, seed_index, dtype=jnp.float32, *,
          chunk: int | None = None, store=None, prefix: str = "runs",
          log_every: int | None = None):
  """Trains every run; returns the history as NumPy arrays with a leading run
  axis (training logs thinned by ``log_every``, default ``spec.log_every``:
  ``train.thin``). The program compiles only the optional parts the runs use
  (``train.for_runs``).

  Runs are chunked (``chunk`` runs per call over all devices; default:
  ``run_chunk`` per device, ``chunks.global_chunk``); each chunk trains in segments of
  ``segment_intervals`` evaluation intervals, one compiled program for all.
  With ``store`` (``gaplab.io.chunkstore``) each finished chunk is kept and,
  inside a chunk of several segments, the state is checkpointed with orbax
  after every segment, so a killed sweep resumes mid-run with the same numbers.
  """
  spec = train.for_runs(spec if log_every is None else
                        dataclasses.replace(spec, log_every=log_every), hp)
  as_dtype = lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a
  train_pairs, eval_pairs = jax.tree.map(as_dtype, data)
  params0, keys = init_params(cfg, spec, seed_index)
  params0 = jax.tree.map(as_dtype, params0)
  r = len(seed_index)
  chunk = chunk or chunks.global_chunk(cfg["run_chunk"] or r, r)
  hp = {k: jnp.asarray(v, jnp.int32 if k == "tau_mode" else dtype) for k, v in hp.items()}
  per = segment_intervals(cfg, spec)
  begin_runs, advance_runs = train.segment_programs(spec, per)
  begin = chunks.program(begin_runs, train_pairs, eval_pairs, label="training start")
  advance = chunks.program(advance_runs, train_pairs, eval_pairs, label="training program")

  def run_chunk(part, name):
    ckpt = None
    if store is not None and spec.steps // spec.eval_every > per:
      from gaplab.io import checkpoints
      ckpt = checkpoints.Checkpoints(store.checkpoint_dir(name))
    return segments.train_chunk(part, begin, advance, spec, per, ckpt,
                                writer=store is None or store.writer, axis="run")

  return chunks.chunked(run_chunk, (hp, keys, params0), r, chunk, axis="run", store=store,
                        prefix=prefix, label=f"training {spec.steps} steps", keyed=True)
