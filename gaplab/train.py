"""Two-tower contrastive training as one compiled, run-vmapped program.

One *run* is a seed (tower init and batch order) plus its hyperparameters,
all arrays (``HYPER``), so one compiled program trains a whole grid:

* ``tau_mode``: 0 fixed (tau = ``tau_start``), 1 learnable (CLIP's log logit
  scale, initialised at log(1 / tau_start), clamped at scale 100), 2 linear and
  3 cosine schedules from ``tau_start`` to ``tau_end``, interpolated in log tau:
  log tau(t) = log tau_start + s(t) log(tau_end / tau_start), s(t) = t / (T - 1)
  or (1 - cos(pi t / (T - 1))) / 2;
* ``lr``: Adam's learning rate (``optax.inject_hyperparams``);
* ``swap``: modality swapping (Yaras et al. 2024): each training pair's image
  and text embeddings trade places in the loss with this probability;
* ``w_align``, ``w_unif``: weights of Wang & Isola's alignment and uniformity
  terms added to the loss (Fahim et al. 2024); uniformity is the mean of the
  two modalities';
* ``amend``: 1 amends the gap at init (Liang et al. Sec 4.2): an orthogonal
  Procrustes map W = U V^T, U S V^T = SVD(Y^T X) of the init text embeddings
  Y onto the image embeddings X (unit rows, training pairs), minimising
  |Y W - X|_F, is applied to every text embedding, frozen (not trained). The
  towers' functions at init become the amended ones; training then moves both.

The static structure (``Spec``: towers, sharing, steps, batch size, evaluation
cadence) fixes the program. The step loop is a ``lax.scan`` of ``eval_every``
steps inside a ``lax.scan`` over evaluations, so evaluation costs nothing
between its points (no ``cond`` under vmap). Loss: the symmetric CLIP InfoNCE
(``gaplab.losses``) of the batch, plus the two terms. Logged every step on the
training batch (true pairs, unswapped): loss, clip, tau and ``metrics.NAMES``;
every ``eval_every`` steps, and at step 0, the same on the fixed evaluation set
(matched pairs of the same world).
"""
from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import optax

from gaplab import losses, metrics, towers
from gaplab.pairs import Pairs

HYPER = ("tau_start", "tau_end", "tau_mode", "lr", "swap", "w_align", "w_unif", "amend")
TAU_MODES = ("fixed", "learnable", "linear", "cosine")
TRACES = {"count": 0}  # bumped each time the per-run program is traced
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


def procrustes(x_hat, y_hat):
  """The orthogonal W minimising |Y W - X|_F: U V^T from the SVD of Y^T X."""
  u, _, vt = jnp.linalg.svd(jnp.matmul(y_hat.T, x_hat, precision="highest"))
  return u @ vt


def tau_at(hp: dict, log_scale, t, steps: int):
  """The run's temperature at step t (learnable: from its parameter)."""
  frac = jnp.asarray(t / max(steps - 1, 1), jnp.asarray(hp["tau_start"]).dtype)
  s = jnp.where(hp["tau_mode"] == 2, frac, (1 - jnp.cos(math.pi * frac)) / 2)
  sched = jnp.exp(jnp.log(hp["tau_start"]) + s * jnp.log(hp["tau_end"] / hp["tau_start"]))
  learned = 1.0 / losses.logit_scale_from_log(log_scale)
  return jnp.select([hp["tau_mode"] == 0, hp["tau_mode"] == 1],
                    [hp["tau_start"], learned], sched)


def _embed(spec: Spec, params, rot, x_view, y_view):
  x, y = towers.apply_pair(spec.share, spec.image, spec.text, params, x_view, y_view)
  return losses.normalize_rows(x), losses.normalize_rows(jnp.matmul(y, rot, precision="highest"))


def _clip(x_hat, y_hat, tau):
  i2t, t2i = losses.clip_directions_from_logits(
      jnp.matmul(x_hat, y_hat.T, precision="highest") / tau)
  return 0.5 * (i2t + t2i)


def _measure(x_hat, y_hat, tau, loss=None) -> dict:
  clip = _clip(x_hat, y_hat, tau)
  return dict(metrics.all_metrics(x_hat, y_hat), clip=clip, tau=tau,
              loss=clip if loss is None else loss)


