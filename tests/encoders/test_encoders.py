"""Random-init encoders (gaplab.encoders): shapes, determinism, vmap over seeds,
causality of the text encoder, dtypes, cone statistics and config errors.

Most tests use tiny configs (compiles dominate the time); default sizes are
checked for shapes with ``jax.eval_shape`` (no compile)."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gaplab import encoders
from gaplab._errors import ConfigError
from gaplab.cone.stats import cone_stats

TINY = {
    "resnet": dict(image_size=8, widths=(4, 4), embed_dim=8),  # stride 2 + 1x1 shortcut
    "vit": dict(image_size=8, patch=4, dim=16, depth=1, heads=2, embed_dim=8),
    "text": dict(vocab=50, length=6, dim=16, depth=2, heads=2, embed_dim=8),
}
B = 8


@pytest.fixture(scope="module", autouse=True)
def fast_threefry():
  """XLA:CPU compiles the partitionable threefry about 4x slower (about 0.8 s per
  parameter shape); these tests check properties, not values, so they use the
  other stream for speed, and restore the setting afterwards."""
  old = jax.config.jax_threefry_partitionable
  jax.config.update("jax_threefry_partitionable", False)
  yield
  jax.config.update("jax_threefry_partitionable", old)


@pytest.fixture(scope="module", params=encoders.NAMES)
def tiny(request):
  name = request.param
  enc = encoders.build(name, encoders.config(name, **TINY[name]))
  return enc, enc.inputs(jax.random.key(100), B)


def expected_features(name, cfg):
  """Flattened feature count of every layer, by hand."""
  if name == "resnet":
    sizes, s = [], cfg.image_size
    sizes.append(s * s * cfg.widths[0])
    for i, w in enumerate(cfg.widths):
      s = s if i == 0 else -(-s // 2)
      sizes += [s * s * w] * cfg.blocks
    return sizes + [cfg.widths[-1], cfg.embed_dim]
  tokens = (cfg.image_size // cfg.patch) ** 2 + 1 if name == "vit" else cfg.length
  return [tokens * cfg.dim] * (cfg.depth + 1) + [cfg.dim, cfg.embed_dim]


@pytest.mark.parametrize("name", encoders.NAMES)
@pytest.mark.parametrize("sizes", ["default", "tiny"])
def test_shapes(name, sizes):
  cfg = encoders.config(name, **({} if sizes == "default" else TINY[name]))
  enc = encoders.build(name, cfg)
  state = jax.eval_shape(enc.init, jax.random.key(0))
  x = jax.eval_shape(lambda k: enc.inputs(k, 3), jax.random.key(0))
  emb, layers = jax.eval_shape(enc.apply, state, x)
  assert emb.shape == (3, cfg.embed_dim) and emb.dtype == jnp.float32
  assert len(layers) == len(enc.layer_names)
  assert enc.layer_names[0] == "stem" and enc.layer_names[-2:] == ("pooled", "embedding")
  assert [l.shape for l in layers] == [(3, f) for f in expected_features(name, cfg)]
  assert all(l.dtype == jnp.float32 for l in layers)


def test_default_sizes():
  assert encoders.config("resnet").widths == (16, 32, 64)
  vit, text = encoders.config("vit"), encoders.config("text")
  assert (vit.image_size, vit.patch, vit.dim, vit.depth, vit.heads) == (32, 8, 64, 4, 4)
  assert (text.vocab, text.length, text.dim, text.depth) == (1000, 16, 64, 4)


def test_determinism(tiny):
  enc, x = tiny
  run = lambda seed: enc.apply(enc.init(jax.random.key(seed)), x)
  a, b, c = run(0), run(0), run(1)
  for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
  assert not np.allclose(np.asarray(a[0]), np.asarray(c[0]))
  assert np.all(np.isfinite(np.asarray(a[0])))


def test_vmap_over_seeds_equals_loop_and_jit(tiny):
  enc, x = tiny
  keys = jax.random.split(jax.random.key(7), 3)
  states = jax.vmap(enc.init)(keys)
  emb, layers = jax.jit(jax.vmap(enc.apply, in_axes=(0, None)))(states, x)
  assert emb.shape == (3, B, enc.cfg.embed_dim)
  # a batched conv kernel becomes a grouped conv, which sums in another order:
  # float32 rounding, so the absolute tolerance scales with each layer's size
  close = lambda a, b: np.testing.assert_allclose(
      a, b, rtol=1e-6, atol=1e-5 * float(np.max(np.abs(b))))
  for s in range(3):
    e1, l1 = enc.apply(enc.init(keys[s]), x)
    close(emb[s], e1)
    for u, v in zip(layers, l1):
      close(u[s], v)


def test_text_causal_last_pooling():
  enc = encoders.build("text", encoders.config("text", **TINY["text"]))
  state = enc.init(jax.random.key(0))
  tok = np.array(enc.inputs(jax.random.key(1), 2))
  j = 3
  tok2 = tok.copy()
  tok2[:, j] = (tok2[:, j] + 1) % enc.cfg.vocab
  (e1, l1), (e2, l2) = enc.apply(state, tok), enc.apply(state, tok2)
  d = enc.cfg.dim
  for name, u, v in zip(enc.layer_names[:-2], l1, l2):  # residual streams, per position
    u, v = np.asarray(u).reshape(2, -1, d), np.asarray(v).reshape(2, -1, d)
    np.testing.assert_array_equal(u[:, :j], v[:, :j], err_msg=name)
    assert not np.allclose(u[:, j:], v[:, j:]), name
  assert not np.allclose(e1, e2)  # the last position sees every token


def test_text_causal_argmax_pooling():
  cfg = encoders.config("text", pool="argmax", **TINY["text"])
  enc = encoders.build("text", cfg)
  state = enc.init(jax.random.key(0))
  tok = np.array(enc.inputs(jax.random.key(1), 2)) % (cfg.vocab - 1)
  tok[:, 2] = cfg.vocab - 1  # the "EOT" (largest id) at position 2
  later = tok.copy()
  later[:, 4] = (later[:, 4] + 1) % (cfg.vocab - 1)
  earlier = tok.copy()
  earlier[:, 1] = (earlier[:, 1] + 1) % (cfg.vocab - 1)
  e0, e_later, e_earlier = (np.asarray(enc.apply(state, t)[0]) for t in (tok, later, earlier))
  np.testing.assert_allclose(e0, e_later, rtol=0, atol=1e-6)
  assert not np.allclose(e0, e_earlier)


def test_resnet_norms_differ_and_batchnorm_uses_batch():
  x = encoders.build("resnet", encoders.config("resnet", **TINY["resnet"])).inputs(
      jax.random.key(3), B)
  out = {}
  for norm in ("none", "batch", "group"):
    enc = encoders.build("resnet", encoders.config("resnet", norm=norm, groups=2,
                                                   **TINY["resnet"]))
    state = enc.init(jax.random.key(0))
    out[norm] = np.asarray(enc.apply(state, x)[0])
    assert np.all(np.isfinite(out[norm]))
    if norm == "batch":  # train-mode statistics: an example depends on its batch
      assert not np.allclose(enc.apply(state, x[:2])[0][0], out[norm][0])
    else:
      np.testing.assert_allclose(enc.apply(state, x[:2])[0], out[norm][:2], rtol=1e-5, atol=1e-6)
  for a, b in itertools.combinations(out, 2):
    assert not np.allclose(out[a], out[b]), (a, b)


def test_float32_stays_float32_under_x64(tiny):
  enc, x = tiny
  assert x.dtype == (jnp.int32 if enc.name == "text" else jnp.float32)
  state = enc.init(jax.random.key(0))
  assert all(l.dtype == jnp.float32 for l in jax.tree.leaves(state))
  emb, layers = enc.apply(state, np.asarray(x))  # NumPy inputs are accepted too
  assert emb.dtype == jnp.float32 and all(l.dtype == jnp.float32 for l in layers)


def brute_mean_cos(x):
  x = np.asarray(x, np.float64)
  u = x / np.linalg.norm(x, axis=1, keepdims=True)
  g = u @ u.T
  n = len(x)
  return (g.sum() - np.trace(g)) / (n * (n - 1))


def test_cone_stats_of_embeddings_match_brute_force(tiny):
  enc, x = tiny
  emb, _ = enc.apply(enc.init(jax.random.key(0)), x)
  np.testing.assert_allclose(float(cone_stats(emb)["mean_cos"]), brute_mean_cos(emb),
                             rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", encoders.NAMES)
def test_float64_and_cone_stats(name):
  enc = encoders.build(name, encoders.config(name, dtype="float64", **TINY[name]))
  state = enc.init(jax.random.key(0))
  assert all(l.dtype == jnp.float64 for l in jax.tree.leaves(state))
  x = enc.inputs(jax.random.key(1), 12)
  assert x.dtype == (jnp.int32 if name == "text" else jnp.float64)
  emb, layers = enc.apply(state, x)
  assert emb.dtype == jnp.float64 and all(l.dtype == jnp.float64 for l in layers)
  np.testing.assert_allclose(float(cone_stats(emb)["mean_cos"]), brute_mean_cos(emb),
                             rtol=1e-10, atol=1e-12)


def test_inputs():
  img = encoders.build("vit").inputs(jax.random.key(0), 5)
  assert img.shape == (5, 32, 32, 3) and img.dtype == jnp.float32
  assert abs(float(jnp.mean(img))) < 0.05 and abs(float(jnp.std(img)) - 1) < 0.05
  tok = encoders.build("text").inputs(jax.random.key(0), 64)
  assert tok.shape == (64, 16) and tok.dtype == jnp.int32
  assert int(tok.min()) >= 0 and int(tok.max()) < 1000 and len(np.unique(tok)) > 500


def one_line(err, field):
  assert err.value.field == field
  assert "\n" not in str(err.value) and str(err.value).startswith(field + ":")


@pytest.mark.parametrize("name, bad, field", [
    ("resnet", {"depth": 3}, "depth"),
    ("vit", {"widths": (8,)}, "widths"),
    ("text", {"patch": 4}, "patch"),
    ("resnet", {"widths": ()}, "widths"),
    ("resnet", {"widths": (8, 0)}, "widths"),
    ("resnet", {"norm": "layer"}, "norm"),
    ("resnet", {"norm": "group", "groups": 3}, "groups"),
    ("resnet", {"image_size": 2, "widths": (4, 4, 4)}, "image_size"),
    ("vit", {"patch": 5}, "patch"),
    ("vit", {"heads": 3}, "heads"),
    ("vit", {"depth": 0}, "depth"),
    ("vit", {"dim": 16.0}, "dim"),
    ("text", {"vocab": True}, "vocab"),
    ("text", {"pool": "mean"}, "pool"),
    ("text", {"dtype": "float16"}, "dtype"),
])
def test_bad_config(name, bad, field):
  with pytest.raises(ConfigError) as err:
    encoders.config(name, **bad)
  one_line(err, field)


def test_bad_name_and_mismatched_config():
  with pytest.raises(ConfigError) as err:
    encoders.config("bert")
  one_line(err, "encoder")
  with pytest.raises(ConfigError) as err:
    encoders.build("vit", encoders.config("text"))
  one_line(err, "config")
  with pytest.raises(ConfigError) as err:
    encoders.ViTConfig.from_dict({"dim": 32, "width": 3})
  one_line(err, "width")
  assert encoders.ViTConfig.from_dict({"dim": 32}).dim == 32


def test_bad_inputs():
  vit = encoders.build("vit", encoders.config("vit", **TINY["vit"]))
  text = encoders.build("text", encoders.config("text", **TINY["text"]))
  bn = encoders.build("resnet", encoders.config("resnet", **TINY["resnet"]))
  cases = [
      (vit, np.zeros((2, 3, 8, 8), np.float32)),   # NCHW
      (vit, np.zeros((2, 8, 8), np.float32)),
      (vit, np.zeros((2, 8, 8, 3), bool)),
      (text, np.zeros((2, 7), np.int32)),
      (text, np.zeros((2, 6), np.float32)),
      (text, np.full((2, 6), 50, np.int32)),        # id == vocab
      (text, np.full((2, 6), -1, np.int32)),
      (bn, np.zeros((1, 8, 8, 3), np.float32)),     # batch norm needs B >= 2
  ]
  for enc, x in cases:
    with pytest.raises(ConfigError) as err:
      enc.check(x)
    one_line(err, "inputs")
  with pytest.raises(ConfigError) as err:
    vit.inputs(jax.random.key(0), 0)
  one_line(err, "batch")
