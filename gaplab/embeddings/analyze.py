"""Every gap metric of one set of paired embeddings, as one JSON-able record.

``measure(a, b, key)`` runs the metrics of ``metrics``, ``pairwise`` and
``separability`` on one pair of modalities (unit rows, row i of each a pair)
and returns ``(record, arrays)``: the numbers that go to ``metrics.json`` under
the issue's keys (``l2m``, ``l2i``, ``rmg``, ``paired_cos``, ...) and the arrays
the figures are drawn from (2-D PCA coordinates of a subset of pairs, cosine
histograms, the per-coordinate gap profile, spectra). ``analyze`` adds the
pairwise gap matrix when there are three or more modalities.

Each randomised statistic takes its own key, ``fold_in(key, STREAMS[name])``,
so adding a statistic never changes another's subset.
"""
from __future__ import annotations

import dataclasses

import jax
import numpy as np

from gaplab.cone.stats import MAX_PAIRWISE_SAMPLES
from gaplab.embeddings import blocks
from gaplab.embeddings import metrics as m
from gaplab.embeddings import pairwise
from gaplab.embeddings import separability as sep

STREAMS = {"stability": 1, "uniformity_a": 2, "uniformity_b": 3, "cone_a": 4, "cone_b": 5,
           "histograms": 6, "separability": 7, "pca": 8}


@dataclasses.dataclass(frozen=True)
class Settings:
  """What ``measure`` computes and on how many rows; recorded with the results."""
  seed: int = 0                 # jax.random.key(seed) draws every subset
  ks: tuple = (1, 2, 5, 10, 20, 50)   # top-k for the gap's concentration
  angles_k: int = 10            # principal subspace dimension for principal angles
  stability_repeats: int = 10   # random halves for the gap direction's stability
  pca_pairs: int = 400          # pairs drawn in the PCA figure (lines between pairs)
  hist_rows: int = 5000         # rows for the cosine histograms
  hist_bins: int = 100
  exact_rows: int = pairwise.MAX_EXACT  # pairwise statistics exact up to this many rows
  separability_rows: int = 20000
  rmg_variant: str = "schrodi"
  umap: bool = True             # also a 2-D UMAP of the PCA's pairs, when umap-learn is installed

  def validate(self):
    from gaplab._errors import ConfigError
    for f in ("angles_k", "stability_repeats", "pca_pairs", "hist_rows", "hist_bins",
              "exact_rows", "separability_rows"):
      v = getattr(self, f)
      if isinstance(v, bool) or not isinstance(v, int) or v < 2:
        raise ConfigError(f, f"expected an integer >= 2, got {v!r}")
    if isinstance(self.seed, bool) or not isinstance(self.seed, int) or \
        not 0 <= self.seed < 2 ** 32:
      raise ConfigError("seed", f"expected an integer in [0, 2**32), got {self.seed!r}")
    if self.exact_rows > MAX_PAIRWISE_SAMPLES:
      raise ConfigError("exact_rows", f"expected at most {MAX_PAIRWISE_SAMPLES} rows (the "
                        f"cone statistics' pairwise limit), got {self.exact_rows}")
    if self.rmg_variant not in m.RMG_VARIANTS:
      raise ConfigError("rmg_variant", f"expected one of {', '.join(m.RMG_VARIANTS)}, "
                        f"got {self.rmg_variant!r}")
    return self


def _key(key, name):
  return jax.random.fold_in(key, STREAMS[name])


def pca_2d(a, b, key, n_pairs: int, moments) -> dict:
  """The paper's Fig 1 view: the top two principal directions of both
  modalities together (covariance of all 2N rows about their pooled mean) and
  the coordinates of ``n_pairs`` random pairs in them. From the modalities'
  ``metrics.Moments``: with c = (mu_a + mu_b)/2 and g = mu_a - mu_b the pooled
  covariance is (cov_a + cov_b)/2 + g g^T/4, so no further pass over the rows."""
  m_a, m_b = moments
  c, g = 0.5 * (m_a.mean + m_b.mean), m_a.mean - m_b.mean
  cov = 0.5 * (m_a.cov + m_b.cov) + 0.25 * np.outer(g, g)
  w, v = np.linalg.eigh(cov)
  top = v[:, ::-1][:, :2]
  # orient: modality a on the positive side of each axis (eigenvector signs are arbitrary)
  side = np.sign((m_a.mean - c) @ top)
  top = top * np.where(side == 0, 1.0, side)
  idx = blocks.subset(key, a.shape[0], n_pairs)
  return {"pca_a": (blocks.f64(a[idx]) - c) @ top, "pca_b": (blocks.f64(b[idx]) - c) @ top,
          "pca_explained": w[::-1][:2] / w.sum(), "pca_index": idx}


