"""The two towers of a contrastive model: MLPs (default) or registered encoders.

A ``Tower`` is a pair of pure functions, ``init(key) -> params`` and
``apply(params, view) -> embedding (B, embed_dim)``, plus the size of the view
it reads (``gaplab.contrastive.pairs``). Every kind vmaps over a leading seed axis.

MLP tower (the foundation's random MLP, Fig 2b's init law, then CLIP's linear
projection): depth layers h <- phi(h W + b), W ~ N(0, sigma_w^2 / fan_in),
b ~ N(0, sigma_b^2), the depth - 1 square layers a ``lax.scan`` (the forward
pass is ``gaplab.nets.mlp``); then emb = h P, P ~ N(0, 1 / width), no bias. Params:
``{"inp": {"w", "b"}, "hidden": {"w": (L-1, W, W), "b": (L-1, W)}, "proj": {"w"}}``.

Encoder towers (``resnet``, ``vit``, ``text``) are ``gaplab.encoders`` (flax
NNX) states; the view goes through ``pairs.adapt`` (images or tokens).

Sharing (AlignCLIP-style), ``share``: ``none``; ``all`` (one tower embeds both
modalities; both must be the same kind and size); ``hidden`` (MLP only: the
square hidden layers are shared, each modality keeps its input layer and
projection).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp

from gaplab.nets import activations
from gaplab.nets import mlp
from gaplab.contrastive import pairs
from gaplab._errors import ConfigError
from gaplab.configs import Config, check_int, check_number

KINDS = ("mlp", "resnet", "vit", "text")
SHARES = ("none", "all", "hidden")
_HIGHEST = jax.lax.Precision.HIGHEST


@dataclasses.dataclass(frozen=True)
class Tower:
  kind: str
  cfg: Any               # MLPConfig or the encoder's config
  view_dim: int
  init: Callable         # key -> params
  apply: Callable        # (params, view (B, view_dim)) -> (B, embed_dim)


@dataclasses.dataclass(frozen=True)
class MLPConfig(Config):
  view_dim: int = 64         # size of the view the tower reads
  width: int = 128           # hidden width W
  depth: int = 3             # layers h <- phi(h W + b), the input layer included
  embed_dim: int = 32        # size of the output embedding (the projection's)
  activation: str = "relu"   # phi: an elementwise one of gaplab.nets.activations, name[:param]
  sigma_w: float = 1.0       # weight gain: W ~ N(0, sigma_w^2 / fan_in)
  sigma_b: float = 1 / math.sqrt(512)  # bias std, absolute: b ~ N(0, sigma_b^2)

  def validate(self):
    for f in ("view_dim", "width", "depth", "embed_dim"):
      check_int(f, getattr(self, f))
    if activations.get(activations.parse(self.activation).name).arity != 1:
      raise ConfigError("activation", f"expected an elementwise activation, got {self.activation!r}")
    for f in ("sigma_w", "sigma_b"):
      check_number(f, getattr(self, f))
    return self


def mlp_init(cfg: MLPConfig, key, dtype=jnp.float32) -> dict:
  ki, kb, kh, khb, kp = jax.random.split(key, 5)
  w, d = cfg.width, cfg.depth
  n = lambda k, shape, std: std * jax.random.normal(k, shape, dtype)
  return {"inp": {"w": n(ki, (cfg.view_dim, w), cfg.sigma_w / math.sqrt(cfg.view_dim)),
                  "b": n(kb, (w,), cfg.sigma_b)},
          "hidden": {"w": n(kh, (d - 1, w, w), cfg.sigma_w / math.sqrt(w)),
                     "b": n(khb, (d - 1, w), cfg.sigma_b)},
          "proj": {"w": n(kp, (w, cfg.embed_dim), 1 / math.sqrt(w))}}


def mlp_apply(cfg: MLPConfig, params: dict, view):
  """The tower's forward pass (``gaplab.nets.mlp``) at HIGHEST matmul precision."""
  spec = activations.parse(cfg.activation)
  phi = lambda z: activations.get(spec.name).fn(z, spec.param)
  h = mlp.layer(view, params["inp"]["w"], params["inp"]["b"], phi, _HIGHEST)
  h, _ = mlp.forward(h, (params["hidden"]["w"], params["hidden"]["b"]), phi,
                     precision=_HIGHEST)
  return jnp.matmul(h, params["proj"]["w"], precision=_HIGHEST)


@functools.lru_cache(maxsize=64)
def build(kind: str, cfg) -> Tower:
  """The tower of ``kind`` with config ``cfg`` (an ``MLPConfig`` for mlp, an
  encoder config from ``gaplab.encoders.config`` otherwise). Cached, so equal
  configs give the same tower and a training program compiles once."""
  if kind not in KINDS:
    raise ConfigError("encoder", f"expected one of {', '.join(KINDS)}, got {kind!r}")
  if kind == "mlp":
    return Tower(kind, cfg, cfg.view_dim, lambda key: mlp_init(cfg, key),
                 lambda p, v: mlp_apply(cfg, p, v))
  from gaplab import encoders
  enc = encoders.build(kind, cfg)
  book = pairs.codebook(jax.random.key(0), cfg) if kind == "text" else None
  return Tower(kind, cfg, pairs.adapter_dim(kind, cfg), enc.init,
               lambda p, v: enc.apply(p, pairs.adapt(kind, cfg, v, book))[0])


def check_share(share: str, image: Tower, text: Tower) -> None:
  if share not in SHARES:
    raise ConfigError("share", f"expected one of {', '.join(SHARES)}, got {share!r}")
  if share == "all" and (image.kind != text.kind or image.cfg != text.cfg):
    raise ConfigError("share", "expected identical image and text towers for share=all, "
                      f"got {image.kind} {image.cfg} and {text.kind} {text.cfg}")
  if share == "hidden" and not (image.kind == text.kind == "mlp" and
                                (image.cfg.width, image.cfg.depth, image.cfg.activation)
                                == (text.cfg.width, text.cfg.depth, text.cfg.activation)):
    raise ConfigError("share", "expected two MLP towers of the same width, depth and "
                      "activation for share=hidden")


def init_pair(share: str, image: Tower, text: Tower, key) -> dict:
  """Parameters of both towers: ``{"image": ..., "text": ...}`` minus what is shared."""
  ki, kt = jax.random.split(key)
  p_img = image.init(ki)
  if share == "all":
    return {"image": p_img}
  p_txt = text.init(kt)
  if share == "hidden":
    p_txt = {"inp": p_txt["inp"], "proj": p_txt["proj"]}
  return {"image": p_img, "text": p_txt}


def apply_pair(share: str, image: Tower, text: Tower, params: dict, x_view, y_view):
  """(image embeddings, text embeddings), unnormalised."""
  p_txt = params["image"] if share == "all" else params["text"]
  if share == "hidden":
    p_txt = dict(p_txt, hidden=params["image"]["hidden"])
  return image.apply(params["image"], x_view), text.apply(p_txt, y_view)