def _objective(params, spec, hp, rot, xb, yb, swap_mask, t):
  tau = tau_at(hp, params["log_scale"], t, spec.steps)
  x_hat, y_hat = _embed(spec, params["towers"], rot, xb, yb)
  xs = jnp.where(swap_mask[:, None], y_hat, x_hat)
  ys = jnp.where(swap_mask[:, None], x_hat, y_hat)
  loss = (_clip(xs, ys, tau) + hp["w_align"] * metrics.alignment(x_hat, y_hat)
          + hp["w_unif"] * 0.5 * (metrics.uniformity(x_hat) + metrics.uniformity(y_hat)))
  return loss, (x_hat, y_hat, tau)


def train_one(spec: Spec, train: Pairs, evals: Pairs, hp: dict, key, params0):
  """One run, for vmapping: returns (final params, {"train": {name: (steps,)},
  "eval": {name: (steps // eval_every + 1,)}, "rotation": (D, D)})."""
  TRACES["count"] += 1
  n, b = train.image.shape[0], spec.batch_size
  per_epoch = n // b
  k_order, k_swap = jax.random.split(key)
  x0, y0 = _embed(spec, params0, jnp.eye(_embed_dim(spec), dtype=train.image.dtype),
                  train.image[:evals.image.shape[0]], train.text[:evals.image.shape[0]])
  rot = jnp.where(hp["amend"] > 0, procrustes(x0, y0), jnp.eye(x0.shape[1], dtype=x0.dtype))
  params = {"towers": params0,
            "log_scale": jnp.log(1.0 / hp["tau_start"]).astype(train.image.dtype)}
  opt = optax.inject_hyperparams(optax.adam)(learning_rate=hp["lr"])
  opt_state = opt.init(params)
  learn = (hp["tau_mode"] == 1).astype(train.image.dtype)
  grad_fn = jax.value_and_grad(_objective, has_aux=True)

  def evaluate(params, t):
    tau = tau_at(hp, params["log_scale"], t, spec.steps)
    return _measure(*_embed(spec, params["towers"], rot, evals.image, evals.text), tau)

  def step(carry, t):
    params, opt_state = carry
    order = jax.random.permutation(jax.random.fold_in(k_order, t // per_epoch), n)
    idx = jax.lax.dynamic_slice_in_dim(order, (t % per_epoch) * b, b)
    swap = jax.random.bernoulli(jax.random.fold_in(k_swap, t), hp["swap"], (b,))
    (loss, (x_hat, y_hat, tau)), g = grad_fn(params, spec, hp, rot, train.image[idx],
                                             train.text[idx], swap, t)
    g = dict(g, log_scale=g["log_scale"] * learn)
    updates, opt_state = opt.update(g, opt_state, params)
    params = optax.apply_updates(params, updates)
    return (params, opt_state), _measure(x_hat, y_hat, tau, loss)

  def interval(carry, i):
    carry, logs = jax.lax.scan(step, carry, i * spec.eval_every + jnp.arange(spec.eval_every))
    return carry, (logs, evaluate(carry[0], (i + 1) * spec.eval_every - 1))

  n_evals = spec.steps // spec.eval_every
  (params, _), (logs, ev) = jax.lax.scan(interval, (params, opt_state), jnp.arange(n_evals))
  first = evaluate({"towers": params0, "log_scale": params["log_scale"] * 0
                    + jnp.log(1.0 / hp["tau_start"])}, 0)
  history = {"train": jax.tree.map(lambda a: a.reshape(-1), logs),
             "eval": jax.tree.map(lambda f, r: jnp.concatenate([f[None], r]), first, ev),
             "rotation": rot}
  return params, history


def _embed_dim(spec: Spec) -> int:
  return spec.image.cfg.embed_dim


@functools.partial(jax.jit, static_argnums=0)
def train_runs(spec: Spec, train: Pairs, evals: Pairs, hp: dict, keys, params0):
  """``train_one`` vmapped over runs (leading axis of hp, keys and params0)."""
  return jax.vmap(train_one, in_axes=(None, None, None, 0, 0, 0))(
      spec, train, evals, hp, keys, params0)


@functools.partial(jax.jit, static_argnums=0)
def train_single(spec: Spec, train: Pairs, evals: Pairs, hp: dict, key, params0):
  """``train_one`` jitted for one run (the baseline ``gaplab bench train`` loops)."""
  return train_one(spec, train, evals, hp, key, params0)