def umap_available() -> bool:
  import importlib.util
  return importlib.util.find_spec("umap") is not None


def umap_2d(a, b, idx, seed: int) -> dict:
  """2-D UMAP (umap-learn, default settings, ``random_state=seed``) of the rows
  ``idx`` of both modalities embedded together, as in the paper's Fig 1."""
  import warnings
  import umap
  x = np.concatenate([blocks.f64(a[idx]), blocks.f64(b[idx])])
  with warnings.catch_warnings():  # "n_jobs overridden by random_state": wanted, for determinism
    warnings.simplefilter("ignore", UserWarning)
    y = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, len(x) - 1)
                  ).fit_transform(x)
  return {"umap_a": y[:len(idx)], "umap_b": y[len(idx):]}


def measure(a, b, key, settings: Settings = Settings()) -> tuple[dict, dict]:
  """(metrics record, arrays) of the pair of modalities ``a``, ``b`` (N, D)."""
  s = settings
  dec = m.l2m(a, b)
  rmgs = m.rmg_all(a, b)
  mom = (m.moments(a), m.moments(b))  # one covariance per modality serves every spectral metric
  rec = {
      "n_pairs": int(a.shape[0]), "dim": int(a.shape[1]),
      "l2m": dec["l2m"],
      "l2m_decomposition": {k: dec[k] for k in dec if k != "l2m"},
      "l2i": m.l2i(a, b),
      "rmg": rmgs[s.rmg_variant],
      "rmg_variant": s.rmg_variant,
      "rmg_variants": rmgs,
      "paired_cos": m.paired_cos(a, b),
      "alignment": m.alignment(a, b),
      "uniformity": {"a": pairwise.uniformity(a, _key(key, "uniformity_a"), max_rows=s.exact_rows),
                     "b": pairwise.uniformity(b, _key(key, "uniformity_b"), max_rows=s.exact_rows)},
      "separability": sep.separability(a, b, _key(key, "separability"),
                                       max_rows=s.separability_rows),
      "gap_concentration": m.gap_concentration(a, b, ks=s.ks, moments=mom),
      "effective_dimension": {"a": m.effective_dimension(a, moments=mom[0]),
                              "b": m.effective_dimension(b, moments=mom[1])},
      "principal_angles_deg": np.asarray(m.principal_angles(
          a, b, k=min(s.angles_k, m.default_angles_k(a.shape[1])), moments=mom),
          np.float64).tolist(),
      "cone": {"a": pairwise.cone(a, _key(key, "cone_a"), max_rows=s.exact_rows),
               "b": pairwise.cone(b, _key(key, "cone_b"), max_rows=s.exact_rows)},
      "gap_stability": m.gap_stability(a, b, _key(key, "stability"),
                                       repeats=s.stability_repeats),
  }
  hist = pairwise.cosine_histograms(a, b, _key(key, "histograms"), bins=s.hist_bins,
                                    max_rows=s.hist_rows)
  arrays = {f"hist_{k}": np.asarray(v) for k, v in hist.items() if k != "n_used"}
  rec["histogram_rows"] = int(hist["n_used"])
  arrays.update(pca_2d(a, b, _key(key, "pca"), s.pca_pairs, mom))
  rec["umap"] = bool(s.umap and umap_available())
  if rec["umap"]:
    arrays.update(umap_2d(a, b, arrays["pca_index"], s.seed))
  arrays["gap_profile"] = np.asarray(m.gap_profile(a, b))
  arrays["spectrum_a"], arrays["spectrum_b"] = mom[0].eigvals, mom[1].eigvals
  return rec, arrays


def gap_matrix(rows, names) -> dict:
  """The l2m between every two modalities (for three or more)."""
  return {"names": list(names), "l2m": np.asarray(m.gap_matrix(rows)).tolist()}
