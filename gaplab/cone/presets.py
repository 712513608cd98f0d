"""Presets of cone sweeps the library itself needs (the benchmarks): Fig 2b's
setting, which ``simulations/cone_depth.py`` runs."""
from __future__ import annotations

import math

from gaplab.cone.config import ConeConfig

# Fig 2b: seven activations, depth 25, width 512, N(0, 1/fan_in) weights, the
# paper's bias std 1/sqrt(512), 1024 Gaussian inputs in 512 dimensions
FIG2B = dict(
    activations=["linear", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "elu"],
    inits=["gaussian"], sigma_w=[1.0], sigma_b=[1 / math.sqrt(512)],
    block="linear-act", depth=25, widths=[512], input_dim=512, n_samples=1024,
    inputs="gaussian", seeds=10, seed=0,
)
FIG2B_SIZES = {
    "full": {},
    "quick": {"n_samples": 512, "seeds": 4},
    "tiny": {"n_samples": 32, "input_dim": 32, "widths": [32], "depth": 4,
             "seeds": 2},
}


def fig2b(size: str = "full", **overrides) -> ConeConfig:
  """Fig 2b's ``ConeConfig`` at ``size`` (full, quick, tiny) with ``overrides``."""
  return ConeConfig.from_dict({**FIG2B, **FIG2B_SIZES[size], **overrides})
