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

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from gaplab.contrastive import pairs
from gaplab.nets import chunks
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
  for key, lo in (("steps", 1), ("batch_size", 2), ("eval_every", 1), ("n_train", 2),
                  ("n_eval", 2), ("seeds", 1), ("run_chunk", 0)):
    if cfg[key] < lo:
      raise ConfigError(key, f"expected an integer >= {lo}, got {cfg[key]!r}")
  if cfg["steps"] % cfg["eval_every"]:
    raise ConfigError("eval_every", f"expected a divisor of steps = {cfg['steps']}, "
                      f"got {cfg['eval_every']}")
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
                    cfg["eval_every"], cfg["lr_schedule"], cfg["warmup_steps"])


def make_data(cfg: dict, spec: train.Spec, mismatch: float):
  """(training pairs with ``mismatch``, matched evaluation pairs), one world."""
  key = jax.random.key(cfg["data_seed"])
  w = pairs.world(jax.random.fold_in(key, 0), latent_dim=cfg["latent_dim"],
                  view_dims=(spec.image.view_dim, spec.text.view_dim),
                  n_classes=cfg["n_classes"])
  kw = dict(noise=cfg["noise"], class_spread=cfg["class_spread"])
  return (pairs.make_pairs(jax.random.fold_in(key, 1), cfg["n_train"], w,
                           mismatch=mismatch, **kw),
          pairs.make_pairs(jax.random.fold_in(key, 2), cfg["n_eval"], w, **kw))


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
  """Per-seed tower parameters (eager, vmapped) and run keys, gathered per run."""
  base = jax.random.key(cfg["seed"])
  seed_keys = jax.vmap(lambda s: jax.random.fold_in(base, s))(np.arange(cfg["seeds"]))
  p = jax.vmap(lambda k: towers.init_pair(spec.share, spec.image, spec.text,
                                          jax.random.fold_in(k, 0)))(seed_keys)
  order = jax.vmap(lambda k: jax.random.fold_in(k, 1))(seed_keys)
  idx = jnp.asarray(seed_index)
  return jax.tree.map(lambda a: a[idx], p), order[idx]


def sweep(cfg: dict, spec: train.Spec, data, hp: dict, seed_index, dtype=jnp.float32):
  """Trains every run; returns the history as NumPy arrays with a leading run axis."""
  as_dtype = lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a
  train_pairs, eval_pairs = jax.tree.map(as_dtype, data)
  params0, keys = init_params(cfg, spec, seed_index)
  params0 = jax.tree.map(as_dtype, params0)
  r = len(seed_index)
  chunk = chunks.per_device(cfg["run_chunk"] or r)
  hp = {k: jnp.asarray(v, jnp.int32 if k == "tau_mode" else dtype) for k, v in hp.items()}
  # padded chunks of runs (the last run repeated), one compiled program for all
  run = lambda b: train.train_runs(spec, train_pairs, eval_pairs, *b)[1]
  return chunks.chunked(run, (hp, keys, params0), r, chunk, axis="run")
