"""Gap metrics of paired unit embeddings that cost O(N D) (and a D x D eigenproblem).

Inputs are unit rows ``a``, ``b`` (N, D), float32 or float64 NumPy, row i of
``a`` paired with row i of ``b``. Every statistic runs over blocks of ``block``
rows (``blocks.row_blocks``; ``None`` = all rows in one block), accumulating in
float64, so no (N, N) and no float64 (N, D) copy of a modality is ever made.
The O(N^2)-looking ones reduce to moments exactly: for unit rows

    mean_{i != j} u_i.u_j = (N |mu|^2 - 1) / (N - 1),   mu = mean_i u_i,

and |x - y|^2 / 4 = (1 - x.y) / 2 on the sphere, so Schrodi et al.'s relative
modality gap needs only |mu_A|^2, |mu_B|^2 and mean_i |a_i - b_i|^2.

Sources, read offline: Liang et al. 2022 (Weixin-Liang/Modality-Gap,
Figure_3_Contrastive_Learning/get_gap_stats.ipynb: "Euclidean distance between
mass centers", norm(mean(img) - mean(txt))); Schrodi et al. 2025
(lmb-freiburg/two-effects-one-trigger, analysis/gap_precompute.py: compute_l2m,
compute_l2i, compute_rmg); Wang & Isola 2020 (alignment); Fahim et al.
(abrar-fahim/contrastive-gap, src/evaluator.py). Pairwise statistics
(uniformity, cones, histograms, separability) live in ``pairwise``.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import numpy as np
import scipy.linalg

from gaplab.embeddings import blocks
from gaplab.embeddings.blocks import DEFAULT_BLOCK, f64

RMG_VARIANTS = ("schrodi", "floor", "unclamped", "sum_intra")
RMG_CLAMP = 1e-3  # compute_rmg's replacement for a matched distance <= 0


def _rows(n: int, block: int | None) -> int:
  """Rows per block: ``block``, or all ``n`` rows at once when it is None."""
  return max(n, 1) if block is None else block


def _pair(a: np.ndarray, b: np.ndarray, min_rows: int = 1) -> int:
  """N of two paired (N, D) arrays; ValueError for anything else."""
  if a.ndim != 2 or a.shape != b.shape:
    raise ValueError(f"Expected two (N, D) arrays of one shape, got {a.shape} and {b.shape}")
  if a.shape[0] < min_rows:
    raise ValueError(f"Expected at least {min_rows} rows, got {a.shape[0]}")
  return a.shape[0]


def _sums(a, b, block) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
  """sum_i a_i, sum_i b_i, sum_i (a_i - b_i), sum_i |a_i - b_i|^2 in float64."""
  d = a.shape[1]
  s_a, s_b, s_d, sq = np.zeros(d), np.zeros(d), np.zeros(d), 0.0
  for s in blocks.row_blocks(a.shape[0], _rows(a.shape[0], block)):
    x, y = f64(a[s]), f64(b[s])
    diff = x - y
    s_a += x.sum(0)
    s_b += y.sum(0)
    s_d += diff.sum(0)
    sq += float(np.einsum("ij,ij->", diff, diff))
  return s_a, s_b, s_d, sq


def l2m(a, b, block: int | None = DEFAULT_BLOCK) -> dict:
  """Centroid distance |mu_A - mu_B| (Liang et al. 2022; Schrodi compute_l2m:
  ``(image.mean(0) - text.mean(0)).norm()``) and its decomposition

      l2m^2 = |mu_A|^2 + |mu_B|^2 - 2 mu_A.mu_B.

  ``l2m`` comes from the mean of the differences a_i - b_i itself, so it stays
  accurate when the gap is small; ``centroid_cos`` = mu_A.mu_B / (|mu_A| |mu_B|)
  (Fahim et al.'s centroid_cosine_similarity), NaN when a centroid is 0.
  Variant not offered: Fahim et al.'s get_centroid_euclidean_distance divides
  each *column* by its norm (dim=0) before the means, not the rows.
  """
  n = _pair(a, b)
  s_a, s_b, s_d, _ = _sums(a, b, block)
  mu_a, mu_b = s_a / n, s_b / n
  sq_a, sq_b, cross = float(mu_a @ mu_a), float(mu_b @ mu_b), float(mu_a @ mu_b)
  cos = cross / np.sqrt(sq_a * sq_b) if sq_a * sq_b > 0 else float("nan")
  return {"l2m": float(np.linalg.norm(s_d / n)), "mu_a_sq": sq_a, "mu_b_sq": sq_b,
          "cross": cross, "centroid_cos": float(cos)}


def l2i(a, b, block: int | None = DEFAULT_BLOCK) -> float:
  """Mean distance of paired rows, mean_i |a_i - b_i| (the mean of the norms,
  not the norm of a mean): Schrodi compute_l2i, ``(img - txt).norm(dim=-1).mean()``;
  Fahim et al.'s mean_pairwise_euclidean_distance is the same number."""
  n = _pair(a, b)
  total = 0.0
  for s in blocks.row_blocks(n, _rows(n, block)):
    diff = f64(a[s]) - f64(b[s])
    total += float(np.sqrt(np.einsum("ij,ij->i", diff, diff)).sum())
  return total / n


def paired_cos(a, b, block: int | None = DEFAULT_BLOCK) -> dict:
  """Mean, population std (ddof 0) and min of the paired cosines a_i.b_i
  (block moments merged with Chan et al.'s update, no E[c^2] - E[c]^2)."""
  n = _pair(a, b)
  count, mean, m2, low = 0, 0.0, 0.0, np.inf
  for s in blocks.row_blocks(n, _rows(n, block)):
    c = np.einsum("ij,ij->i", f64(a[s]), f64(b[s]))
    cm = float(c.mean())
    delta, tot = cm - mean, count + c.size
    mean += delta * c.size / tot
    m2 += float(((c - cm) ** 2).sum()) + delta * delta * count * c.size / tot
    count, low = tot, min(low, float(c.min()))
  return {"mean": mean, "std": float(np.sqrt(m2 / count)), "min": low}


def alignment(a, b, block: int | None = DEFAULT_BLOCK) -> float:
  """Wang & Isola (2020) alignment with alpha = 2: mean_i |a_i - b_i|^2, from the
  differences (accurate near 0; equals 2 - 2 mean_i a_i.b_i for unit rows)."""
  n = _pair(a, b)
  return _sums(a, b, block)[3] / n


def rmg(a, b, variant: str = "schrodi", block: int | None = DEFAULT_BLOCK) -> float:
  """Relative modality gap of Schrodi et al. 2025 (analysis/gap_precompute.py,
  compute_rmg), with distances d(x, y) = (1 - x.y) / 2 in [0, 1]:

      m   = mean_i d(a_i, b_i)                       (matched pairs)
      d_A = mean_{i != j} d(a_i, a_j),  d_B alike    (distinct pairs, diagonal out)
      RMG = m / (m + (d_A + d_B) / 2).

  compute_rmg maps the mean matched cosine to 1 - (cos + 1)/2 and then replaces
  it by 1e-3 where it is not > 0 (``torch.where(m > 0, m, 1e-3)``); the intra
  terms zero the diagonal of the N x N Gram matrix and divide by N^2 - N. Here
  m = mean_i |a_i - b_i|^2 / 4 (the same for unit rows, and exactly 0 for
  identical modalities, so the clamp fires as in exact arithmetic) and
  d_A = (S_A - N |mu_A|^2) / (2 (N - 1)) with S_A = sum_i |a_i|^2 (= N for unit
  rows): the distinct-pair mean of |a_i - a_j|^2 / 4, exact, O(N D).

  The paper's formula (1/N sum d) / (1/(2N(N-1)) (sum_{i!=j} d_A + sum_{i!=j} d_B)
  + 1/N sum d), as third-party code quotes it with d = 1 - cos (the paper itself
  was not read here), is the same ratio:
  the factor 1/2 in d cancels except in the clamp. Variants by name:

  * ``schrodi``: as compute_rmg, m <= 0 -> 1e-3: identical modalities give
    1e-3 / (1e-3 + (d_A + d_B)/2) (a 0 < m < 1e-3 is kept and gives less).
  * ``floor``: m -> max(m, 1e-3), the range "[1e-3, 1]" compute_rmg's comment
    states (it differs from ``schrodi`` only for 0 < m < 1e-3).
  * ``unclamped``: the formula as written, 0 for identical modalities.
  * ``sum_intra``: a third-party scaling (a calc_relative_modality_gap found in
    the offline index, repository not named there): m / (m + d'_A + d'_B), the
    two intra terms summed, not averaged, and each a mean over all N^2 pairs,
    diagonal included (d' = (N - 1)/N d); no clamp.
  """
  if variant not in RMG_VARIANTS:
    raise ValueError(f"Expected variant in {RMG_VARIANTS}, got {variant!r}")
  return _rmg_value(variant, *rmg_terms(a, b, block))


def rmg_terms(a, b, block: int | None = DEFAULT_BLOCK) -> tuple[float, float, float, int]:
  """(m, d_A, d_B, N) of ``rmg``'s docstring, unclamped, in one pass over the rows."""
  n = _pair(a, b, min_rows=2)
  d = a.shape[1]
  s_a, s_b, sq, norm_a, norm_b = np.zeros(d), np.zeros(d), 0.0, 0.0, 0.0
  for s in blocks.row_blocks(n, _rows(n, block)):
    x, y = f64(a[s]), f64(b[s])
    diff = x - y
    s_a += x.sum(0)
    s_b += y.sum(0)
    sq += float(np.einsum("ij,ij->", diff, diff))
    norm_a += float(np.einsum("ij,ij->", x, x))
    norm_b += float(np.einsum("ij,ij->", y, y))
  d_a = (norm_a - float(s_a @ s_a) / n) / (2 * (n - 1))
  d_b = (norm_b - float(s_b @ s_b) / n) / (2 * (n - 1))
  return sq / (4 * n), d_a, d_b, n


def _rmg_value(variant: str, m: float, d_a: float, d_b: float, n: int) -> float:
  if variant == "sum_intra":
    other = (d_a + d_b) * (n - 1) / n
  else:
    other = (d_a + d_b) / 2
    if variant == "schrodi":
      m = m if m > 0 else RMG_CLAMP
    elif variant == "floor":
      m = max(m, RMG_CLAMP)
  return float(m / (m + other)) if m + other > 0 else float("nan")


def rmg_all(a, b, block: int | None = DEFAULT_BLOCK) -> dict:
  """``rmg`` of every variant in RMG_VARIANTS from one pass: {variant: value}."""
  terms = rmg_terms(a, b, block)
  return {v: _rmg_value(v, *terms) for v in RMG_VARIANTS}


def gap_profile(a, b, block: int | None = DEFAULT_BLOCK) -> np.ndarray:
  """The gap vector mu_A - mu_B per coordinate (D,), float64, from the differences."""
  n = _pair(a, b)
  return _sums(a, b, block)[2] / n


def _eig_desc(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  w, v = np.linalg.eigh(cov)
  return w[::-1], v[:, ::-1]


class Moments(NamedTuple):
  """One modality's first two moments: the mean (D,), the centred covariance
  (D, D) (divided by N) and its eigenvalues (decreasing, rounding's negatives
  set to 0) and eigenvectors (columns, in that order)."""
  mean: np.ndarray
  cov: np.ndarray
  eigvals: np.ndarray
  eigvecs: np.ndarray


def moments(u, block: int | None = DEFAULT_BLOCK) -> Moments:
  """``Moments`` of the rows of ``u`` (N, D): two passes over row blocks, then
  one D x D eigendecomposition. The spectral metrics below take it as
  ``moments=`` so that one pass serves them all (a covariance costs N D^2)."""
  if u.ndim != 2 or u.shape[0] < 1:
    raise ValueError(f"Expected an (N, D) array with N >= 1, got {u.shape}")
  rows = _rows(u.shape[0], block)
  mu = blocks.mean_rows(u, rows)
  cov = blocks.covariance(u, mu, block=rows)
  w, v = _eig_desc(cov)
  return Moments(mu, cov, np.maximum(w, 0.0), v)


def _moments(u, block, given):
  return moments(u, block) if given is None else given


def gap_concentration(a, b, ks: Sequence[int] = (1, 2, 5, 10, 20, 50),
                      block: int | None = DEFAULT_BLOCK, moments=None) -> dict:
  """Share of |g|^2, g = mu_A - mu_B, carried by the top-k coordinates (ranked by
  |g_j|) and by the top-k principal directions: sum of the k largest g_j^2 (or
  (v_j.g)^2 over the eigenvectors v_j of the k largest eigenvalues) over |g|^2.
  In the spirit of Schrodi et al. 2025's finding that a few embedding dimensions
  carry the gap.

  Principal directions are those of the mean *within*-modality covariance
  (cov_A + cov_B)/2, each centred at its own mean: the covariance of the pooled
  rows is (cov_A + cov_B)/2 + g g^T / 4, so it contains the gap itself, which
  would then be its own top direction and trivially carry the share. ks above D
  are dropped (D is used when none is left); NaN shares when g = 0.
  ``moments``: the pair (Moments of a, Moments of b) if already computed. The
  coordinate shares depend on the basis (not rotation invariant); the principal
  ones do not (up to ties among eigenvalues at k). ``top_coordinates``: the 10
  coordinates of largest |g_j|, largest first.
  """
  n = _pair(a, b)
  if any(int(k) < 1 for k in ks):
    raise ValueError(f"Expected ks >= 1, got {list(ks)}")
  d, rows = a.shape[1], _rows(n, block)
  kept = [int(k) for k in ks if int(k) <= d] or [d]
  g = gap_profile(a, b, block)
  total = float(g @ g)
  m_a, m_b = moments if moments is not None else (None, None)
  m_a, m_b = _moments(a, rows, m_a), _moments(b, rows, m_b)
  _, v = _eig_desc(0.5 * (m_a.cov + m_b.cov))
  order = np.argsort(-np.abs(g), kind="stable")
  coord = np.cumsum(g[order] ** 2)
  princ = np.cumsum((v.T @ g) ** 2)
  share = (lambda c, k: float(c[k - 1] / total)) if total > 0 else (lambda c, k: float("nan"))
  return {"ks": kept, "coordinates": [share(coord, k) for k in kept],
          "principal": [share(princ, k) for k in kept],
          "top_coordinates": order[:10].tolist()}


def spectrum(u, block: int | None = DEFAULT_BLOCK, moments=None) -> np.ndarray:
  """Eigenvalues of one modality's centred covariance (1/N) sum (u_i - mu)(u_i - mu)^T,
  decreasing (D,); rounding's tiny negatives are set to 0."""
  return _moments(u, block, moments).eigvals


def effective_dimension(u, block: int | None = DEFAULT_BLOCK, level: float = 0.99,
                        moments=None) -> dict:
  """Participation ratio (sum l)^2 / sum l^2 of the spectrum l (Gao et al. 2017's
  PR; k for k equal eigenvalues) and ``dim99``, the smallest k whose top-k
  eigenvalues hold at least ``level`` of the variance (1e-12 relative slack for
  rounding). NaN and 0 when all rows coincide."""
  if not 0 < level <= 1:
    raise ValueError(f"Expected 0 < level <= 1, got {level}")
  w = spectrum(u, block, moments)
  total = float(w.sum())
  if total <= 0:
    return {"participation_ratio": float("nan"), "dim99": 0}
  cum = np.cumsum(w) / total
  k = int(np.searchsorted(cum, level * (1 - 1e-12))) + 1
  return {"participation_ratio": total ** 2 / float(w @ w), "dim99": min(k, w.size)}


def default_angles_k(d: int) -> int:
  """min(10, D // 2), at least 1: two k-dim subspaces of R^D with 2k > D share at
  least 2k - D directions, so beyond D/2 the extra angles are 0 by dimension."""
  return max(1, min(10, d // 2))


def principal_angles(a, b, k: int | None = None, block: int | None = DEFAULT_BLOCK,
                     moments=None) -> np.ndarray:
  """Principal angles in degrees, increasing (k,), between the top-k principal
  subspaces (centred covariance eigenvectors) of the two modalities, as in
  Yi et al. 2025's comparison of modality subspaces: arccos of the singular values
  of U_A^T U_B, computed by scipy.linalg.subspace_angles (accurate near 0 and
  90). k defaults to ``default_angles_k(D)``. The subspace is not unique when
  the k-th and (k+1)-th eigenvalues tie."""
  n = _pair(a, b)
  d = a.shape[1]
  k = default_angles_k(d) if k is None else int(k)
  if not 1 <= k <= d:
    raise ValueError(f"Expected 1 <= k <= {d}, got {k}")
  rows = _rows(n, block)
  m_a, m_b = moments if moments is not None else (None, None)
  u_a = _moments(a, rows, m_a).eigvecs[:, :k]
  u_b = _moments(b, rows, m_b).eigvecs[:, :k]
  return np.sort(np.degrees(scipy.linalg.subspace_angles(u_a, u_b)))


def _half_gap(a, b, idx: np.ndarray, block: int | None) -> np.ndarray:
  total = np.zeros(a.shape[1])
  for s in blocks.row_blocks(idx.size, _rows(idx.size, block)):
    rows = idx[s]
    total += (f64(a[rows]) - f64(b[rows])).sum(0)
  return total / idx.size


def gap_stability(a, b, key: jax.Array, repeats: int = 10,
                  block: int | None = DEFAULT_BLOCK) -> dict:
  """Agreement of the gap direction across random halves of the pairs: for each
  of ``repeats`` keys ``jax.random.split(key, repeats)``, the permutation
  ``jax.random.permutation(k_r, N)`` splits the pairs into its first N // 2 and
  the rest; g_1, g_2 are the gaps mu_A - mu_B of the halves and the score is
  cos(g_1, g_2) (1: a stable direction, ~0: noise). Defined as 0 when a half's
  gap is the zero vector (identical modalities: no direction to agree on).
  Returns the mean, population std and min over repeats. O(repeats N D)."""
  n = _pair(a, b, min_rows=2)
  if repeats < 1:
    raise ValueError(f"Expected repeats >= 1, got {repeats}")
  cos = []
  for k in jax.random.split(key, repeats):
    perm = np.asarray(jax.random.permutation(k, n))
    g1 = _half_gap(a, b, np.sort(perm[: n // 2]), block)
    g2 = _half_gap(a, b, np.sort(perm[n // 2:]), block)
    den = np.linalg.norm(g1) * np.linalg.norm(g2)
    cos.append(float(g1 @ g2 / den) if den > 0 else 0.0)
  c = np.asarray(cos)
  return {"mean_cos": float(c.mean()), "std_cos": float(c.std()), "repeats": int(repeats),
          "min_cos": float(c.min())}


def gap_matrix(rows: Sequence[np.ndarray], block: int | None = DEFAULT_BLOCK) -> np.ndarray:
  """(M, M) centroid distances l2m between every two of M paired modalities
  (each from its own differences), symmetric with a zero diagonal."""
  if len(rows) < 2:
    raise ValueError(f"Expected at least 2 modalities, got {len(rows)}")
  out = np.zeros((len(rows), len(rows)))
  for i in range(len(rows)):
    for j in range(i + 1, len(rows)):
      out[i, j] = out[j, i] = l2m(rows[i], rows[j], block)["l2m"]
  return out
