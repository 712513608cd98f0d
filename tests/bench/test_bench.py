"""`gaplab bench cone` runs end to end (a smoke test at tiny sizes; timings are
never asserted: performance is for benchmarks, not tests)."""
import json
import pytest

import numpy as np

from gaplab.bench import cone as bench


@pytest.mark.slow
def test_bench_cone_tiny_writes_a_complete_report(tmp_path, capsys):
  out = tmp_path / "bench.json"
  report = bench.cone(quick=True, repeats=1, out=str(out), size="tiny")
  assert json.loads(out.read_text()) == json.loads(json.dumps(report))
  text = capsys.readouterr().out
  assert "faster than reference" in text and "GFLOP/s" in text
  cfg = report["preset"]
  n, d, depth, seeds = cfg["n_samples"], cfg["input_dim"], cfg["depth"], cfg["seeds"]
  assert (n, d, cfg["widths"], seeds) == (32, 32, [32], 2)
  variants = len(cfg["activations"])
  forward = seeds * variants * depth * 2 * n * d * d  # width == input_dim here
  # N = 32 is one block of rows: one 32 x 32 Gram per measured matrix, for the
  # inputs (once per seed) and every variant's layers 1..depth
  gram = seeds * (1 + variants * depth) * 2 * n * n * d
  rows = report["engine"]
  assert rows["engine, mean cosine only (--no-pairwise)"]["gflops"] * 1e9 == forward
  assert rows["engine, all statistics"]["gflops"] * 1e9 == forward + gram
  sanity = report["sanity_relu_mean_cos_diag"]  # ReLU outputs: cosines in [0, 1]
  assert 0 < sanity["numpy_reference"] <= 1 and 0 < sanity["engine"] <= 1


def test_numpy_reference_agrees_with_the_engine_in_distribution():
  """Different random draws, same model: per-layer means over 24 seeds agree
  within 4 standard errors of their difference (each side's seed spread)."""
  from gaplab.simulations import cone_depth
  from gaplab.cone import engine
  cfg = cone_depth.config("tiny", activations=["relu", "tanh"], seeds=24, depth=3)
  _, ref = bench.numpy_reference(cfg, cfg.seeds)  # (activation, seed, layer)
  ours = engine.run(cfg).arrays["mean_cos_diag"][0]
  for a in range(2):
    for layer in range(1, 4):
      x, y = ref[a, :, layer], ours[a, :, layer]
      se = np.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)
      assert abs(x.mean() - y.mean()) < 4 * se, (a, layer, x.mean(), y.mean(), se)


def test_startup_summary_and_table_on_fake_clock_readings():
  from gaplab.bench import startup
  raw = dict(t_launch=100.0, t_start=100.5, t_ready=102.5, t_first=110.5, t_second=111.0,
             wall=11.25)
  assert startup.summarise(raw) == {
      "to_first_result_s": 10.5, "python_start_s": 0.5, "imports_s": 2.0,
      "first_call_s": 8.0, "second_call_s": 0.5, "process_wall_s": 11.25}
  off = startup.summarise(raw)
  hit = startup.summarise(dict(raw, t_first=104.0, t_second=104.25))  # 4 s to first result
  cases = {startup.CASES[0]: off, startup.CASES[1]: dict(off, cache_entries=3, cache_bytes=2**21),
           startup.CASES[2]: dict(hit, cache_entries=3, cache_bytes=2**21)}
  lines = startup.table_lines("cone", cases)
  assert len(lines) == 5 and lines[0] == "  cone"
  assert "10.50 s to first result" in lines[1] and "vs cache off" not in lines[1]
  assert " 1.00x vs cache off; 3 entries, 2.0 MiB" in lines[2]
  assert " 2.62x vs cache off" in lines[3]  # 10.5 / 4
  assert "0.25 s (second call)" in lines[4] and "42.0x vs cache off" in lines[4]  # 10.5 / 0.25
