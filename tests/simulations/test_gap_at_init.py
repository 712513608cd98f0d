"""The gap-at-initialisation experiment at tiny size."""
import math
import os

import numpy as np

from gaplab.analysis import gap
from gaplab.simulations import gap_at_init
from tinyrun import tiny_run


def test_tiny_run_saves_consistent_gaps_and_draws_the_figure(tmp_path, capsys):
  run, printed = tiny_run(gap_at_init, str(tmp_path / "g"), capsys)
  assert "| same data | 64 | relu |" in printed
  a = run.arrays
  for t in ("same", "diff"):
    # gap^2 = c_A + c_B - 2 cross for every seed pair, layer and activation
    pairs = np.array(run.meta["coords"]["seed_pair"])
    c = a[f"{t}_c"][:, pairs]  # (width, pair, 2, V, L)
    np.testing.assert_allclose(a[f"{t}_gap"] ** 2,
                               c[:, :, 0] + c[:, :, 1] - 2 * a[f"{t}_cross"], atol=1e-5)
    np.testing.assert_allclose(a[f"{t}_pred_cross"][1], 0.0, atol=1e-15)  # tanh: odd
    np.testing.assert_allclose(a[f"{t}_pred_cross"][0], 1 / math.pi, rtol=1e-12)  # relu
  # the predicted gap uses the predicted cross term, not the shortcut
  np.testing.assert_allclose(a["same_pred_gap"] ** 2,
                             2 * a["same_pred_c"] - 2 * a["same_pred_cross"], rtol=1e-12)
  assert abs(gap.predicted_cross("relu", 1.0) - gap.predicted_cross("relu", 9.0)) < 1e-15
  # the tiny run's ViT: 3 seeds -> 3 pairs, and the identity per pair
  for t in ("same", "diff"):
    g, c, x = (a[f"enc_vit_{t}_{k}"] for k in ("gap", "c", "cross"))
    assert g.shape == (3,) and c.shape == (3,)
    np.testing.assert_allclose(g ** 2, c[[0, 0, 1]] + c[[1, 2, 2]] - 2 * x, atol=1e-12)


def test_unknown_key_and_too_few_seeds_are_rejected(tmp_path, capsys):
  out = str(tmp_path / "g")
  assert gap_at_init.main(["--tiny", "--out", out, "--set", "seed_count=3"]) == 2
  assert "argument --set seed_count: unknown key" in capsys.readouterr().err
  assert gap_at_init.main(["--tiny", "--out", out, "--set", "seeds=1"]) == 2
  assert "at least 2 seeds" in capsys.readouterr().err
  assert not os.path.exists(out)
