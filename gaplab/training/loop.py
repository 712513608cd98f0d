"""Two-tower contrastive training as one compiled, run-vmapped program.

One *run* is a seed (tower init and batch order) plus its hyperparameters,
all arrays (``HYPER``), so one compiled program trains a whole grid:

* ``tau_mode``: 0 fixed (tau = ``tau_start``), 1 learnable (CLIP's log logit
  scale, initialised at log(1 / tau_start), clamped at scale 100), 2 linear and
  3 cosine schedules from ``tau_start`` to ``tau_end``, interpolated in log tau:
  log tau(t) = log tau_start + s(u) log(tau_end / tau_start), s(u) = u or
  (1 - cos(pi u)) / 2, u = min(1, t / (``tau_ramp`` (T - 1))): the schedule
  reaches tau_end at the fraction ``tau_ramp`` of training and holds it after;
* ``lr``, ``lr_tau``: Adam's learning rates (``optax.inject_hyperparams``) of
  the towers and of the log logit scale (a separate Adam, as its step size
  is what a "smaller learning rate for the temperature" changes: Adam is
  invariant to rescaling a gradient);
* ``horizon``: the fraction of the steps over which the run's learning-rate
  schedule runs; it is 0 after, so the run is frozen (a run of ``horizon`` x
  steps inside the same program: training-length checks at no new compile);
* ``swap``: modality swapping (Yaras et al. 2024): each training pair's image
  and text embeddings trade places in the loss with this probability;
* ``w_align``, ``w_unif``: weights of Wang & Isola's alignment and uniformity
  terms added to the loss (Fahim et al. 2024); uniformity is the mean of the
  two modalities';
* ``amend``: 1 amends the gap at init (Liang et al. Sec 4.4): an orthogonal
  Procrustes map W = U V^T, U S V^T = SVD(Y^T X) of the init text embeddings
  Y onto the image embeddings X (unit rows of the first n_eval training
  pairs), minimising
  |Y W - X|_F, is applied to every text embedding, frozen (not trained). The
  towers' functions at init become the amended ones; training then moves both.

The static structure (``Spec``: towers, sharing, steps, batch size, evaluation
cadence, learning-rate schedule) fixes the program. The schedule multiplies
both Adams' steps by f(t) (Adam's update is linear in its learning rate, so
this is a schedule of ``lr`` and ``lr_tau``): a linear warm-up over
``warmup`` steps, f(t) = (t + 1) / warmup, then 1 (``constant``) or CLIP's
cosine decay to 0 at the run's end H = horizon x T, f(t) = (1 + cos(pi (t -
warmup) / (H - warmup))) / 2; f = 0 from H on. The step loop is a
``lax.scan`` of ``eval_every`` steps inside a ``lax.scan`` over evaluations, so evaluation costs nothing
between its points (no ``cond`` under vmap). Loss: the symmetric CLIP InfoNCE
(``gaplab.contrastive.losses``) of the batch, plus the two terms. Logged every step on the
training batch (true pairs, unswapped): loss, clip, tau and ``metrics.NAMES``;
every ``eval_every`` steps, and at step 0, the same on the fixed evaluation set
(matched pairs of the same world).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from gaplab.contrastive import losses
from gaplab.contrastive import metrics
from gaplab.training import towers
from gaplab.contrastive.pairs import Pairs

HYPER = ("tau_start", "tau_end", "tau_mode", "tau_ramp", "lr", "lr_tau", "horizon", "swap",
         "w_align", "w_unif", "amend")
TAU_MODES = ("fixed", "learnable", "linear", "cosine")
LR_SCHEDULES = ("constant", "cosine")
LOGGED = ("loss", "clip", "tau") + metrics.NAMES


@dataclasses.dataclass(frozen=True)
class Spec:
  """The static structure of one compiled training program."""
  image: towers.Tower
  text: towers.Tower
  share: str = "none"
  steps: int = 200
  batch_size: int = 128
  eval_every: int = 20
  lr_schedule: str = "constant"  # one of LR_SCHEDULES
  warmup: int = 0  # linear warm-up steps of the learning rate


def procrustes(x_hat, y_hat):
  """The orthogonal W minimising |Y W - X|_F: U V^T from the SVD of Y^T X."""
  u, _, vt = jnp.linalg.svd(jnp.matmul(y_hat.T, x_hat, precision="highest"))
  return u @ vt


def tau_at(hp: dict, log_scale, t, steps: int):
  """The run's temperature at step t (learnable: from its parameter)."""
  dtype = jnp.asarray(hp["tau_start"]).dtype
  frac = jnp.minimum(jnp.asarray(t, dtype) / (hp["tau_ramp"] * max(steps - 1, 1)), 1)
  s = jnp.where(hp["tau_mode"] == 2, frac, (1 - jnp.cos(math.pi * frac)) / 2)
  sched = jnp.exp(jnp.log(hp["tau_start"]) + s * jnp.log(hp["tau_end"] / hp["tau_start"]))
  learned = 1.0 / losses.logit_scale_from_log(log_scale)
  return jnp.select([hp["tau_mode"] == 0, hp["tau_mode"] == 1],
                    [hp["tau_start"], learned], sched)


