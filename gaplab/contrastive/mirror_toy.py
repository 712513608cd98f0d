"""The paper's second mismatch toy: nine pairs on two mirrored circles of S^2.

Source: the authors' notebook ``Figure_3_Contrastive_Learning/
mismatched_simulation.ipynb`` (repository Weixin-Liang/Modality-Gap, commit
8e20cb2), functions ``init_points`` and ``calc_loss``.

Construction. Nine unit vectors u_i = (cos phi_i, sin phi_i) on the unit circle,
in the notebook's order: (1, 0), (-1, 0), (0, 1), (0, -1), (r, r), (-r, r),
(r, -r), (-r, -r), (cos theta, sin theta), r = 1/sqrt(2), theta = 0.03 pi +
1.5 pi (phi = 0, 180, 90, 270, 45, 135, 315, 225 and 275.4 degrees: the ninth
sits 5.4 degrees from the fourth). At height z in [-1, 1], a = sqrt(1 - z^2),

    image x_i = (a u_i, +z),    text y_i = (a u_i, -z)

(the notebook writes b = a/sqrt(2) for a r). Loss at logit scale s with a label
vector l (target of image i is text l_i; the notebook uses the SAME vector for
the text->image direction, so column j's target is image l_j):

    loss = 1/2 [ mean_i (lse_j S_ij - S_{i,l_i}) + mean_j (lse_i S_ij - S_{l_j,j}) ],
    S = s X Y^T.

Label settings: ``matched`` l = arange(9); ``swap``, a true swap of pairs 3 and 8
(l = [0,1,2,8,4,5,6,7,3]); ``as_executed`` l = [0,1,2,8,4,5,6,7,8], what the
notebook's code computes: ``labels[3], labels[8] = labels[8], labels[3]`` on a
1-D torch tensor, whose elements are 0-d views, so labels[3] becomes 8 before
labels[8] reads it back (pytorch issue #17008). Image 3 and image 8 then both
target text 8, and texts 3 and 8 both target image 8. Checked once against
the notebook's own ``init_points`` and ``calc_loss`` run in torch 2.13.0 (in
float64): its swap line leaves [0, 1, 2, 8, 4, 5, 6, 7, 8], and its losses
equal ``label_loss`` for ``matched`` and ``as_executed`` to 5e-14 at z in
{-0.7, 0, 0.3, 0.95}, s in {1, 50, 1000} (torch is not a dependency of the
lab, so this is not a test).

Exact optimum. x_i . y_j = a^2 u_i . u_j - z^2 = (1 - z^2) C_ij - z^2 with
C_ij = cos(phi_i - phi_j). The -s z^2 shifts every logit of a row, the target
included, and every logit of a column alike, and lse(v + c) - (v_l + c) =
lse(v) - v_l, so

    loss(z, s) = L(s (1 - z^2)),   L(t) = the loss of the logits t C.

Each cross-entropy term is lse_j(t C_ij) - t C_{i,l_i}: a log-sum-exp of
affine functions of t minus a linear one, so L is convex in t, with slope

    dL/dt = 1/2 [ mean_i sum_j w_ij (C_ij - C_{i,l_i}) + mean_j sum_i v_ij (C_ij - C_{l_j,j}) ]

(w, v: the row and column softmaxes of t C), written as margins so that no
1 - 1 cancels. If every labelled target is the largest entry of its row and
column (``matched``) the slope is < 0 for every t and L falls for ever (t* =
inf); otherwise L has one minimiser t*, found by bisection of the slope on
log t (``sphere.loss_slope`` and ``sphere.optimal_scale`` with labels).
As |z| goes from 0 to 1, t = s(1 - z^2) falls from s to 0; by convexity
the best t in [0, s] is min(t*, s), hence

    |z*| = sqrt(max(0, 1 - t*/s)),   gap* = |mean x - mean y| = 2 |z*|

(both centroids have the xy part a mean(u): the gap is exactly 2|z|). The loss is
even in z: z -> -z exchanges x and y, i.e. transposes S, and the same labels in
both directions make the loss invariant under that. t* = 24.52 for the true
swap, 34.20 as executed, inf matched: the gap opens for s > t* only, as in the
first toy (``gaplab.contrastive.sphere``, t* = 21.2).

Functions are pure and jit/vmap-able; input checks run on concrete values only.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gaplab._errors import ConfigError
from gaplab.contrastive.sphere import centroid_gap, check_grid, optimal_scale

NINTH_ANGLE = 0.03 * np.pi + 1.5 * np.pi  # radians, the notebook's theta
_R = np.sqrt(0.5)
CIRCLE = ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0), (_R, _R), (-_R, _R), (_R, -_R),
          (-_R, -_R), (np.cos(NINTH_ANGLE), np.sin(NINTH_ANGLE)))
LABELS = {"matched": tuple(range(9)), "swap": (0, 1, 2, 8, 4, 5, 6, 7, 3),
          "as_executed": (0, 1, 2, 8, 4, 5, 6, 7, 8)}
SETTINGS = tuple(LABELS)
MIRROR_LOGIT_SCALES = (1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0)
_HIGHEST = jax.lax.Precision.HIGHEST


def label_vector(setting: str) -> jnp.ndarray:
  """The (9,) label vector of a setting (``SETTINGS``)."""
  if setting not in LABELS:
    raise ConfigError("labels", f"expected one of {', '.join(SETTINGS)}, got {setting!r}")
  return jnp.asarray(LABELS[setting])


def circle(dtype=jnp.float64):
  """The nine unit vectors u_i (9, 2) in the notebook's order."""
  return jnp.asarray(CIRCLE, dtype)


