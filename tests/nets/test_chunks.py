"""Chunked, padded calls (gaplab.nets.chunks) equal one call on all rows."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gaplab.nets import chunks


def _per_row(row):
  """A per-row computation with a pytree output: (scalar, vector)."""
  a, k = row["a"], row["k"]
  noise = jax.random.normal(k, a.shape, a.dtype)
  return {"s": jnp.sum(jnp.sin(a) * noise), "v": a * 2.0 + noise}


def _rows(n, d=4):
  a = np.random.default_rng(0).normal(size=(n, d))
  keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(3), i))(jnp.arange(n))
  return {"a": jnp.asarray(a), "k": keys}, a


def test_pad_index_repeats_the_last_row():
  np.testing.assert_array_equal(chunks.pad_index(0, 3, 7), [0, 1, 2])
  np.testing.assert_array_equal(chunks.pad_index(6, 3, 7), [6, 6, 6])
  np.testing.assert_array_equal(chunks.pad_index(4, 4, 7), [4, 5, 6, 6])


@pytest.mark.parametrize("n,chunk", [(7, 3), (7, 7), (7, 10), (6, 2), (1, 4)])
def test_chunks_reassemble_the_unchunked_call(n, chunk):
  rows, a = _rows(n)
  fn = jax.jit(jax.vmap(_per_row))
  calls = []

  def spy(part):
    calls.append(np.asarray(part["a"]))
    return fn(part)

  got = chunks.chunked(spy, rows, n, chunk)
  want = jax.tree.map(np.asarray, fn(rows))
  for k in ("s", "v"):
    assert isinstance(got[k], np.ndarray) and got[k].shape == want[k].shape
    np.testing.assert_array_equal(got[k], want[k], err_msg=k)  # rows are independent
  # every call has the compiled shape; the padding repeats the last row
  assert len(calls) == -(-n // chunk)
  assert all(c.shape == (chunk, a.shape[1]) for c in calls)
  np.testing.assert_array_equal(np.concatenate(calls)[:n], a)
  pad = len(calls) * chunk - n
  np.testing.assert_array_equal(np.concatenate(calls)[n:], np.repeat(a[-1:], pad, axis=0))
  # and the NumPy float64 reference of the deterministic part
  draw = lambda k: jax.random.normal(k, (a.shape[1],), jnp.float64)
  noise = np.asarray(jax.vmap(draw)(rows["k"]))
  np.testing.assert_allclose(got["v"], 2.0 * a + noise, rtol=1e-15, atol=1e-15)
  np.testing.assert_allclose(got["s"], np.sum(np.sin(a) * noise, axis=1), rtol=1e-13, atol=1e-14)


def test_shard_leaves_a_tree_alone_on_one_device():
  tree = {"a": jnp.ones((4, 2))}
  ndev = len(jax.devices())
  if ndev == 1:
    assert chunks.shard(tree, 4) is tree
  else:  # rows that do not split evenly stay where they are
    assert chunks.shard(tree, ndev + 1) is tree


def test_global_chunk_gives_each_device_the_chunk_or_its_share():
  assert chunks.global_chunk(2, 8, n_devices=4) == 8   # 2 per device, as on one device
  assert chunks.global_chunk(5, 8, n_devices=4) == 8   # 8 rows: 2 per device suffice
  assert chunks.global_chunk(3, 7, n_devices=1) == 3
  assert chunks.global_chunk(4, 3, n_devices=2) == 4   # ceil(3 / 2) = 2 per device


def test_agreed_chunks_refuse_sizes_that_do_not_split_over_the_devices(monkeypatch):
  from gaplab._errors import ConfigError
  assert chunks.agreed_chunks([3, 5]) == [3, 5] or len(jax.devices()) > 1
  monkeypatch.setattr(jax, "devices", lambda: ["d0", "d1"])
  assert chunks.agreed_chunks([4, 6], item="run") == [4, 6]
  with pytest.raises(ConfigError, match="split over 2 devices, got chunks of 3 runs") as e:
    chunks.agreed_chunks([4, 3], item="run")
  assert e.value.field == "resume"
