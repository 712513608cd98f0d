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


__all__ = ["NAMES", "CONFIGS", "Encoder", "ResNetConfig", "ViTConfig", "TextConfig",
           "config", "build"]
