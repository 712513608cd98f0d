"""The registered experiments and theory checks: the one place above them that
imports ``simulations/`` and ``theory_checks/`` (shipped as
``gaplab.simulations`` and ``gaplab.theory_checks``) by name."""
from __future__ import annotations

import importlib


def experiments() -> dict:
  """The paper-figure experiments, in order: name -> module."""
  from gaplab.simulations import EXPERIMENTS
  return {n: importlib.import_module(f"gaplab.simulations.{n}") for n in EXPERIMENTS}


def checks() -> dict:
  """The theory checks, in order: name -> module."""
  from gaplab.theory_checks import CHECKS
  return {n: importlib.import_module(f"gaplab.theory_checks.{n}") for n in CHECKS}


def everything() -> dict:
  """Experiments, then theory checks: what ``gaplab reproduce`` runs."""
  return dict(experiments(), **checks())