def _embed(spec: Spec, params, rot, x_view, y_view):
  x, y = towers.apply_pair(spec.share, spec.image, spec.text, params, x_view, y_view)
  return losses.normalize_rows(x), losses.normalize_rows(jnp.matmul(y, rot, precision="highest"))


def _clip(cos, tau):
  i2t, t2i = losses.clip_directions_from_logits(cos / tau)
  return 0.5 * (i2t + t2i)


def swapped_cos(grams, swap_mask):
  """The cosine matrix after pairs with ``swap_mask`` trade their two embeddings,
  from the three Gram matrices (x y^T, x x^T, y y^T), without a new matmul:
  x'_i . y'_j is x_i.y_j, x_i.x_j, y_i.y_j or y_i.x_j by (swap_i, swap_j)."""
  cos, gxx, gyy = grams
  si, sj = swap_mask[:, None], swap_mask[None, :]
  return jnp.where(si, jnp.where(sj, cos.T, gyy), jnp.where(sj, gxx, cos))


def _grams(x_hat, y_hat):
  return metrics.gram(x_hat, y_hat), metrics.gram(x_hat, x_hat), metrics.gram(y_hat, y_hat)


def _measure(x_hat, y_hat, tau, grams=None, loss=None, unif=None) -> dict:
  grams = _grams(x_hat, y_hat) if grams is None else grams
  clip = _clip(grams[0], tau)
  return dict(metrics.all_metrics(x_hat, y_hat, grams, unif), clip=clip, tau=tau,
              loss=clip if loss is None else loss)


def _objective(params, spec, hp, rot, xb, yb, swap_mask, t):
  tau = tau_at(hp, params["log_scale"], t, spec.steps)
  x_hat, y_hat = _embed(spec, params["towers"], rot, xb, yb)
  grams = _grams(x_hat, y_hat)
  unif = 0.5 * (metrics.uniformity_from_gram(grams[1]) + metrics.uniformity_from_gram(grams[2]))
  loss = (_clip(swapped_cos(grams, swap_mask), tau)
          + hp["w_align"] * metrics.alignment(x_hat, y_hat) + hp["w_unif"] * unif)
  return loss, (x_hat, y_hat, tau, grams, unif)


class RunState(NamedTuple):
  """What a run carries from step to step."""
  params: dict      # {"towers": ..., "log_scale": scalar}
  opt_state: Any
  order: jax.Array  # this epoch's order of the training pairs


class RunConsts(NamedTuple):
  """What a run fixes at its start."""
  rot: jax.Array    # (D, D) text-side rotation (identity unless amended)
  k_order: jax.Array
  k_swap: jax.Array


def lr_factor(spec: Spec, t, horizon=1.0):
  """f(t): the learning-rate schedule's multiplier at step t (see the module),
  for a run whose schedule ends at H = ``horizon`` x steps: f = 0 from H on,
  so the run stops moving there (a shorter run inside the same program)."""
  t = jnp.asarray(t)
  end = horizon * spec.steps
  warm = (t + 1) / max(spec.warmup, 1)
  if spec.lr_schedule == "constant":
    after = jnp.ones_like(warm)
  else:
    u = (t - spec.warmup) / jnp.maximum(end - spec.warmup, 1)
    after = 0.5 * (1 + jnp.cos(math.pi * u))
  return jnp.where(t < end, jnp.where(t < spec.warmup, warm, after), 0.0)


def _optimizer(hp):
  adam = optax.inject_hyperparams(optax.adam)
  labels = lambda p: {"towers": jax.tree.map(lambda _: "towers", p["towers"]),
                      "log_scale": "log_scale"}
  return optax.multi_transform({"towers": adam(learning_rate=hp["lr"]),
                                "log_scale": adam(learning_rate=hp["lr_tau"])}, labels)


def _shuffle(consts: RunConsts, n: int, epoch):
  return jax.random.permutation(jax.random.fold_in(consts.k_order, epoch), n)


def start(spec: Spec, train: Pairs, evals: Pairs, hp: dict, key, params0):
  """(RunState, RunConsts) of a run at step 0 (after any Procrustes amendment)."""
  k_order, k_swap = jax.random.split(key)
  m = evals.image.shape[0]
  dtype = train.image.dtype
  x0, y0 = _embed(spec, params0, jnp.eye(_embed_dim(spec), dtype=dtype),
                  train.image[:m], train.text[:m])
  rot = jnp.where(hp["amend"] > 0, procrustes(x0, y0), jnp.eye(x0.shape[1], dtype=dtype))
  params = {"towers": params0, "log_scale": jnp.log(1.0 / hp["tau_start"]).astype(dtype)}
  consts = RunConsts(rot, k_order, k_swap)
  return RunState(params, _optimizer(hp).init(params),
                  _shuffle(consts, train.image.shape[0], 0)), consts


