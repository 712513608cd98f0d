"""The shared figure helpers: bare Figures, colours and saving without pyplot."""
import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from gaplab.plotting import style


@pytest.mark.parametrize("n", [1, 10, 11, 20, 21, 40])
def test_colors_are_distinct(n):
  c = style.colors(n)
  assert len(c) == n
  assert len({to_rgba(x) for x in c}) == n


def test_subplots_shapes_like_pyplot():
  fig, axes = style.subplots(2, 3, figsize=(6, 4), squeeze=False, sharey=True)
  assert axes.shape == (2, 3) and tuple(fig.get_size_inches()) == (6, 4)
  _, ax = style.subplots()
  assert ax.figure is not None and not isinstance(ax, np.ndarray)


_SCRIPT = r"""
import glob, json, os, sys
import matplotlib
before = dict.__getitem__(matplotlib.rcParams, "backend")
import importlib
import gaplab.plotting
names = sorted(os.path.basename(p)[:-3] for p in glob.glob(
    os.path.join(os.path.dirname(gaplab.plotting.__file__), "*.py")))
for n in names:
  importlib.import_module(f"gaplab.plotting.{n}")
from gaplab.plotting import style
state = {"pyplot": "matplotlib.pyplot" in sys.modules,
         "backend_same": dict.__getitem__(matplotlib.rcParams, "backend") == before}

def draw(fig, ax):
  x = [0.0, 1.0, 2.0, 3.0]
  ax.plot(x, [1.0, 0.5, 0.8, 0.2], ".-", color=style.colors(12)[11], label="a")
  ax.fill_between(x, 0.0, [0.2, 0.3, 0.1, 0.4], alpha=0.2, lw=0)
  ax.set(title="t", xlabel="x", yscale="log")
  ax.legend(fontsize=7)
  fig.tight_layout()

out = sys.argv[1]
fig, ax = style.subplots(figsize=(3, 2))
draw(fig, ax)
state["paths"] = style.save(fig, out, "bare")
import matplotlib.pyplot as plt
matplotlib.use("Agg")
fig, ax = plt.subplots(figsize=(3, 2))
draw(fig, ax)
fig.savefig(os.path.join(out, "pyplot.png"), dpi=style.DPI, bbox_inches="tight")
print(json.dumps(state))
"""


def test_figures_need_no_pyplot_and_match_it(tmp_path):
  import matplotlib.image
  out = str(tmp_path / "figs")
  res = subprocess.run([sys.executable, "-c", _SCRIPT, out], capture_output=True,
                       text=True, check=True)
  state = json.loads(res.stdout.strip().splitlines()[-1])
  assert not state["pyplot"] and state["backend_same"]
  png, pdf = state["paths"]
  assert png.endswith("bare.png") and pdf.endswith("bare.pdf")
  with open(pdf, "rb") as f:
    assert f.read(5) == b"%PDF-"
  bare = matplotlib.image.imread(png)
  ref = matplotlib.image.imread(str(tmp_path / "figs" / "pyplot.png"))
  np.testing.assert_array_equal(bare, ref)
