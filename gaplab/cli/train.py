"""``gaplab train`` and ``gaplab sphere``: the contrastive-learning experiments
with their main settings as flags (everything else through ``--set``)."""
from __future__ import annotations

import argparse

from gaplab._errors import ConfigError

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


def add_parsers(sub, add_size_flags, help_defaults) -> None:
  t = sub.add_parser("train", help="two-tower training sweep (seeds x temperatures)",
                     description="Train two towers contrastively on synthetic paired data "
                     "for seeds x temperatures (fixed, learnable, scheduled) in one "
                     "compiled program; save the per-step logs, draw the gap over "
                     "training and the final gap vs temperature, print the table. "
                     "Runs simulations/two_tower_training.py; flags override its "
                     "preset, --set any other key.")
  s = sub.add_parser("sphere", help="the mismatched-pair sphere toys",
                     description="The paper's 3-D sphere toy (Fig 3e-g) with and without "
                     "the swap, and its generalisation to n pairs in D dimensions with a "
                     "mismatch fraction: loss vs the texts' latitude per logit scale, the "
                     "optimal gap over (scale, mismatch). Runs "
                     "simulations/sphere_mismatch.py.")
  for p, name in ((t, "two_tower_training"), (s, "sphere_mismatch")):
    add_size_flags(p, "the sizes 'gaplab reproduce --quick' uses (default: full)")
    p.add_argument("--out", default=None, help=f"new run directory (default: runs/{name})")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing run directory (default: refuse)")
  for key, (fl, kw) in TRAIN_FLAGS.items():
    t.add_argument(fl, dest=key, **({"default": None} | kw))
  for p in (t, s):
    p.add_argument("--set", nargs="*", metavar="KEY=VALUE", default=None,
                   help="override any other preset key (unknown keys are an error)")
    help_defaults(p)


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
  return field if field in ("out", "set") else f"set {field}"
