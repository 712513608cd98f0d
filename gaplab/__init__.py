"""gaplab: a JAX simulation and theory lab for the modality gap.

The library is layered; each subpackage says in its ``__init__`` what it holds:
``nets`` (random networks) and ``encoders`` -> ``cone`` (cone sweeps) and
``theory`` (mean field) -> ``contrastive`` -> ``training``; ``analysis``, ``io``
and ``plotting`` serve them, and ``runtime`` (progress, the compilation cache,
multi-process set-up, memory planning) is how a run runs; ``harness`` is the protocol the experiments in
``simulations/`` and ``theory_checks/`` are written in; ``cli`` and ``bench``
sit on top. Nothing in the library imports an experiment.

The names below are the public API: the modules users reach as
``gaplab.<module>`` (kept from the flat layout) and a few functions. Since
the layout change, ``gaplab.cone`` and ``gaplab.plotting`` are packages (the
cone store is ``gaplab.cone.store``, the cone figures ``gaplab.plotting.cone``),
the CLI entry point is ``gaplab.cli.main.main``, and the experiment harness
(``gaplab.harness.checks``) is no longer exported here.
"""
from gaplab._version import __version__
from gaplab._errors import ConfigError
from gaplab.nets import activations, inits
from gaplab.theory import meanfield, propagation
from gaplab.theory import predictions as theory
from gaplab.cone.config import ConeConfig, Variant
from gaplab.cone.engine import run as run_cone, SweepOutput
from gaplab.cone.store import run_and_save as run_and_save_cone
from gaplab.cone.stats import cone_stats, unit_rows
from gaplab.io.results import load_run, save_run
from gaplab.analysis import fits, variance
from gaplab.analysis.bands import mean_band, t_quantile
from gaplab.analysis import gap
from gaplab.contrastive import landscape, losses, metrics, mirror_toy, pairs, sphere
from gaplab.training import towers
from gaplab.training import loop as train
from gaplab.training import sweep as train_sweep
from gaplab import paper
from gaplab.runtime import progress

__all__ = [
    "__version__", "ConfigError", "ConeConfig", "Variant", "SweepOutput", "activations",
    "inits", "meanfield", "propagation", "theory", "fits", "run_cone",
    "cone_stats", "unit_rows", "load_run", "save_run",
    "mean_band", "t_quantile", "gap", "landscape", "losses", "metrics", "mirror_toy",
    "pairs", "sphere", "towers", "train", "train_sweep", "paper", "variance",
    "run_and_save_cone", "progress",
]
