import jax
import numpy as np
import pytest

from gaplab.embeddings import blocks


def test_row_blocks_cover_range_once():
  sl = list(blocks.row_blocks(10, 4))
  assert [(s.start, s.stop) for s in sl] == [(0, 4), (4, 8), (8, 10)]
  with pytest.raises(ValueError, match="block >= 1"):
    list(blocks.row_blocks(3, 0))


def test_blocked_moments_equal_full_float64():
  rng = np.random.default_rng(0)
  u = rng.normal(size=(37, 5)).astype(np.float32)
  ref = u.astype(np.float64)
  np.testing.assert_allclose(blocks.mean_rows(u, block=8), ref.mean(0), rtol=1e-13)
  c = ref - ref.mean(0)
  np.testing.assert_allclose(blocks.covariance(u, block=8), c.T @ c / 37, rtol=1e-12)
  z = np.zeros(5)
  np.testing.assert_allclose(blocks.covariance(u, z, block=8), ref.T @ ref / 37, rtol=1e-12)


def test_subset_distinct_sorted_and_keyed():
  s = blocks.subset(jax.random.key(1), 100, 30)
  assert len(set(s.tolist())) == 30 and np.all(np.diff(s) > 0) and s.max() < 100
  np.testing.assert_array_equal(s, blocks.subset(jax.random.key(1), 100, 30))
  assert not np.array_equal(s, blocks.subset(jax.random.key(2), 100, 30))
  np.testing.assert_array_equal(blocks.subset(jax.random.key(1), 5, 30), np.arange(5))
