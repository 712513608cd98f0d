"""``gaplab train``: the two-tower training experiment with its main settings as
flags (everything else through ``--set``)."""
from __future__ import annotations

import argparse

from gaplab._errors import ConfigError
from gaplab.cli import options
from gaplab.cli import run

NAME = "two_tower_training"

# preset key -> (flag, argparse kwargs) of gaplab train
TRAIN_FLAGS = {
    "taus": ("--taus", dict(help="comma-separated fixed temperatures")),
    "seeds": ("--seeds", dict(type=int, help="seeds (towers at init and batch order)")),
    "steps": ("--steps", dict(type=int, help="optimiser steps")),
    "mismatch": ("--mismatch", dict(help="comma-separated fractions of mismatched pairs")),
    "image_encoder": ("--image-encoder", dict(help="mlp, resnet, vit or text")),
    "text_encoder": ("--text-encoder", dict(help="mlp, resnet, vit or text")),
    "share": ("--share", dict(help="none, all or hidden (MLP towers): shared parameters")),
    "lr": ("--lr", dict(type=float, help="Adam learning rate of the towers")),
    "lr_tau": ("--lr-tau", dict(type=float, help="Adam learning rate of the learnable "
                                "log logit scale")),
    "swap": ("--swap", dict(type=float, help="modality-swap probability per pair")),
    "w_align": ("--w-align", dict(type=float, help="weight of the alignment term")),
    "w_unif": ("--w-unif", dict(type=float, help="weight of the uniformity term")),
    "learnable": ("--no-learnable", dict(action="store_false", default=None,
                                         help="leave out the learnable-temperature run")),
    "schedules": ("--schedule", dict(action="append", metavar="MODE:START:END",
                                     help="a temperature schedule run, e.g. "
                                     "linear:0.01:0.1 (repeatable; MODE linear or cosine)")),
}


def _floats(text: str, key: str) -> list:
  try:
    return [float(v) for v in text.split(",")]
  except ValueError:
    raise ConfigError(key, f"expected comma-separated numbers, got {text!r}") from None


def _schedule(text: str) -> list:
  mode, *vals = text.split(":")
  if len(vals) != 2:
    raise ConfigError("schedules", f"expected MODE:START:END, got {text!r}")
  return [mode, *_floats(",".join(vals), "schedules")]


def add_parser(sub) -> None:
  p = options.command(sub, "train", "two-tower training sweep (seeds x temperatures)", """
      Train two towers contrastively on synthetic paired data for seeds x temperatures
      (fixed, learnable, scheduled) in one compiled program; save the per-step logs,
      draw the gap over training and the final gap vs temperature, print the table.
      Runs simulations/two_tower_training.py; flags override its preset, --set any
      other key.""")
  options.add_experiment_flags(p, NAME)
  for key, (fl, kw) in TRAIN_FLAGS.items():
    p.add_argument(fl, dest=key, **({"default": None} | kw))
  options.add_set(p)
  options.add_scale_flags(p)


def train_overrides(a: argparse.Namespace) -> dict:
  over = {}
  for key in TRAIN_FLAGS:
    v = getattr(a, key)
    if v is None:
      continue
    if key in ("taus", "mismatch"):
      v = _floats(v, key)
    elif key == "schedules":
      v = [_schedule(x) for x in v]
    over[key] = v
  return over


def flag_of(field: str) -> str:
  """The flag that sets ``field`` in gaplab train (else ``--set field``)."""
  if field in TRAIN_FLAGS:
    return TRAIN_FLAGS[field][0]
  return run.preset_flag(field)


def command(a) -> None:
  try:
    over = train_overrides(a)
  except ConfigError as e:
    raise ConfigError(flag_of(e.field), e.message) from None
  run.command(a, NAME, flag_of, over)
