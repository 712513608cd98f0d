"""gaplab.theory.phases: the phase config, the regime of a cell, the summary's
arrays and rows, and the text helpers (the run itself: test_phase_diagram.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from gaplab._errors import ConfigError
from gaplab.theory import phases, propagation

TINY = dict(activations=["relu", "tanh"], inits=["gaussian"], sigma_w2=[1.0, 2.0, 4.0],
            sigma_b2=[0.0, 0.1], depth=6, widths=[64], input_dim=64, n_samples=32,
            seeds=2, pairwise=False, n_pairs=32, order=16)


def _fp(q_star=1.0, chi1=0.5, cos_star=1.0, q_converged=True, phase="ordered"):
  return dict(q_star=q_star, chi1=chi1, chi_c=chi1, xi_c=-1 / math.log(chi1),
              c_star=cos_star, cos_star=cos_star, q_converged=q_converged, phase=phase)


# -- config -----------------------------------------------------------------------
def test_config_maps_variances_to_sigmas_and_round_trips():
  cfg = phases.PhaseConfig.from_dict(TINY).validate()
  np.testing.assert_array_equal(cfg.cone.sigma_w, np.sqrt(np.array([1.0, 2.0, 4.0])))
  np.testing.assert_array_equal(cfg.cone.sigma_b, np.sqrt(np.array([0.0, 0.1])))
  d = cfg.to_dict()
  assert "sigma_w" not in d and "sigma_b" not in d
  assert d["sigma_w2"] == [1.0, 2.0, 4.0] and d["n_pairs"] == 32 and d["order"] == 16
  assert phases.PhaseConfig.from_dict(d) == cfg
  assert cfg.replace(order=20).order == 20 and cfg.order == 16
  # not validated on construction (like its ConeConfig): checked at the edge
  bad = phases.PhaseConfig.from_dict(dict(TINY, order=2))
  with pytest.raises(ConfigError, match="order: expected an integer >= 4, got 2"):
    bad.validate()


@pytest.mark.parametrize("change, field, message", [
    (dict(sigma_w=[1.0]), "sigma_w", "set by sigma_w2 here"),
    (dict(sigma_b=[0.0]), "sigma_b", "set by sigma_b2 here"),
    (dict(dept=3), "dept", "unknown key; expected one of"),
    (dict(sigma_w2=[0.0, 1.0]), "sigma_w2", "expected finite numbers > 0, got 0.0"),
    (dict(sigma_b2=[-0.1]), "sigma_b2", "expected finite numbers >= 0, got -0.1"),
    (dict(sigma_b2=[0.1, 0.1]), "sigma_b2", "expected increasing values"),
    (dict(sigma_w2=[]), "sigma_w2", "expected a non-empty list of numbers"),
    (dict(sigma_w2=[math.nan]), "sigma_w2", "expected finite numbers > 0"),
    (dict(sigma_w2=[True]), "sigma_w2", "expected finite numbers > 0"),
])
def test_config_rejects_bad_keys_and_grids(change, field, message):
  with pytest.raises(ConfigError, match=message) as e:
    phases.PhaseConfig.from_dict(dict(TINY, **change))
  assert e.value.field == field


def test_config_requires_the_extra_keys_and_checks_validate():
  d = dict(TINY)
  del d["n_pairs"]
  with pytest.raises(ConfigError, match="n_pairs: expected a value"):
    phases.PhaseConfig.from_dict(d)
  for change, message in [(dict(n_pairs=1), "n_pairs: expected an integer >= 2"),
                          (dict(widths=[32, 64]), "one width"),
                          (dict(inits=["gaussian", "orthogonal"]), "one init scheme"),
                          (dict(activations=["maxout"]), "mean-field")]:
    with pytest.raises(ConfigError, match=message):
      phases.PhaseConfig.from_dict(dict(TINY, **change)).validate()


def test_check_grid_takes_a_number_as_a_grid_of_one():
  assert phases.check_grid("g", 2, positive=True) == (2.0,)
  assert phases.check_grid("g", [0, 0.5], positive=False) == (0.0, 0.5)


# -- classification -------------------------------------------------------------
def test_classify_each_reason():
  depth = 25
  edge = math.exp(-1 / depth)
  assert phases.classify(_fp(cos_star=1 - 2e-3), depth) == ("chaotic", "c* < 1")
  assert phases.classify(_fp(q_star=math.inf), depth) == ("critical", "q* = ∞")
  assert phases.classify(_fp(q_star=1e-13), depth) == ("critical", "q* = 0")
  assert phases.classify(_fp(q_star=1e-4, q_converged=False), depth) == ("critical", "q* = 0")
  assert phases.classify(_fp(chi1=edge), depth) == ("critical", "χ₁ ≈ 1")
  assert phases.classify(_fp(chi1=np.nextafter(edge, 0)), depth) == ("ordered", "χ₁ < e^(−1/L)")
  assert phases.classify(_fp(q_converged=False), depth) == ("critical", "q* not reached")
  # the cosine tolerance is 1e-3: just inside it is not chaotic
  assert phases.classify(_fp(cos_star=1 - 0.5e-3), depth)[0] == "ordered"


@pytest.mark.parametrize("act, sw2, sb2, regime, reason", [
    ("relu", 1.0, 0.1, "ordered", "χ₁ < e^(−1/L)"),
    ("relu", 2.0, 0.0, "critical", "χ₁ ≈ 1"),
    ("relu", 4.0, 0.1, "critical", "q* = ∞"),
    ("relu", 1.0, 0.0, "critical", "q* = 0"),
    ("tanh", 4.0, 0.1, "chaotic", "c* < 1"),
])
def test_classify_real_fixed_points(act, sw2, sb2, regime, reason):
  fp = propagation.fixed_point(act, sw2, sb2).as_dict()
  assert phases.classify(fp, 25) == (regime, reason)


def test_fixed_point_arrays_codes_in_row_major_order():
  fps = [_fp(chi1=0.25), _fp(q_star=math.inf, phase="chaotic"),
         _fp(cos_star=0.5, phase="chaotic"), _fp(chi1=0.99, phase="critical")]
  a = phases.fixed_point_arrays(fps, 25, (2, 2))
  assert list(a) == list(phases.FIXED) + ["phase", "regime", "reason"]
  np.testing.assert_array_equal(a["chi1"], np.array([[0.25, 0.5], [0.5, 0.99]]))
  assert a["chi1"].dtype == np.float64
  np.testing.assert_array_equal(a["phase"], [[0, 2], [2, 1]])
  np.testing.assert_array_equal(a["regime"], [[0, 1], [2, 1]])
  np.testing.assert_array_equal(
      a["reason"], [[phases.REASONS.index(r) for r in row]
                    for row in (("χ₁ < e^(−1/L)", "q* = ∞"), ("c* < 1", "χ₁ ≈ 1"))])


# -- the summary ------------------------------------------------------------------
def test_cell_index_checks_the_saved_variants():
  cfg = phases.PhaseConfig.from_dict(TINY)
  variants = [dict(v.__dict__, label=v.label) for v in cfg.cone.variants()]
  idx = phases.cell_index(cfg, variants)
  assert idx.shape == (2, 3, 2)
  np.testing.assert_array_equal(idx.ravel(), np.arange(12))
  variants[3] = dict(variants[3], sigma_b=0.5)
  with pytest.raises(AssertionError, match="variant 3 is not cell"):
    phases.cell_index(cfg, variants)


def test_describe_and_rows_follow_the_header():
  cfg = phases.PhaseConfig.from_dict(TINY)
  layers = [3, 6]
  d = phases.describe(cfg, layers, seeds=2)
  assert d["classification"]["ordered_if_chi1_below"] == np.exp(-1 / 6)
  assert d["coords"]["activation"] == ["relu", "tanh"] and d["coords"]["seed"] == [0, 1]
  shape = (2, 3, 2)
  arrays = {k: np.arange(24, dtype=np.float64).reshape(shape + (2,)) + i
            for i, k in enumerate(phases.CELL_ARRAYS)}
  arrays.update(phases.fixed_point_arrays([_fp()] * 12, 6, shape))
  rows = list(phases.rows(cfg, arrays, layers))
  assert len(rows) == 24 and all(len(r) == len(phases.HEADER) for r in rows)
  row = dict(zip(phases.HEADER, rows[2 * (1 * 6 + 2 * 2 + 1) + 1]))  # tanh, 4, 0.1, L
  assert (row["activation"], row["sigma_w2"], row["sigma_b2"], row["layer"]) == ("tanh", 4.0, 0.1, 6)
  assert row["sigma_b"] == np.sqrt(0.1)
  assert row["measured_lo"] == arrays["measured_lo"][1, 2, 1, 1]
  assert row["regime"] == "ordered"


# -- text -------------------------------------------------------------------------
def test_text_helpers():
  assert phases.fmt_b2(1 / 512) == "1/512" and phases.fmt_b2(0.05) == "0.05"
  assert phases.fmt_range([0.1234, np.nan, 0.5]) == "0.123 to 0.500"
  assert phases.fmt_range([-1e-4, 1e-4]) == "0.000"  # no negative zero
  assert phases.fmt_range([np.nan]) == "–"
  mask = np.array([[True, False], [True, True]])
  assert phases.fmt_cells(mask, [1.0, 2.0], [0.0, 1 / 512]) == "(1, 0), (2, 0), (2, 1/512)"
  assert phases.fmt_cells(mask, [1.0, 2.0], [0.0, 1 / 512], limit=2) == "(1, 0), (2, 0), … (3 cells)"
