"""The shared MLP (gaplab.nets.mlp) against float64 NumPy loops: the layer, the
scanned depth loop with collected per-layer values, zero-padding of narrower
layers, weights built inside the loop, the block orders; the MLP tower on it;
and the cone engine's variant-batched block as the same MLP."""
import numpy as np
import jax
import jax.numpy as jnp
import pytest

from gaplab.cone import engine
from gaplab.cone.config import ConeConfig
from gaplab.nets import activations
from gaplab.nets import mlp
from gaplab.training import towers

# float64, O(1) values, <= 4 layers of width <= 12: both sides agree to ~1e-15;
# a wrong weight, bias, layer order or activation moves results by >= 1e-2.
TOL = dict(rtol=1e-12, atol=1e-12)
NP_PHI = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh}


def _phi(name):
  return lambda z: activations.get(name).fn(z, jnp.nan)


def _stack(rng, depth, fan_in, width, scale=0.6):
  w = scale * rng.normal(size=(depth, fan_in, width))
  b = 0.3 * rng.normal(size=(depth, width))
  return w, b


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_forward_is_the_numpy_layer_loop_and_collects_every_layer(act):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(7, 5))
  w, b = _stack(rng, 4, 5, 5)
  collect = lambda x_in, z, y: (jnp.sum(x_in * x_in), z, y)
  h, (sq, zs, ys) = mlp.forward(jnp.asarray(x), (jnp.asarray(w), jnp.asarray(b)),
                                _phi(act), collect=collect)
  ref, ref_sq, ref_z, ref_y = x, [], [], []
  for l in range(4):
    ref_sq.append(np.sum(ref * ref))
    z = ref @ w[l] + b[l]
    ref = NP_PHI[act](z)
    ref_z.append(z)
    ref_y.append(ref)
  np.testing.assert_allclose(h, ref, **TOL)
  np.testing.assert_allclose(sq, ref_sq, **TOL)
  np.testing.assert_allclose(zs, np.stack(ref_z), **TOL)
  np.testing.assert_allclose(ys, np.stack(ref_y), **TOL)
  # one layer is phi(h W + b), and no collect means nothing stacked
  np.testing.assert_allclose(mlp.layer(jnp.asarray(x), w[0], b[0], _phi(act)), ref_y[0], **TOL)
  assert mlp.forward(jnp.asarray(x), (w, b), _phi(act))[1] is None


def test_narrower_layers_are_zero_padded_and_weights_can_be_built_in_the_loop():
  # inputs 9 wide, layers 4 wide: the carry stays 9 wide; layer l >= 2 reads
  # only the first 4 rows of its (9, 4) weights (the rest multiply zeros)
  rng = np.random.default_rng(1)
  x = rng.normal(size=(6, 9))
  w, b = _stack(rng, 3, 9, 4)
  scales = np.array([0.5, 1.5, 1.0])

  def weights(entry):  # the layer's map from per-layer data, inside the loop
    l, s = entry
    return jnp.asarray(w)[l] * s, jnp.asarray(b)[l]

  h, ys = mlp.forward(jnp.asarray(x), (jnp.arange(3), jnp.asarray(scales)), _phi("relu"),
                      weights=weights, collect=lambda x_in, z, y: y)
  ref = x
  for l in range(3):
    ref = np.maximum(ref @ (w[l] * scales[l])[:ref.shape[1]] + b[l], 0)
  assert h.shape == (6, 9) and ys.shape == (3, 6, 4)  # collect sees the unpadded y
  np.testing.assert_allclose(h[:, :4], ref, **TOL)
  assert np.all(np.asarray(h[:, 4:]) == 0)
  np.testing.assert_allclose(ys[-1], ref, **TOL)
  with pytest.raises(ValueError, match="at most 4 wide"):
    mlp.forward(jnp.zeros((2, 4)), (jnp.zeros((1, 4, 6)), jnp.zeros((1, 6))), _phi("relu"))


@pytest.mark.parametrize("order", mlp.BLOCKS)
def test_block_orders_match_numpy(order):
  rng = np.random.default_rng(2)
  x = rng.normal(size=(5, 3))
  maps = {1: (rng.normal(size=(3, 3)), rng.normal(size=3)),
          2: (rng.normal(size=(3, 3)), rng.normal(size=3))}
  linear = lambda a, which: mlp.affine(a, *(jnp.asarray(m) for m in maps[which]))
  got = mlp.block(order, jnp.asarray(x), linear, jnp.tanh)
  aff = lambda a, which: a @ maps[which][0] + maps[which][1]
  want = {"linear-act": np.tanh(aff(x, 1)), "act-linear": aff(np.tanh(x), 1),
          "linear-act-linear": aff(np.tanh(aff(x, 1)), 2)}[order]
  np.testing.assert_allclose(got, want, **TOL)


def test_unknown_block_order_is_an_error():
  with pytest.raises(ValueError, match="act-linear.*got 'act-act'"):
    mlp.block("act-act", jnp.zeros((1, 1)), lambda a, which: a, jnp.tanh)


def test_mlp_tower_is_the_numpy_mlp_then_projection():
  cfg = towers.MLPConfig(view_dim=6, width=8, depth=3, embed_dim=4, activation="leaky_relu:0.2")
  p = towers.mlp_init(cfg, jax.random.key(1), jnp.float64)
  v = np.random.default_rng(3).normal(size=(5, 6))
  got = towers.mlp_apply(cfg, p, jnp.asarray(v))
  n = jax.tree.map(lambda a: np.asarray(a, np.float64), p)
  leaky = lambda z: np.where(z >= 0, z, 0.2 * z)
  h = leaky(v @ n["inp"]["w"] + n["inp"]["b"])
  for l in range(cfg.depth - 1):
    h = leaky(h @ n["hidden"]["w"][l] + n["hidden"]["b"][l])
  np.testing.assert_allclose(got, h @ n["proj"]["w"], **TOL)


def test_cone_engine_is_the_same_mlp_batched_over_variants():
  # the engine computes (h @ base) * scale for all variants at once; the single
  # network mlp.layer / mlp.forward on its explicit W = scale * base agrees to
  # rounding (not bitwise: the scale is rounded in at another point)
  cfg = ConeConfig(depth=3, widths=(6,), input_dim=5, n_samples=7, seeds=1, seed_chunk=1,
                   dtype="float64", precision="highest", activations=("relu", "tanh"),
                   inits=("gaussian",), sigma_w=(0.8, 1.4))
  emb, x = engine.embeddings(cfg)
  variants = cfg.variants()
  for vi, var in enumerate(variants):
    maps = [engine.explicit_weights(cfg, var, 0, l, 6, 5)[0] for l in (1, 2, 3)]
    phi = lambda z, a=activations.get(var.activation): a.fn(z, var.act_param)
    h = mlp.layer(jnp.asarray(x[0]), *maps[0], phi)
    h, _ = mlp.forward(h, tuple(jnp.asarray(np.stack(m)) for m in zip(*maps[1:])), phi)
    np.testing.assert_allclose(emb[0, vi], h, **TOL)
    ref = x[0]
    for w, b in maps:
      ref = NP_PHI[var.activation](ref @ w + b)
    np.testing.assert_allclose(emb[0, vi], ref, **TOL)
