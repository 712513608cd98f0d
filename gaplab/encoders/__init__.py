"""Random-init encoders beyond MLPs (flax NNX): a small ResNet, a ViT and a
causal text Transformer, as pure ``init``/``apply`` functions for vmapping seeds.

>>> enc = encoders.build("vit", encoders.config("vit", depth=2))
>>> states = jax.vmap(enc.init)(jax.random.split(jax.random.key(0), 3))
>>> x = enc.inputs(jax.random.key(1), 256)
>>> emb, layers = jax.vmap(enc.apply, in_axes=(0, None))(states, x)
"""
from __future__ import annotations

from gaplab._errors import ConfigError
from gaplab.encoders import resnet, text, vit
from gaplab.encoders.base import Encoder
from gaplab.encoders.resnet import ResNetConfig
from gaplab.encoders.text import TextConfig
from gaplab.encoders.vit import ViTConfig

NAMES = ("resnet", "vit", "text")
SIZES = ("default", "tiny")
# seconds-long sizes of every architecture (the tiny presets and tests)
TINY = {"resnet": dict(image_size=8, widths=(4, 8), embed_dim=8),
        "vit": dict(image_size=8, patch=4, dim=16, depth=2, heads=2, embed_dim=8),
        "text": dict(vocab=50, length=6, dim=16, depth=2, heads=2, embed_dim=8)}
_MODULES = {"resnet": resnet, "vit": vit, "text": text}
CONFIGS = {"resnet": ResNetConfig, "vit": ViTConfig, "text": TextConfig}


def _check_name(name) -> None:
  if name not in NAMES:
    raise ConfigError("encoder", f"expected one of {', '.join(NAMES)}, got {name!r}")


def config(name: str, **overrides):
  """The config of architecture ``name`` with ``overrides`` (unknown keys rejected)."""
  _check_name(name)
  return CONFIGS[name].from_dict(overrides)


def build(name: str, cfg=None) -> Encoder:
  """The ``Encoder`` of architecture ``name`` (default config when ``cfg`` is None)."""
  _check_name(name)
  cfg = config(name) if cfg is None else cfg
  if not isinstance(cfg, CONFIGS[name]):
    raise ConfigError("config", f"expected a {CONFIGS[name].__name__} for {name!r}, "
                      f"got {type(cfg).__name__}")
  return _MODULES[name].build(cfg)


def check_names(names, field: str = "encoders") -> None:
  """Raises ConfigError naming ``field`` unless every name is registered."""
  for name in names:
    if name not in NAMES:
      raise ConfigError(field, f"expected names from {', '.join(NAMES)}, got {name!r}")


def check_sizes(sizes, field: str = "sizes") -> None:
  if sizes not in SIZES:
    raise ConfigError(field, f"expected default or tiny, got {sizes!r}")


def sized(name: str, sizes: str = "default", **overrides) -> Encoder:
  """The encoder ``name`` at ``sizes`` (``default`` or ``tiny``, see ``TINY``)."""
  check_sizes(sizes)
  return build(name, config(name, **dict(TINY[name] if sizes == "tiny" else {}, **overrides)))


def init_seeds(enc: Encoder, seed: int, k: int):
  """States of K seeds of ``enc``: keys fold_in(key(seed), i), vmapped."""
  import jax
  import numpy as np
  keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(np.arange(k))
  return jax.vmap(enc.init)(keys)


__all__ = ["NAMES", "SIZES", "TINY", "CONFIGS", "check_names", "check_sizes", "sized",
           "init_seeds", "Encoder", "ResNetConfig", "ViTConfig", "TextConfig",
           "config", "build"]
