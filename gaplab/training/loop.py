"""Two-tower contrastive training as one compiled, run-vmapped program.

One *run* is a seed (tower init and batch order) plus its hyperparameters,
all arrays (``HYPER``), so one compiled program trains a whole grid:

* ``tau_mode``: 0 fixed (tau = ``tau_start``), 1 learnable (CLIP's log logit
  scale, initialised at log(1 / tau_start), clamped at scale 100), 2 linear and
  3 cosine schedules from ``tau_start`` to ``tau_end``, interpolated in log tau:
  log tau(t) = log tau_start + s(u) log(tau_end / tau_start), s(u) = u or
  (1 - cos(pi u)) / 2, u = min(1, t / (``tau_ramp`` (T - 1))): the schedule
  reaches tau_end at the fraction ``tau_ramp`` of training and holds it after;
* ``lr``, ``lr_tau``: Adam's learning rates (``optax.scale_by_adam`` times a traced rate) of
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
(``gaplab.contrastive.losses``) of the batch, plus the two terms.

Optional parts are static (``Spec.terms``, from the grid by ``for_runs``): a
program whose runs never swap (``swap`` = 0), never weight alignment or
uniformity (``w_align``, ``w_unif`` = 0) or never amend compiles without them;
their contribution is exactly 0 there, so the numbers are those of the full
program up to float32 summation order (the swap draws have keys of their own).

Logged on the training batch (true pairs, unswapped): loss, clip and tau every
step (by-products of the loss); ``metrics.NAMES`` (gap, paired cosine,
alignment, uniformity, top-1: two more Gram matrices, a logsumexp and two
argmaxes over the batch) every ``log_every`` steps, at steps 0, k, 2k, ...,
inside a ``cond`` on the step index (shared by every run, so under vmap it stays a
branch: the other steps skip it) and NaN in between; ``thin`` reduces such
per-step logs to one entry per window of k steps (loss, clip, tau: the window
mean; the metrics: their value at the window's first step). Every
``eval_every`` steps, and at step 0, everything on the fixed evaluation set
(matched pairs of the same world).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gaplab.contrastive import losses
from gaplab.contrastive import metrics
import optax
from gaplab.training import towers
from gaplab.contrastive.pairs import Pairs

HYPER = ("tau_start", "tau_end", "tau_mode", "tau_ramp", "lr", "lr_tau", "horizon", "swap",
         "w_align", "w_unif", "amend")
TAU_MODES = ("fixed", "learnable", "linear", "cosine")
LR_SCHEDULES = ("constant", "cosine")
LOGGED = ("loss", "clip", "tau") + metrics.NAMES
EVERY_STEP = ("loss", "clip", "tau")  # logged every step; metrics.NAMES every log_every
# optional parts of the program, by the hyperparameter that switches them on
TERMS = {"swap": "swap", "align": "w_align", "unif": "w_unif", "amend": "amend"}


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
  log_every: int = 1  # training-batch metrics at steps 0, k, 2k, ... (a divisor of steps)
  terms: tuple = tuple(TERMS)  # the optional parts compiled in (``for_runs``)


def terms_of(hp: dict) -> tuple:
  """The optional parts (``TERMS``) some run of ``hp`` uses (its switch > 0);
  all of them when ``hp`` is traced (its values unknown)."""
  if any(isinstance(hp[k], jax.core.Tracer) for k in TERMS.values()):
    return tuple(TERMS)
  return tuple(t for t, k in TERMS.items() if np.any(np.asarray(hp[k]) > 0))


def for_runs(spec: Spec, hp: dict) -> Spec:
  """``spec`` compiling only the optional parts the runs ``hp`` use."""
  return dataclasses.replace(spec, terms=terms_of(hp))


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
  """Unit image and text embeddings, the text side through ``rot`` (the identity,
  not applied, when the program has no amendment)."""
  x, y = towers.apply_pair(spec.share, spec.image, spec.text, params, x_view, y_view)
  if "amend" in spec.terms:
    y = jnp.matmul(y, rot, precision="highest")
  return losses.normalize_rows(x), losses.normalize_rows(y)


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


def _mean_unif(grams):
  return 0.5 * (metrics.uniformity_from_gram(grams[1]) + metrics.uniformity_from_gram(grams[2]))


def _measure(x_hat, y_hat, tau, grams=None, loss=None, unif=None) -> dict:
  grams = _grams(x_hat, y_hat) if grams is None else grams
  clip = _clip(grams[0], tau)
  return dict(metrics.all_metrics(x_hat, y_hat, grams, unif), clip=clip, tau=tau,
              loss=clip if loss is None else loss)


def _objective(params, spec, hp, rot, xb, yb, swap_mask, t):
  """(loss, (x_hat, y_hat, tau, grams, unif)): grams = (x y^T, x x^T, y y^T),
  or (x y^T,) alone when neither swapping nor uniformity needs the other two."""
  tau = tau_at(hp, params["log_scale"], t, spec.steps)
  x_hat, y_hat = _embed(spec, params["towers"], rot, xb, yb)
  swap, unif_on = "swap" in spec.terms, "unif" in spec.terms
  grams = _grams(x_hat, y_hat) if swap or unif_on else (metrics.gram(x_hat, y_hat),)
  loss = _clip(swapped_cos(grams, swap_mask) if swap else grams[0], tau)
  if "align" in spec.terms:
    loss = loss + hp["w_align"] * metrics.alignment(x_hat, y_hat)
  unif = _mean_unif(grams) if unif_on else None
  if unif_on:
    loss = loss + hp["w_unif"] * unif
  return loss, (x_hat, y_hat, tau, grams, unif)


def _batch_logs(spec: Spec, t, x_hat, y_hat, tau, grams, loss, unif) -> dict:
  """``LOGGED`` on the training batch at step t: ``EVERY_STEP`` always, the
  metrics at steps 0, k, 2k, ... (k = ``log_every``; NaN elsewhere)."""
  def measure(x_hat, y_hat, grams, unif):
    full = grams if len(grams) == 3 else _grams(x_hat, y_hat)
    return metrics.all_metrics(x_hat, y_hat, full, unif)
  ops = (x_hat, y_hat, grams, unif)
  if spec.log_every == 1:
    geo = measure(*ops)
  else:
    nan = lambda *_: jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype),
                                  jax.eval_shape(measure, *ops))
    geo = jax.lax.cond(t % spec.log_every == 0, measure, nan, *ops)
  return dict(geo, clip=_clip(grams[0], tau), tau=tau, loss=loss)


def thin(logs: dict, k: int) -> dict:
  """Per-step training logs {name: (..., steps)} as {name: (..., steps / k)}:
  ``EVERY_STEP`` names as means over windows of k consecutive steps (NumPy
  input: summed in float64, returned in its dtype), the metrics at each
  window's first step (where ``step`` measured them)."""
  if k == 1:
    return logs
  out = {}
  for name, a in logs.items():
    w = a.reshape(*a.shape[:-1], -1, k)
    if name not in EVERY_STEP:
      out[name] = w[..., 0]
    elif isinstance(a, np.ndarray):
      out[name] = w.mean(-1, dtype=np.float64).astype(a.dtype)
    else:
      out[name] = w.mean(-1)
  return out


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


