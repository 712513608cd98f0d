"""``gaplab landscape``: both input forms, saved results, one-line errors."""
import numpy as np

from clihelp import run_cli
from gaplab.contrastive import landscape
from gaplab.io import results


def test_landscape_command(tmp_path, capsys):
  rng = np.random.default_rng(0)
  c = rng.standard_normal((24, 6))
  x, y = c + 1.5 * np.eye(6)[0], c - 1.5 * np.eye(6)[0]
  np.save(tmp_path / "emb.npy", np.stack([x, y]))
  np.save(tmp_path / "x.npy", x)
  np.save(tmp_path / "y.npy", y)
  args = ["--logit-scales", "10,1", "--batch-size", "8", "--deltas=-1,0,1"]
  rc, out, _ = run_cli(["landscape", str(tmp_path / "emb.npy"), *args,
                        "--out", str(tmp_path / "a")], capsys)
  assert rc == 0 and "| 10 |" in out
  rc, _, _ = run_cli(["landscape", "--image", str(tmp_path / "x.npy"), "--text",
                      str(tmp_path / "y.npy"), *args, "--out", str(tmp_path / "b")], capsys)
  assert rc == 0
  a, b = (results.load_run(str(tmp_path / k)) for k in "ab")
  direct = landscape.landscape(x, y, logit_scales=[10.0, 1.0], batch_size=8,
                               deltas=[-1.0, 0.0, 1.0])
  for run in (a, b):
    np.testing.assert_array_equal(run.arrays["loss"], direct.loss)
    assert run.meta["kind"] == "landscape"
  assert (tmp_path / "a" / "figures" / "landscape.png").is_file()
  for argv, flag in ((["--batch-size", "1"], "--batch-size"),
                     (["--logit-scales", "0"], "--logit-scales"),
                     (["--deltas", "1,0"], "--deltas")):
    rc, _, err = run_cli(["landscape", str(tmp_path / "emb.npy"), *argv,
                          "--out", str(tmp_path / "c")], capsys)
    assert rc == 2 and f"argument {flag}" in err and len(err.strip().splitlines()) == 1
  rc, _, err = run_cli(["landscape", str(tmp_path / "x.npy"), "--out",
                        str(tmp_path / "c")], capsys)
  assert rc == 2 and "argument EMB.npy: expected shape (2, N, D)" in err
  assert not (tmp_path / "c").exists()
