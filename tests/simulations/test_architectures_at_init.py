"""The architectures-at-init experiment at tiny size: the sweep's statistics
code on every layer of every encoder, against brute force."""
import jax
import numpy as np
import pytest

from gaplab import encoders
from gaplab.simulations import architectures_at_init as arch
from tinyrun import tiny_run


@pytest.mark.slow
def test_tiny_run_figure_and_report(tmp_path, capsys):
  run, printed = tiny_run(arch, str(tmp_path / "a"), capsys)
  assert "| vit |" in printed
  for n in ("resnet", "vit", "text"):
    layers = run.meta["encoders"][n]["layers"]
    assert run.arrays[f"{n}_mean_cos"].shape == (2, len(layers))
    assert layers[-2:] == ["pooled", "embedding"]
    assert run.arrays[f"{n}_hist"].sum(axis=1).tolist() == [16 * 15 // 2] * 2


@pytest.mark.parametrize("name", ["vit", "text"])
def test_layer_statistics_equal_brute_force(name):
  enc = encoders.sized(name, "tiny")
  m = arch.measure(enc, seeds=2, seed=0, n_inputs=10, input_seed=1, n_bins=10)
  keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(np.arange(2))
  states = jax.vmap(enc.init)(keys)
  x = enc.inputs(jax.random.key(1), 10)
  _, layers = jax.vmap(enc.apply, in_axes=(0, None))(states, x)
  for li, h in enumerate(layers):
    for s in range(2):
      u = np.asarray(h[s], np.float64)
      u /= np.linalg.norm(u, axis=1, keepdims=True)
      g = (u @ u.T)[~np.eye(10, dtype=bool)]
      # float32 features: cosines to ~1e-6
      assert m["mean_cos"][s, li] == pytest.approx(g.mean(), abs=2e-6)
      assert m["min_cos"][s, li] == pytest.approx(g.min(), abs=2e-6)


def test_bad_encoder_name(tmp_path, capsys):
  assert arch.main(["--tiny", "--out", str(tmp_path / "x"), "--set",
                    'encoders=["clip"]']) == 2
  assert "argument --set encoders" in capsys.readouterr().err
