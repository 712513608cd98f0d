"""Numerical checks of the theory, one per file; each compares simulation with
analytic results and asserts. ``gaplab check`` runs them in this order.
Installed as ``gaplab.theory_checks``."""

CHECKS = ("mean_field_vs_simulation", "theorem1_monotonicity", "theorem2_variance")
