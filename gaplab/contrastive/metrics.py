"""Geometry of a batch of paired embeddings, as logged during training.

All functions take the unit rows x_hat, y_hat (B, D) of paired embeddings
(row i of each is a pair; normalise with ``losses.normalize_rows`` first) and
are pure and vmap/jit-able:

* ``gap``: |mean x_hat - mean y_hat| (Liang et al.'s modality gap);
* ``paired_cos``: mean_i x_hat_i . y_hat_i;
* ``alignment``: Wang & Isola (2020), alpha = 2: mean_i |x_hat_i - y_hat_i|^2,
  summed as a difference so it keeps its relative accuracy near 0;
* ``uniformity``: Wang & Isola, t = 2: log mean_{i != j} exp(-t |u_i - u_j|^2)
  of one modality (logsumexp; the diagonal excluded);
* ``top1``: retrieval accuracy, image -> text (argmax over a row of the cosine
  matrix is the own pair) and text -> image (over a column).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

_HIGHEST = jax.lax.Precision.HIGHEST


def gap(x_hat, y_hat):
  return jnp.linalg.norm(jnp.mean(x_hat, axis=0) - jnp.mean(y_hat, axis=0))


def paired_cos(x_hat, y_hat):
  return jnp.mean(jnp.sum(x_hat * y_hat, axis=1))


def alignment(x_hat, y_hat):
  return jnp.mean(jnp.sum((x_hat - y_hat) ** 2, axis=1))


def gram(u_hat, v_hat):
  """u_hat @ v_hat.T at full matmul precision."""
  return jnp.matmul(u_hat, v_hat.T, precision=_HIGHEST)


def uniformity_from_gram(g, t: float = 2.0):
  """``uniformity`` from the Gram matrix G = u_hat u_hat^T of unit rows:
  |u_i - u_j|^2 = 2 - 2 G_ij."""
  b = g.shape[0]
  logits = jnp.where(jnp.eye(b, dtype=bool), -jnp.inf, -t * jnp.maximum(2 - 2 * g, 0.0))
  return jax.nn.logsumexp(logits) - math.log(b * (b - 1))


def uniformity(u_hat, t: float = 2.0):
  """log mean_{i != j} exp(-t |u_i - u_j|^2) of unit rows; needs B >= 2."""
  return uniformity_from_gram(gram(u_hat, u_hat), t)


def top1_from_cos(cos):
  """(image -> text, text -> image) top-1 accuracy of a cosine matrix (rows images)."""
  idx = jnp.arange(cos.shape[0])
  return (jnp.mean(jnp.argmax(cos, axis=1) == idx),
          jnp.mean(jnp.argmax(cos, axis=0) == idx))


def top1(x_hat, y_hat):
  """(image -> text, text -> image) top-1 retrieval accuracy."""
  return top1_from_cos(gram(x_hat, y_hat))


NAMES = ("gap", "paired_cos", "alignment", "uniformity", "top1")


def all_metrics(x_hat, y_hat, grams=None, unif=None) -> dict:
  """Every metric above; uniformity is the mean over the two modalities and
  top1 the mean of the two directions. ``grams`` = (x y^T, x x^T, y y^T) and
  that mean uniformity ``unif``, if already computed, are reused."""
  cos, gxx, gyy = grams if grams is not None else (
      gram(x_hat, y_hat), gram(x_hat, x_hat), gram(y_hat, y_hat))
  i2t, t2i = top1_from_cos(cos)
  return {"gap": gap(x_hat, y_hat), "paired_cos": paired_cos(x_hat, y_hat),
          "alignment": alignment(x_hat, y_hat),
          "uniformity": (0.5 * (uniformity_from_gram(gxx) + uniformity_from_gram(gyy))
                         if unif is None else unif),
          "top1": 0.5 * (i2t + t2i)}