# Adam's direction (optax.scale_by_adam, its defaults) times a traced learning
# rate per subtree. optax's multi_transform of two inject_hyperparams Adams is
# the same arithmetic in many more small operations, and compiling them took
# about half of the training step's compile time on CPU.
_ADAM = optax.scale_by_adam()


def _learning_rates(hp):
  return {"towers": hp["lr"], "log_scale": hp["lr_tau"]}


def _shuffle(consts: RunConsts, n: int, epoch):
  return jax.random.permutation(jax.random.fold_in(consts.k_order, epoch), n)


def start(spec: Spec, train: Pairs, evals: Pairs, hp: dict, key, params0):
  """(RunState, RunConsts) of a run at step 0 (after any Procrustes amendment;
  ``order`` is a placeholder: every epoch's first step, step 0 too, draws it)."""
  k_order, k_swap = jax.random.split(key)
  m = evals.image.shape[0]
  dtype = train.image.dtype
  eye = jnp.eye(_embed_dim(spec), dtype=dtype)
  rot = eye
  if "amend" in spec.terms:
    x0, y0 = _embed(spec, params0, eye, train.image[:m], train.text[:m])
    rot = jnp.where(hp["amend"] > 0, procrustes(x0, y0), eye)
  params = {"towers": params0, "log_scale": jnp.log(1.0 / hp["tau_start"]).astype(dtype)}
  # step 0 draws the first epoch's order (one copy of the shuffle in the program)
  order = jnp.arange(train.image.shape[0])
  return RunState(params, _ADAM.init(params), order), RunConsts(rot, k_order, k_swap)


