"""gaplab: a JAX simulation and theory lab for the modality gap."""
__version__ = "0.1.0"

from gaplab._errors import ConfigError
from gaplab import activations, checks, fits, inits, meanfield, propagation, theory
from gaplab.config import ConeConfig, Variant
from gaplab.engine import run as run_cone, SweepOutput
from gaplab.stats import cone_stats, unit_rows
from gaplab.results import load_run, save_run
from gaplab.bands import mean_band, t_quantile
# the modality gap itself, contrastive losses and training
from gaplab import gap, landscape, losses, metrics, mirror_toy, pairs, sphere, towers, train
from gaplab import train_sweep
# variance shares (Theorem 2) and the paper's numbers with their sources
from gaplab import paper, variance

__all__ = [
    "ConfigError", "ConeConfig", "Variant", "SweepOutput", "activations",
    "inits", "meanfield", "propagation", "theory", "checks", "fits", "run_cone",
    "cone_stats", "unit_rows", "load_run", "save_run",
    "mean_band", "t_quantile", "gap", "landscape", "losses", "metrics", "mirror_toy",
    "pairs", "sphere", "towers", "train", "train_sweep", "paper", "variance",
]
