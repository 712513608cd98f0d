"""Every number the lab quotes from Liang et al. (*Mind the Gap*, NeurIPS 2022), with its source.

The authors' code is a set of PyTorch notebooks (repository
``Weixin-Liang/Modality-Gap``); a number can come from four kinds of source,
and reports say which:

* ``NOTEBOOK_OUTPUT``: printed by an executed notebook cell (one run unless
  stated);
* ``NOTEBOOK_SOURCE``: a literal typed into a notebook cell (not computed
  there);
* ``PAPER_TEXT``: stated in the paper's text (section given);
* ``FIGURE_BY_EYE``: read off a plot by eye (approximate).

``NUMBERS`` maps a key to a ``PaperNumber``; ``cite(key)`` gives a short
label for a table cell and ``footnotes(keys)`` the full sources.
"""
from __future__ import annotations

import dataclasses

NOTEBOOK_OUTPUT = "notebook output"
NOTEBOOK_SOURCE = "notebook source"
PAPER_TEXT = "paper text"
FIGURE_BY_EYE = "figure, by eye"
KINDS = (NOTEBOOK_OUTPUT, NOTEBOOK_SOURCE, PAPER_TEXT, FIGURE_BY_EYE)

_FIG2B_NB = ("Figure_2_Cone_Effect/Figure_2b_random_MLP_layerwise/bias_linear_relu.ipynb, "
             "cell with execution_count 9 (its printed table; repeat_times=1: one run)")
_FIG2A_NOISE_NB = "Figure_2_Cone_Effect/Figure_2a_random_init_random_data/visualize.ipynb"
_AMEND = ("Sec 4.4, 'Initialization vs Optimization' (3 seeds, mean ± 95% CI); the "
          "seeds' values are printed by util/gap_amend_std.ipynb, execution_count 4")
_FINETUNE = ("Table_1_Implications_CLIP_Zero_Shot/shifting/shift_features.ipynb, the "
             "plotting cell 'gaps = [0.2384, ...]' (typed in; the cell was never run); "
             "Supp. Fig 8 plots them")


@dataclasses.dataclass(frozen=True)
class PaperNumber:
  value: float
  what: str
  kind: str  # one of KINDS
  where: str  # the exact place: notebook path and cell, section, or figure
  printed: str = ""  # the notebook's printed value, verbatim, where there is one

  def __post_init__(self):
    if self.kind not in KINDS:
      raise ValueError(f"Expected a source kind in {KINDS}, got {self.kind!r}")


def _n(value, what, kind, where, printed=""):
  return PaperNumber(float(value), what, kind, where, printed)


