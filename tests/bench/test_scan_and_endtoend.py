"""The scaling fit of `gaplab bench cone --scan`, the end-to-end comparison rows
and the PyTorch workloads' command line (no timing is asserted anywhere)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from gaplab.bench import endtoend, scan, torch_workloads


def test_scan_points_vary_one_axis_at_a_time_around_the_base():
  for size, spec in scan.SIZES.items():
    pts = scan.points(size)
    base = spec["base"]
    assert pts[0] == base
    n_other = sum(len([v for v in spec["axes"][a] if v != base[a]]) for a in scan.AXES)
    assert len(pts) == 1 + n_other and len({tuple(sorted(p.items())) for p in pts}) == len(pts)
    for p in pts[1:]:  # exactly one axis differs from the base
      assert sum(p[a] != base[a] for a in scan.AXES) == 1


def test_scan_fit_recovers_a_known_power_law_exactly():
  """Times made from t = 0.02 N^1.1 w^1.9 S^0.8 (no noise): the joint least
  squares and each axis's slope are exact up to rounding of the logs."""
  base = scan.SIZES["full"]["base"]
  rows = [dict(p, seconds=0.02 * p["n_samples"] ** 1.1 * p["width"] ** 1.9 * p["seeds"] ** 0.8)
          for p in scan.points("full")]
  result = scan.fit(rows, base)
  j = result["joint"]
  assert j["C_seconds"] == pytest.approx(0.02, rel=1e-9)
  for axis, e in zip(scan.AXES, (1.1, 1.9, 0.8)):
    assert j[f"exponent_{axis}"] == pytest.approx(e, abs=1e-9)
    assert result["per_axis"][axis]["exponent"] == pytest.approx(e, abs=1e-9)


def test_scan_fit_per_axis_uses_only_that_axis_points():
  """A slow outlier on the width axis moves the width slope, not the others."""
  base = scan.SIZES["quick"]["base"]
  rows = [dict(p, seconds=1.0 * p["n_samples"] * p["seeds"]) for p in scan.points("quick")]
  for r in rows:
    if r["width"] == max(scan.SIZES["quick"]["axes"]["width"]):
      r["seconds"] *= 4.0
  per = scan.fit(rows, base)["per_axis"]
  assert per["n_samples"]["exponent"] == pytest.approx(1.0, abs=1e-12)
  assert per["seeds"]["exponent"] == pytest.approx(1.0, abs=1e-12)
  assert per["width"]["exponent"] > 0.5


def test_comparison_row_with_and_without_torch():
  ours = {"cold_s": 9.0, "warm_cache_s": 5.0}
  ref = {"wall_s": 20.0, "loop_s": 18.0, "threads": 2, "torch": "2.x"}
  row = endtoend.comparison(ours, ref)
  assert row["speedup_end_to_end"] == 4.0 and row["torch_loop_s"] == 18.0
  text = "\n".join(endtoend.lines("cone", row))
  assert "5.00 s with a warm cache (9.00 s cold)" in text and "4.00x faster" in text
  none = endtoend.comparison(ours, None)
  assert "speedup_end_to_end" not in none and none["note"] == endtoend.NO_TORCH
  assert endtoend.NO_TORCH in "\n".join(endtoend.lines("cone", none))


def test_torch_workloads_parse_overrides_and_rejects_unknown_keys():
  kw = torch_workloads.parse("two_tower", ["width=32", "runs=8"])
  assert kw == dict(torch_workloads.TWO_TOWER_DEFAULTS, width=32, runs=8)
  with pytest.raises(SystemExit, match="expected a key in"):
    torch_workloads.parse("cone", ["widht=3"])
  with pytest.raises(SystemExit, match="expected a workload in"):
    torch_workloads.parse("resnet", [])


@pytest.mark.skipif(not endtoend.torch_available(), reason="needs torch")
def test_torch_cone_workload_runs_and_agrees_with_the_relu_closed_form():
  """A tiny run of the PyTorch loop in its own process; with ReLU, N = 64,
  d = 512 and one layer, the mean cosine (diagonal included) of Gaussian
  inputs' outputs is near the arc-cosine value at rho = 0, 1/pi ~ 0.318
  (bias variance 1/d shifts it by O(1/d); the sample spread of 64 rows adds
  ~ 1/64 diagonal + O(0.01) noise): a loose 0.05 band."""
  p = subprocess.run([sys.executable, "-m", "gaplab.bench.torch_workloads", "cone", "n=64",
                      "d=512", "depth=1", "seeds=4", "activations=relu"],
                     capture_output=True, text=True, check=True)
  out = json.loads(p.stdout.strip().splitlines()[-1])
  diag = 1 / 64  # the N diagonal entries of the N x N mean
  assert abs(out["mean_cos_last_layer"]["relu"] - (diag + (1 - diag) / np.pi)) < 0.05


@pytest.mark.slow
def test_throughput_tiny_report_is_consistent(tmp_path):
  """The throughput report's derived numbers follow from its measured ones:
  the FLOP count is the engine's, and the share is the sweep's rate over the
  GEMM's, for both precisions (nothing about speed is asserted)."""
  from gaplab.bench import cone as bench_cone
  from gaplab.bench import throughput
  from gaplab.cone import presets
  report = throughput.run("tiny", repeats=1, out=str(tmp_path / "t.json"), startup=False)
  assert json.loads((tmp_path / "t.json").read_text())["rows"].keys() == {"default", "highest"}
  cfg = presets.fig2b("full", **throughput.PRESETS["tiny"])
  for p, r in report["rows"].items():
    assert r["precision"] == p
    assert r["tflops"] * 1e12 == pytest.approx(bench_cone.engine_flops(cfg), rel=1e-12)
    assert r["tflop_per_s"] == pytest.approx(r["tflops"] / r["warm_s"], rel=1e-12)
    assert r["share_of_gemm"] == pytest.approx(r["tflop_per_s"] / r["gemm_tflop_per_s"],
                                               rel=1e-12)
