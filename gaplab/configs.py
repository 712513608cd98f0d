"""One config idiom for the lab: frozen dataclasses that derive from ``Config``.

* ``from_dict(d)`` rejects unknown keys (``ConfigError`` naming the key) and
  turns lists into tuples; ``to_dict()`` turns them back (JSON, the form the
  results store writes); ``replace(**kw)`` is ``dataclasses.replace``.
* ``validate()`` checks every field with the checkers below, each raising
  ``ConfigError(field, "expected ..., got ...")``, and returns the config.
  Configs validate on construction (``__post_init__``) unless the class sets
  ``VALIDATE_ON_INIT = False``: a cone sweep's config reads the user's input
  file and may need 64-bit JAX switched on first, so it is validated once, at
  the edge (the CLI or the experiment), and plain values go inward.

>>> @dataclasses.dataclass(frozen=True)
... class Tiny(Config):
...   width: int = 8
...   def validate(self):
...     check_int("width", self.width)
...     return self
>>> Tiny.from_dict({"width": 4}).to_dict()
{'width': 4}
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from gaplab._errors import ConfigError

DTYPES = ("float32", "float64")


class Config:
  """Mixin of the lab's frozen config dataclasses (see the module docstring)."""
  VALIDATE_ON_INIT = True

  def __post_init__(self):
    if self.VALIDATE_ON_INIT:
      self.validate()

  def validate(self):
    return self

  @classmethod
  def from_dict(cls, d: Mapping[str, Any]):
    check_keys(d, [f.name for f in dataclasses.fields(cls)])
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

  def to_dict(self) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self).items()}

  def replace(self, **kw):
    return dataclasses.replace(self, **kw)


def check_keys(d: Mapping, allowed) -> None:
  """Raises ConfigError naming the first key of ``d`` not in ``allowed``."""
  allowed = list(allowed)
  for key in d:
    if key not in allowed:
      raise ConfigError(str(key), f"unknown key; expected one of {', '.join(allowed)}")


def check_int(field: str, value, lo: int = 1) -> None:
  if isinstance(value, bool) or not isinstance(value, int) or value < lo:
    raise ConfigError(field, f"expected an integer >= {lo}, got {value!r}")


def check_number(field: str, value, lo: float = 0.0) -> None:
  """A finite real number >= ``lo``."""
  if (isinstance(value, bool) or not isinstance(value, (int, float))
      or not math.isfinite(value) or value < lo):
    raise ConfigError(field, f"expected a finite number >= {lo:g}, got {value!r}")


def check_bool(field: str, value) -> None:
  if not isinstance(value, bool):
    raise ConfigError(field, "expected true or false")


def check_choice(field: str, value, allowed) -> None:
  if value not in allowed:
    raise ConfigError(field, f"expected one of {', '.join(allowed)}, got {value!r}")


def check_int_list(field: str, values, lo: int = 1) -> None:
  if not isinstance(values, tuple) or not values:
    raise ConfigError(field, f"expected a non-empty list of integers, got {values!r}")
  for v in values:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
      raise ConfigError(field, f"expected integers >= {lo}, got {v!r}")


def check_number_list(field: str, values) -> None:
  """A non-empty tuple of finite numbers >= 0."""
  if not isinstance(values, tuple) or not values:
    raise ConfigError(field, f"expected a non-empty list of numbers, got {values!r}")
  for v in values:
    if (isinstance(v, bool) or not isinstance(v, (int, float))
        or not math.isfinite(v) or v < 0):
      raise ConfigError(field, f"expected finite numbers >= 0, got {v!r}")


def check_distinct(field: str, values) -> None:
  if len(set(values)) != len(values):
    raise ConfigError(field, f"expected distinct values, got {list(values)}")


def check_dtype(value, field: str = "dtype") -> None:
  """float32 or float64; float64 only where 64-bit JAX is on."""
  check_choice(field, value, DTYPES)
  if value == "float64":
    import jax
    if not jax.config.jax_enable_x64:
      raise ConfigError(field, "expected float32 unless 64-bit JAX is on (the CLI turns it on for "
                        "--dtype float64; else set JAX_ENABLE_X64=1 or call "
                        "jax.config.update('jax_enable_x64', True) before making arrays), "
                        "got 'float64'")


def resolve_preset(preset: dict, sizes: dict, size: str, overrides: dict,
            may_be_empty=()) -> dict:
  """An experiment's config as a dict: ``preset`` + ``sizes[size]`` + user
  ``overrides``, with the checks of ``Config.from_dict``: unknown keys and
  values of another type than the preset's raise ConfigError naming the key.
  Lists must be non-empty unless their key is in ``may_be_empty``. (Experiment
  presets stay dicts: they are JSON as saved and each experiment checks its
  own relations between keys after this.)"""
  check_choice("size", size, tuple(sizes))
  cfg = {**preset, **sizes[size]}
  check_keys(overrides, preset)
  for key, value in overrides.items():
    want = preset[key]
    if isinstance(want, bool):
      ok = isinstance(value, bool)
    elif isinstance(want, int):
      ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(want, float):
      ok = isinstance(value, (int, float)) and not isinstance(value, bool)
      value = float(value) if ok else value
    elif isinstance(want, (list, tuple)):
      ok = isinstance(value, (list, tuple)) and (len(value) > 0 or key in may_be_empty)
    else:
      ok = isinstance(value, type(want))
    if not ok:
      raise ConfigError(key, f"expected a value like {want!r}, got {value!r}")
    cfg[key] = value
  return cfg
