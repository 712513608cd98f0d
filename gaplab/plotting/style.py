"""What every figure module shares: bare figures, colours, saving.

Figures are plain ``matplotlib.figure.Figure`` objects: no global figure
manager and no global backend switch. ``Figure.savefig`` picks the Agg (png)
or PDF canvas for the file itself, so nothing here needs a display.
"""
from __future__ import annotations

import os

import matplotlib
from matplotlib.figure import Figure

EXTENSIONS = ("png", "pdf")
DPI = 150


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, layout=None, **kw):
  """(figure, axes) on a bare Figure, shaped as matplotlib's ``subplots`` gives.

  ``kw`` goes to ``Figure.subplots`` (squeeze, sharex, sharey, ...).
  """
  fig = Figure(figsize=figsize, layout=layout)
  return fig, fig.subplots(nrows, ncols, **kw)


def cmap(name: str):
  """The registered colormap ``name`` (a copy of it)."""
  return matplotlib.colormaps[name]


def colors(n: int) -> list:
  """Distinct colours: the default cycle up to 10 lines, then tab20, then a
  continuous map (so no two variants share a colour)."""
  if n <= 10:
    return [f"C{i}" for i in range(n)]
  m = cmap("tab20" if n <= 20 else "turbo")
  return [m(i if n <= 20 else i / (n - 1)) for i in range(n)]


def save(fig, out_dir: str, name: str) -> list[str]:
  """Writes ``out_dir/name.png`` and ``out_dir/name.pdf``; returns the paths."""
  os.makedirs(out_dir, exist_ok=True)
  paths = [os.path.join(out_dir, f"{name}.{ext}") for ext in EXTENSIONS]
  for p in paths:
    fig.savefig(p, dpi=DPI, bbox_inches="tight")
  return paths
