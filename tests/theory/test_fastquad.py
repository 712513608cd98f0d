"""The compiled rules (``fastquad``) against their NumPy twins in ``meanfield``
on kernels like those a prediction visits, and a fast propagation against the
NumPy one. Same rule, same nodes: only float64 rounding (sum order, the JAX vs
SciPy phi to ~1 ulp) separates them."""
import numpy as np
import pytest

from gaplab.theory import fastquad as fq
from gaplab.theory import meanfield as mf
from gaplab.theory import propagation as pr


def _kernels(n=40, seed=0):
  rng = np.random.default_rng(seed)
  q1 = rng.uniform(0.05, 4.0, n)
  q2 = q1 * rng.uniform(0.8, 1.25, n)
  c12 = np.sqrt(q1 * q2) * np.concatenate([rng.uniform(-0.99, 0.999, n - 2), [0.0, 1.0]])
  # near the cone: squared distances from 1e-4 (q1 + q2) down to 1e-40 of it
  dist = np.maximum((q1 + q2) * 10.0 ** rng.uniform(-40, -4.1, n),
                    (np.sqrt(q1) - np.sqrt(q2)) ** 2 * (1 + 1e-6))
  return q1, q2, c12, dist


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "elu", "gelu", "relu"])
def test_compiled_rules_equal_the_numpy_rules(act):
  q1, q2, c12, dist = _kernels()
  f, df, _ = mf.functions(act)
  # kernels are O(1): absolute 1e-15 (a few ulps of summation order)
  np.testing.assert_allclose(fq.kernel(act, q1, q2, c12, order=16),
                             mf._kernel_legendre(f, f, q1, q2, c12, 16), rtol=0, atol=1e-15)
  # near-cone distances keep relative accuracy; the plain difference f(y) - f(x)
  # (|y - x| > 1e-3 |x|) carries ~1e-16 / 1e-3 relative rounding in both codes
  np.testing.assert_allclose(fq.near_distance(act, q1, q2, dist, order=16),
                             mf._distance_legendre(f, df, q1, q2, dist, 16), rtol=1e-12)


def test_fast_propagation_equals_the_numpy_propagation():
  # per-kernel variances (one network per kernel) and the compiled rules give
  # what per-network NumPy propagations give. 1 - cos relative to 1e-10: the
  # far path's k11 + k22 - 2 k12 (kernels off by ~3e-16 absolute between sum
  # orders) is used down to dist / (q1 + q2) = 1e-4, i.e. 1 - cos ~ 1e-5 with
  # ~3e-11 relative rounding in either code, and deeper layers carry that
  # relative error along (the near-cone rule keeps it, it does not add to it)
  q1, q2, _, dist = _kernels(8, seed=1)
  dist = np.sqrt(q1 * q2) * 0.5 + dist  # a well-separated start
  sw2 = np.array([1.0, 2.5])
  fast = pr.propagate("sigmoid", sigma_w2=np.broadcast_to(sw2[:, None], (6, 1, 2, 1)),
                      sigma_b2=0.1, depth=6, q1=np.broadcast_to(q1, (2, 8)),
                      q2=np.broadcast_to(q2, (2, 8)), dist=np.broadcast_to(dist, (2, 8)),
                      order=16, fast=True)["one_minus_cos"]
  for i, w in enumerate(sw2):
    ref = pr.propagate("sigmoid", sigma_w2=w, sigma_b2=0.1, depth=6, q1=q1, q2=q2,
                       dist=dist, order=16)["one_minus_cos"]
    np.testing.assert_allclose(fast[:, i], ref, rtol=1e-10)
