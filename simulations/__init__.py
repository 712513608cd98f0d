"""Paper-figure experiments, one per file; ``gaplab reproduce`` runs them in
this order. Installed as ``gaplab.simulations``."""

EXPERIMENTS = ("cone_depth", "phase_diagram", "gap_at_init", "init_cones",
               "architectures_at_init", "sphere_mismatch", "two_tower_training",
               "init_vs_optimisation", "interventions", "downstream_shift")