NUMBERS = {
    # Fig 2b: random MLP, N = 1024 inputs N(0, I_512), 512 x 512 layers, W, b ~ N(0, 1/512);
    # the statistic averages all N^2 pairs, diagonal included
    "fig2b_relu_1": _n(0.319, "Fig 2b, ReLU MLP, mean cosine at layer 1", NOTEBOOK_OUTPUT,
                       _FIG2B_NB, "0.319475"),
    "fig2b_relu_2": _n(0.494, "Fig 2b, ReLU, layer 2", NOTEBOOK_OUTPUT, _FIG2B_NB, "0.494273"),
    "fig2b_relu_5": _n(0.754, "Fig 2b, ReLU, layer 5", NOTEBOOK_OUTPUT, _FIG2B_NB, "0.754082"),
    "fig2b_relu_10": _n(0.948, "Fig 2b, ReLU, layer 10", NOTEBOOK_OUTPUT,
                        _FIG2B_NB, "0.947666"),
    "fig2b_relu_15": _n(0.998, "Fig 2b, ReLU, layer 15", NOTEBOOK_OUTPUT,
                        _FIG2B_NB, "0.998011"),
    "fig2b_sigmoid_1": _n(0.85, "Fig 2b, sigmoid, layer 1", FIGURE_BY_EYE,
                          "published Fig 2b (no printed value: the notebook displays "
                          "only its ReLU table)"),
    "fig2b_sigmoid_2": _n(0.99, "Fig 2b, sigmoid, layer 2", PAPER_TEXT,
                          "Sec 2.2: 'the average cosine similarity reaches 0.99 for a "
                          "2-layer MLP with Sigmoid'"),
    "fig2b_tanh_25": _n(0.5, "Fig 2b, tanh, layer 25", FIGURE_BY_EYE,
                        "published Fig 2b, about 0.5; the notebook's own stored plot "
                        "of the same run (bias_linear_relu.ipynb) reads about 0.57"),
    "fig2b_linear_25": _n(0.05, "Fig 2b, linear (no activation), layer 25", FIGURE_BY_EYE,
                          "published Fig 2b; Sec 2.2 says only 'MLPs without non-linear "
                          "activation shows little cone effect'"),
    # Fig 2a: random-init encoders on noise inputs, 5,000 embeddings, distinct pairs
    "fig2a_noise_resnet": _n(0.999, "Fig 2a, random-init ResNet-18 on noise, mean cosine",
                             NOTEBOOK_OUTPUT, _FIG2A_NOISE_NB + ", execution_count 6 "
                             "(the figure prints Avg=0.999)", "9.992827e-01"),
    "fig2a_noise_vit": _n(0.94, "Fig 2a, random-init CLIP image encoder (ViT) on noise",
                          NOTEBOOK_OUTPUT, _FIG2A_NOISE_NB + ", execution_count 5 "
                          "(the figure prints Avg=0.94 and Avg=0.41)", "9.365552e-01"),
    "fig2a_noise_text": _n(0.41, "Fig 2a, random-init CLIP text encoder on noise tokens",
                           NOTEBOOK_OUTPUT, _FIG2A_NOISE_NB + ", execution_count 5 "
                           "(the figure prints Avg=0.94 and Avg=0.41)", "4.111536e-01"),
    # Sec 4: CLIP's gap and temperature
    "clip_gap": _n(0.82, "CLIP ViT-B/32's gap |Δ| on 5,000 MSCOCO validation pairs",
                   PAPER_TEXT, "Sec 4.2 ('The gap distance before shifting is 0.82'); "
                   "Figure_3_Contrastive_Learning/plot_optimization_exp.ipynb, "
                   "execution_count 17, prints 0.8221026"),
    "clip_tau": _n(0.01, "CLIP's learned final temperature", PAPER_TEXT, "Sec 4.1"),
    "finetune_gap_1": _n(0.2384, "gap after fine-tuning CLIP at τ = 1", NOTEBOOK_SOURCE,
                         _FINETUNE),
    "finetune_gap_10": _n(0.3028, "gap after fine-tuning at τ = 1/10", NOTEBOOK_SOURCE,
                          _FINETUNE),
    "finetune_gap_20": _n(0.5524, "gap after fine-tuning at τ = 1/20", NOTEBOOK_SOURCE,
                          _FINETUNE),
    "finetune_gap_30": _n(0.6352, "gap after fine-tuning at τ = 1/30", NOTEBOOK_SOURCE,
                          _FINETUNE),
    "finetune_gap_50": _n(0.7961, "gap after fine-tuning at τ = 1/50", NOTEBOOK_SOURCE,
                          _FINETUNE),
    "finetune_gap_100": _n(1.0006, "gap after fine-tuning at τ = 1/100", NOTEBOOK_SOURCE,
                           _FINETUNE),
    "amend_plain_init": _n(1.1891, "CLIP from scratch, gap at init (± 0.0017)", PAPER_TEXT,
                           _AMEND),
    "amend_plain_final": _n(1.2991, "CLIP from scratch, gap after training (± 0.0389)",
                            PAPER_TEXT, _AMEND),
    "amend_amended_init": _n(0.0388, "Procrustes-amended at init, gap at init (± 0.0351)",
                             PAPER_TEXT, _AMEND),
    "amend_amended_final": _n(0.7457, "amended, gap after training (± 0.0633)", PAPER_TEXT,
                              _AMEND),
    # Fig 3e-g: the sphere toy
    "toy_longitude_step": _n(20.0, "sphere toy: degrees between adjacent pairs", NOTEBOOK_SOURCE,
                             "Figure_3_Contrastive_Learning/3d_sphere.ipynb, the executed "
                             "loss cell (execution_count 4): u_gap = 20 (App. A.1 says 15°)"),
}

FINETUNE_TAUS = (1.0, 0.1, 0.05, 1 / 30, 0.02, 0.01)
FINETUNE_KEYS = ("finetune_gap_1", "finetune_gap_10", "finetune_gap_20", "finetune_gap_30",
                 "finetune_gap_50", "finetune_gap_100")
_SHORT = {NOTEBOOK_OUTPUT: "nb", NOTEBOOK_SOURCE: "nb source", PAPER_TEXT: "text",
          FIGURE_BY_EYE: "fig, by eye"}


def value(key: str) -> float:
  return NUMBERS[key].value


def cite(key: str, fmt: str = "g") -> str:
  """'0.319 (nb)': the value and a short source tag, for a table cell."""
  n = NUMBERS[key]
  prefix = "≈ " if n.kind == FIGURE_BY_EYE else ""
  return f"{prefix}{format(n.value, fmt)} ({_SHORT[n.kind]})"


def source(key: str) -> str:
  """The full source of one number, as a sentence fragment."""
  n = NUMBERS[key]
  printed = f" (printed: {n.printed})" if n.printed else ""
  return f"{n.kind}: {n.where}{printed}"


def footnotes(keys) -> list[str]:
  """One Markdown bullet per distinct source of ``keys``."""
  groups: dict = {}
  for k in keys:
    n = NUMBERS[k]
    groups.setdefault((n.kind, n.where), []).append(n)
  lines = []
  for (kind, where), ns in groups.items():
    printed = [n.printed for n in ns if n.printed]
    tail = f" (printed: {', '.join(printed)})" if printed else ""
    lines.append(f"- {_SHORT[kind]} = {kind}: {where}{tail}.")
  return lines