def step(spec: Spec, train: Pairs, hp: dict, consts: RunConsts, state: RunState, t):
  """One optimiser step at step index t: (new state, logs on the training batch)."""
  n, b = train.image.shape[0], spec.batch_size
  per_epoch = n // b
  # a new order once per epoch; t is shared by every run, so under vmap this
  # stays a real branch (a permutation per step costs as much as a small step)
  order = jax.lax.cond(t % per_epoch == 0, lambda: _shuffle(consts, n, t // per_epoch),
                       lambda: state.order)
  idx = jax.lax.dynamic_slice_in_dim(order, (t % per_epoch) * b, b)
  swap = jax.random.bernoulli(jax.random.fold_in(consts.k_swap, t), hp["swap"], (b,))
  (loss, (x_hat, y_hat, tau, grams, unif)), g = jax.value_and_grad(_objective, has_aux=True)(
      state.params, spec, hp, consts.rot, train.image[idx], train.text[idx], swap, t)
  g = dict(g, log_scale=g["log_scale"] * (hp["tau_mode"] == 1))
  updates, opt_state = _optimizer(hp).update(g, state.opt_state, state.params)
  f = lr_factor(spec, t, hp["horizon"])
  updates = jax.tree.map(lambda u: (f * u).astype(u.dtype), updates)
  params = optax.apply_updates(state.params, updates)
  return RunState(params, opt_state, order), _measure(x_hat, y_hat, tau, grams, loss, unif)


def evaluate(spec: Spec, evals: Pairs, hp: dict, consts: RunConsts, params, t) -> dict:
  """The logged quantities on the evaluation pairs, at step t's temperature."""
  tau = tau_at(hp, params["log_scale"], t, spec.steps)
  return _measure(*_embed(spec, params["towers"], consts.rot, evals.image, evals.text), tau)


def begin(spec: Spec, train: Pairs, evals: Pairs, hp: dict, key, params0):
  """A run at step 0: (RunState, RunConsts, the evaluation at step 0)."""
  state, consts = start(spec, train, evals, hp, key, params0)
  return state, consts, evaluate(spec, evals, hp, consts, state.params, 0)


def advance(spec: Spec, train: Pairs, evals: Pairs, hp: dict, consts: RunConsts,
            state: RunState, first, n_intervals: int):
  """Evaluation intervals ``first .. first + n_intervals - 1`` of a run
  (``eval_every`` steps each, then an evaluation), state in, state out:
  (state, train logs {name: (n_intervals * eval_every,)}, evaluations {name:
  (n_intervals,)}). Runs of one program in consecutive pieces equal the
  whole, so a long run can stop and go on from a checkpoint of its state."""
  def interval(state, i):
    state, logs = jax.lax.scan(functools.partial(step, spec, train, hp, consts), state,
                               i * spec.eval_every + jnp.arange(spec.eval_every))
    return state, (logs, evaluate(spec, evals, hp, consts, state.params,
                                  (i + 1) * spec.eval_every - 1))

  state, (logs, ev) = jax.lax.scan(interval, state, first + jnp.arange(n_intervals))
  return state, jax.tree.map(lambda a: a.reshape(-1), logs), ev


def train_one(spec: Spec, train: Pairs, evals: Pairs, hp: dict, key, params0):
  """One run, for vmapping: returns (final params, {"train": {name: (steps,)},
  "eval": {name: (steps // eval_every + 1,)}, "rotation": (D, D)})."""
  state, consts, first = begin(spec, train, evals, hp, key, params0)
  state, logs, ev = advance(spec, train, evals, hp, consts, state, 0,
                            spec.steps // spec.eval_every)
  history = {"train": logs,
             "eval": jax.tree.map(lambda f, r: jnp.concatenate([f[None], r]), first, ev),
             "rotation": consts.rot}
  return state.params, history


def _embed_dim(spec: Spec) -> int:
  return spec.image.cfg.embed_dim


@functools.partial(jax.jit, static_argnums=0)
def train_runs(spec: Spec, train: Pairs, evals: Pairs, hp: dict, keys, params0):
  """``train_one`` vmapped over runs (leading axis of hp, keys and params0)."""
  return jax.vmap(train_one, in_axes=(None, None, None, 0, 0, 0))(
      spec, train, evals, hp, keys, params0)


@functools.lru_cache(maxsize=16)
def segment_programs(spec: Spec, n_intervals: int):
  """(begin_runs, advance_runs): ``begin`` and ``advance`` (``n_intervals``
  per call) vmapped over runs and jitted, for a sweep that trains in
  checkpointed segments: begin_runs((hp, keys, params0), train, evals) and
  advance_runs((hp, consts, state), train, evals, first)."""
  def begin_runs(runs, tr, ev):
    return jax.vmap(functools.partial(begin, spec, tr, ev))(*runs)

  def advance_runs(runs, tr, ev, first):
    one = lambda hp, consts, state: advance(spec, tr, ev, hp, consts, state, first,
                                            n_intervals)
    return jax.vmap(one)(*runs)
  return jax.jit(begin_runs), jax.jit(advance_runs)


@functools.partial(jax.jit, static_argnums=0)
def train_single(spec: Spec, train: Pairs, evals: Pairs, hp: dict, key, params0):
  """``train_one`` jitted for one run (the baseline ``gaplab bench train`` loops)."""
  return train_one(spec, train, evals, hp, key, params0)
