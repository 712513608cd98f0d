"""Linear separability of two modalities: held-out accuracy of a logistic
regression that tells a row of modality a (label 0) from one of b (label 1).

Protocol (``separability``):

1. above ``max_rows`` pairs, a random subset of ``max_rows`` pairs;
2. the pairs are split at random into train and test (``test_fraction`` of the
   pairs to test); both rows of a pair go to the same side, so no test row has
   its partner in training;
3. every feature is standardised with the train rows' mean and standard
   deviation (a constant feature gets scale 1);
4. a logistic regression p(b | x) = sigmoid(w.z + c) is fit by full-batch
   L-BFGS (``optax.lbfgs``, zoom line search, jitted; at most ``steps``
   iterations, fewer once |gradient| <= 1e-6) on
   mean_i BCE(w.z_i + c, y_i) + (l2 / 2) |w|^2 (the bias is not penalised);
5. ``accuracy`` is the fraction of test rows with (w.z + c > 0) == y, with the
   binomial standard error sqrt(p (1 - p) / n_test) (n_test counts rows, two per
   test pair; the two rows of a pair are not independent, so it is nominal).

Fahim et al. 2024 (``abrar-fahim/contrastive-gap``, src/evaluator.py,
``get_linear_seperability``): unit rows, one random permutation of the pairs
split into train and test with the same indices for both modalities (so also
no leakage), train = the two modalities' rows stacked with labels 0 (image) /
1 (text), then sklearn ``LogisticRegression(random_state=seed)`` with its
defaults (L2 penalty with C = 1, i.e. sum of log-losses + |w|^2 / 2, lbfgs at
most 100 iterations) and ``clf.score`` on the test rows. The versions of that
file differ on the split: ``n_train = int(0.8 N)`` in one, ``int(0.2 N)`` (its
comment: "train on 20% of the data and test on 80%") in another. Ours differs
in: standardised features (theirs are raw unit rows), a weak penalty on the
mean loss (l2 = 1e-4; theirs, written our way, is l2 = 1/N_train with N_train
train rows, i.e. much stronger for small sets), an iteration budget (500), a row subset for large N, and a
standard error. With test_fraction = 0.2 our split is their 80/20 one.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gaplab.embeddings.blocks import f64, row_blocks, subset

BLOCK = 32768
# Stop L-BFGS when the gradient norm falls to this (float32 gradients of a
# mean loss are resolved to ~1e-7; below 1e-6 further steps change nothing).
TOL = 1e-6


@functools.partial(jax.jit, static_argnames=("steps",))
def _fit(z, y, l2, steps: int, tol: float = TOL):
  """(w, c, iterations) minimising mean BCE(z w + c, y) + l2/2 |w|^2 by L-BFGS
  from zero, until |gradient| <= tol or ``steps`` iterations."""
  def loss(p):
    w, c = p
    logits = jnp.matmul(z, w, precision=jax.lax.Precision.HIGHEST) + c
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, y)) + 0.5 * l2 * jnp.sum(w * w)

  opt = optax.lbfgs()
  value_and_grad = optax.value_and_grad_from_state(loss)

  def step(carry):
    p, state, i, _ = carry
    value, grad = value_and_grad(p, state=state)
    updates, state = opt.update(grad, state, p, value=value, grad=grad, value_fn=loss)
    return optax.apply_updates(p, updates), state, i + 1, optax.tree.norm(grad)

  def going(carry):
    _, _, i, gnorm = carry
    return (i < steps) & (gnorm > tol)

  p0 = (jnp.zeros(z.shape[1], z.dtype), jnp.zeros((), z.dtype))
  p, _, i, _ = jax.lax.while_loop(going, step, (p0, opt.init(p0), 0, jnp.array(jnp.inf, z.dtype)))
  return p[0], p[1], i


def _standardiser(x: np.ndarray, block: int = BLOCK):
  """(mean, scale) of the rows of ``x`` in float64 over row blocks; scale is
  the population standard deviation, 1 where it is zero."""
  n = x.shape[0]
  mean = np.zeros(x.shape[1])
  for s in row_blocks(n, block):
    mean += f64(x[s]).sum(axis=0)
  mean /= n
  var = np.zeros(x.shape[1])
  for s in row_blocks(n, block):
    var += np.sum((f64(x[s]) - mean) ** 2, axis=0)
  sd = np.sqrt(var / n)
  return mean, np.where(sd > 0, sd, 1.0)


def _accuracy(x, y, mean, scale, w, c, block: int = BLOCK) -> float:
  """Fraction of rows of ``x`` with (w.z + c > 0) == y, z standardised."""
  hits = 0
  for s in row_blocks(x.shape[0], block):
    logits = ((f64(x[s]) - mean) / scale) @ w + c
    hits += int(np.sum((logits > 0) == (y[s] == 1)))
  return hits / x.shape[0]


def separability(a, b, key, *, test_fraction: float = 0.2, max_rows: int = 20000,
                 steps: int = 500, l2: float = 1e-4) -> dict:
  """Held-out accuracy of a linear classifier of modality (a: 0, b: 1), by the
  protocol of the module docstring, randomness from the typed key ``key``.

  Returns {"accuracy", "stderr", "n_train", "n_test" (rows, two per pair),
  "train_accuracy", "n_pairs" (pairs used), "iterations" (L-BFGS steps run)}.
  """
  a, b = np.asarray(a), np.asarray(b)
  if a.ndim != 2 or b.shape != a.shape:
    raise ValueError(f"Expected a, b of one shape (N, D), got {a.shape}, {b.shape}")
  if not 0 < test_fraction < 1:
    raise ValueError(f"Expected 0 < test_fraction < 1, got {test_fraction}")
  if steps < 1 or max_rows < 2 or not l2 >= 0:
    raise ValueError(f"Expected steps >= 1, max_rows >= 2, l2 >= 0, got {steps}, {max_rows}, {l2}")
  k_sub, k_split = jax.random.split(key)
  idx = subset(k_sub, a.shape[0], max_rows)
  m = len(idx)
  if m < 2:
    raise ValueError(f"Expected at least 2 pairs, got {m}")
  n_test = min(max(int(round(test_fraction * m)), 1), m - 1)
  perm = idx[np.asarray(jax.random.permutation(k_split, m))]
  test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
  x_tr = np.concatenate([a[train], b[train]])
  y_tr = np.repeat(np.array([0, 1]), len(train))
  mean, scale = _standardiser(x_tr)
  z = np.empty(x_tr.shape, np.float32)
  for s in row_blocks(len(x_tr), BLOCK):
    z[s] = (f64(x_tr[s]) - mean) / scale
  w, c, iters = _fit(jnp.asarray(z), jnp.asarray(y_tr, jnp.float32), jnp.float32(l2), steps)
  w, c = f64(w), float(c)
  x_te = np.concatenate([a[test], b[test]])
  y_te = np.repeat(np.array([0, 1]), n_test)
  acc = _accuracy(x_te, y_te, mean, scale, w, c)
  return {"accuracy": acc, "stderr": math.sqrt(acc * (1 - acc) / len(x_te)),
          "n_train": int(len(x_tr)), "n_test": int(len(x_te)),
          "train_accuracy": _accuracy(x_tr, y_tr, mean, scale, w, c),
          "n_pairs": int(m), "iterations": int(iters)}