def cosine_matrix(dtype=jnp.float64):
  """C_ij = u_i . u_j = cos(phi_i - phi_j), (9, 9)."""
  u = circle(dtype)
  return jnp.matmul(u, u.T, precision=_HIGHEST)


def points(z, dtype=jnp.float64):
  """(x, y) (9, 3): images (a u_i, z) and texts (a u_i, -z), a = sqrt(1 - z^2),
  z in [-1, 1]. Vmappable over z."""
  if not isinstance(z, jax.core.Tracer):
    check_grid("z", np.atleast_1d(z), -1.0, 1.0)
  z = jnp.asarray(z, dtype)
  xy = jnp.sqrt(1 - z * z) * circle(dtype)
  h = jnp.full((xy.shape[0], 1), z, dtype)
  return jnp.concatenate([xy, h], axis=1), jnp.concatenate([xy, -h], axis=1)


def label_loss(logits, labels):
  """1/2 [CE(S, l) + CE(S^T, l)] of an (n, n) logit matrix S, the same labels
  l (n,) for both directions: row i targets column l_i, column j row l_j."""
  idx = jnp.arange(logits.shape[0])
  rows = jax.nn.logsumexp(logits, axis=1) - logits[idx, labels]
  cols = jax.nn.logsumexp(logits, axis=0) - logits[labels, idx]
  return 0.5 * (jnp.mean(rows) + jnp.mean(cols))


def optimal_shift(t_star, scales):
  """|z*| = sqrt(max(0, 1 - t*/s)), broadcast over t* (..., 1) and s; 0 for
  t* = inf. The optimal gap is 2 |z*|."""
  return jnp.sqrt(jnp.maximum(0.0, 1 - jnp.asarray(t_star) / jnp.asarray(scales)))


@jax.jit
def _mirror_program(zs, scales, labels):
  def one_z(z):
    x, y = points(z, zs.dtype)
    sim = jnp.matmul(x, y.T, precision=_HIGHEST)
    loss = jax.vmap(lambda lab: jax.vmap(lambda s: label_loss(s * sim, lab))(scales))(labels)
    return loss, centroid_gap(x, y)

  loss, gap = jax.vmap(one_z)(zs)  # (z, setting, scale), (z,)
  cmat = cosine_matrix(zs.dtype)
  t_star = jax.vmap(lambda lab: optimal_scale(cmat, lab))(labels)
  best = jax.vmap(lambda lab, t: jax.vmap(
      lambda s: label_loss(jnp.minimum(t, s) * cmat, lab))(scales))(labels, t_star)
  return jnp.moveaxis(loss, 0, 1), gap, t_star, best


def mirror_curves(zs, scales, settings=SETTINGS):
  """Loss (setting, z, scale), measured gap |mean x - mean y| (z,), t*
  (setting,) and the exact minimum over z, L(min(t*, s)) (setting, scale): one
  jitted program for all label settings (labels are an argument)."""
  labels = jnp.stack([label_vector(s) for s in settings])
  check_grid("zs", zs, -1.0, 1.0)
  check_grid("logit_scales", scales, positive=True)
  return _mirror_program(jnp.asarray(zs), jnp.asarray(scales), labels)