def step(spec: Spec, train: Pairs, hp: dict, consts: RunConsts, state: RunState, t):
  """One optimiser step at step index t: (new state, logs on the training batch,
  ``_batch_logs``). Under vmap, t must be shared by the runs (unbatched)."""
  n, b = train.image.shape[0], spec.batch_size
  per_epoch = n // b
  # a new order once per epoch; t is shared by every run, so under vmap this
  # stays a real branch (a permutation per step costs as much as a small step)
  order = jax.lax.cond(t % per_epoch == 0, lambda: _shuffle(consts, n, t // per_epoch),
                       lambda: state.order)
  idx = jax.lax.dynamic_slice_in_dim(order, (t % per_epoch) * b, b)
  swap = (jax.random.bernoulli(jax.random.fold_in(consts.k_swap, t), hp["swap"], (b,))
          if "swap" in spec.terms else None)
  (loss, (x_hat, y_hat, tau, grams, unif)), g = jax.value_and_grad(_objective, has_aux=True)(
      state.params, spec, hp, consts.rot, train.image[idx], train.text[idx], swap, t)
  g = dict(g, log_scale=g["log_scale"] * (hp["tau_mode"] == 1))
  direction, opt_state = _ADAM.update(g, state.opt_state)
  updates = {k: jax.tree.map(lambda d, lr=lr: (-1 * lr) * d, direction[k])
             for k, lr in _learning_rates(hp).items()}
  f = lr_factor(spec, t, hp["horizon"])
  updates = jax.tree.map(lambda u: (f * u).astype(u.dtype), updates)
  params = jax.tree.map(lambda p, u: (p + u).astype(p.dtype), state.params, updates)
  return RunState(params, opt_state, order), _batch_logs(spec, t, x_hat, y_hat, tau, grams,
                                                        loss, unif)


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
  (state, per-step train logs {name: (n_intervals * eval_every,)} (``step``;
  ``thin`` them by ``log_every`` when the first step is a multiple of it),
  evaluations {name: (n_intervals,)}). Runs of one program in consecutive
  pieces equal the whole, so a long run can stop and go on from a checkpoint
  of its state."""
  def interval(state, i):
    state, logs = jax.lax.scan(functools.partial(step, spec, train, hp, consts), state,
                               i * spec.eval_every + jnp.arange(spec.eval_every))
    return state, (logs, evaluate(spec, evals, hp, consts, state.params,
                                  (i + 1) * spec.eval_every - 1))

  state, (logs, ev) = jax.lax.scan(interval, state, first + jnp.arange(n_intervals))
  return state, jax.tree.map(lambda a: a.reshape(-1), logs), ev


def train_one(spec: Spec, train: Pairs, evals: Pairs, hp: dict, key, params0):
  """One run, for vmapping: returns (final params, {"train": {name: (steps //
  log_every,)} (``thin``), "eval": {name: (steps // eval_every + 1,)},
  "rotation": (D, D)})."""
  state, consts, first = begin(spec, train, evals, hp, key, params0)
  state, logs, ev = advance(spec, train, evals, hp, consts, state, 0,
                            spec.steps // spec.eval_every)
  history = {"train": thin(logs, spec.log_every),
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
