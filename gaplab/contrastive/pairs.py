"""Synthetic paired data for two-tower training: one latent, two nonlinear views.

For pair i a latent z_i in R^k is drawn, N(0, I_k), or, with ``n_classes`` = C > 0,
z_i = m_{c_i} + ``class_spread`` * N(0, I_k) with class means m_c ~ N(0, I_k)
and labels c_i uniform. Each modality m in {image, text} sees its own fixed
random nonlinear view of the latent plus its own noise:

    view_m(z) = tanh(z A_m) + noise * N(0, I_V),   A_m ~ N(0, gain^2 / k), (k, V)

so the two views share information only through z. The maps and class means
are the task's ``World`` (one key); training and evaluation pairs are draws
from one world with different keys. A fraction ``mismatch`` of
the pairs is mismatched: round(mismatch * n) pairs, chosen at random, have their
texts cyclically shifted among themselves (pair j_r's text is drawn from the
latent of pair j_{r+1}), a derangement, so no mismatched pair keeps its own
latent. ``partner[i]`` is the index of the latent that text i was drawn from.

Encoders other than MLPs read the view through an input adapter: images reshape
a view of size H*W*C to NHWC; tokens take, per position, the argmax over the
vocabulary of the position's ``TOKEN_CHUNK`` view entries times a fixed random
codebook (so similar latents give similar token sequences).
"""
from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gaplab._errors import ConfigError

TOKEN_CHUNK = 8  # view entries per token position for the text encoder's adapter


class Pairs(NamedTuple):
  """A paired dataset (a pytree); rows of ``image`` and ``text`` are pairs."""
  image: jax.Array    # (n, V_image) view of the image modality
  text: jax.Array     # (n, V_text) view of the text modality
  latent: jax.Array   # (n, k) the latent of each pair (the image's)
  labels: jax.Array   # (n,) class ids (all 0 when n_classes == 0)
  partner: jax.Array  # (n,) index of the latent text i was drawn from

  @property
  def mismatched(self):
    return self.partner != jnp.arange(self.partner.shape[0])


def check_data(n: int, *, latent_dim: int, view_dims, noise: float, mismatch: float,
               n_classes: int, class_spread: float, gain: float) -> None:
  for field, v, lo in (("n", n, 2), ("latent_dim", latent_dim, 1), ("n_classes", n_classes, 0)):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
      raise ConfigError(field, f"expected an integer >= {lo}, got {v!r}")
  for v in view_dims:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
      raise ConfigError("view_dim", f"expected an integer >= 1, got {v!r}")
  if not 0.0 <= mismatch <= 1.0:
    raise ConfigError("mismatch", f"expected a fraction in [0, 1], got {mismatch!r}")
  if 0 < round(mismatch * n) < 2:
    raise ConfigError("mismatch", f"expected 0 or at least 2 mismatched pairs (a pair "
                      f"cannot be mismatched alone), got round({mismatch} * {n}) = 1")
  for field, v in (("noise", noise), ("class_spread", class_spread), ("gain", gain)):
    if not (math.isfinite(v) and v >= 0):
      raise ConfigError(field, f"expected a finite value >= 0, got {v!r}")


@dataclasses.dataclass(frozen=True)
class World:
  """What every draw of one synthetic task shares: the view maps and class means."""
  a_image: jax.Array      # (k, V_image)
  a_text: jax.Array       # (k, V_text)
  class_means: jax.Array  # (C, k); (0, k) without classes


def world(key, *, latent_dim: int = 8, view_dims=(64, 64), n_classes: int = 0,
          gain: float = 2.0, dtype=jnp.float32) -> World:
  """Fixed view matrices A_m ~ N(0, gain^2 / k) and class means m_c ~ N(0, I_k)."""
  ka, kb, kc = jax.random.split(key, 3)
  scale = gain / math.sqrt(latent_dim)
  a_img, a_txt = (scale * jax.random.normal(k, (latent_dim, v), dtype)
                  for k, v in zip((ka, kb), view_dims))
  return World(a_img, a_txt, jax.random.normal(kc, (n_classes, latent_dim), dtype))


def derangement(key, n: int, m):
  """sigma (n,): a random m-subset cycled i_1 -> i_2 -> ... -> i_m -> i_1 (no
  fixed points among them), the rest fixed. ``m`` may be traced; m = 0 (or 1)
  leaves sigma the identity."""
  perm = jax.random.permutation(key, n)
  k = jnp.arange(n)
  nxt = jnp.where(k < m, (k + 1) % jnp.maximum(m, 1), k)
  return jnp.zeros(n, perm.dtype).at[perm].set(perm[nxt])


def make_pairs(key, n: int, w: World, *, noise: float = 0.1, mismatch: float = 0.0,
               class_spread: float = 0.5) -> Pairs:
  """``n`` pairs of world ``w``, drawn with ``key``."""
  k, n_classes = w.class_means.shape[1], w.class_means.shape[0]
  view_dims = (w.a_image.shape[1], w.a_text.shape[1])
  check_data(n, latent_dim=k, view_dims=view_dims, noise=noise, mismatch=mismatch,
             n_classes=n_classes, class_spread=class_spread, gain=0.0)
  dtype = w.a_image.dtype
  k_lat, k_cls, k_mis, k_ni, k_nt = jax.random.split(key, 5)
  if n_classes:
    labels = jax.random.randint(k_cls, (n,), 0, n_classes)
    z = w.class_means[labels] + class_spread * jax.random.normal(k_lat, (n, k), dtype)
  else:
    labels = jnp.zeros((n,), jnp.int32)
    z = jax.random.normal(k_lat, (n, k), dtype)
  partner = derangement(k_mis, n, int(round(mismatch * n)))
  image = jnp.tanh(z @ w.a_image) + noise * jax.random.normal(k_ni, (n, view_dims[0]), dtype)
  text = jnp.tanh(z[partner] @ w.a_text) + noise * jax.random.normal(k_nt, (n, view_dims[1]), dtype)
  return Pairs(image=image, text=text, latent=z, labels=labels, partner=partner)


# ----------------------------------------------------------------- input adapters
def adapter_dim(kind: str, cfg) -> int:
  """The view size an encoder of ``kind`` ("mlp" cfg = its input dim) reads."""
  if kind == "mlp":
    return int(cfg)
  if kind in ("resnet", "vit"):
    return cfg.image_size * cfg.image_size * cfg.channels
  if kind == "text":
    return cfg.length * TOKEN_CHUNK
  raise ConfigError("encoder", f"expected mlp, resnet, vit or text, got {kind!r}")


def adapt(kind: str, cfg, view, codebook=None):
  """A batch of views (B, V) as the encoder's input (images, tokens or as is)."""
  if kind == "mlp":
    return view
  if kind in ("resnet", "vit"):
    return view.reshape(view.shape[0], cfg.image_size, cfg.image_size,
                        cfg.channels).astype(cfg.dtype)
  chunks = view.reshape(view.shape[0], cfg.length, TOKEN_CHUNK)
  return jnp.argmax(chunks @ codebook, axis=-1).astype(jnp.int32)


def codebook(key, cfg):
  """The text adapter's fixed (TOKEN_CHUNK, vocab) codebook."""
  return jax.random.normal(key, (TOKEN_CHUNK, cfg.vocab))
