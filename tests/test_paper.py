"""gaplab.paper: every quoted paper number has a source of a known kind, and
where a notebook printed it, the quoted value is that printed value rounded."""
import math
import os

import pytest

from gaplab import paper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/ -> the repository


@pytest.mark.parametrize("key", sorted(paper.NUMBERS))
def test_every_number_has_a_source(key):
  n = paper.NUMBERS[key]
  assert n.kind in paper.KINDS and n.where and n.what and math.isfinite(n.value)
  if n.printed:  # the quoted value is the printed one, rounded to its digits
    digits = len(repr(n.value).split(".")[1]) if "." in repr(n.value) else 0
    assert float(n.printed) == pytest.approx(n.value, abs=0.5 * 10 ** -digits + 1e-12)
    assert n.kind == paper.NOTEBOOK_OUTPUT


def test_cite_and_footnotes():
  assert paper.cite("fig2b_relu_1") == "0.319 (nb)"
  assert paper.cite("fig2b_tanh_25").startswith("≈ 0.5 (fig, by eye)")
  notes = paper.footnotes(["fig2b_relu_1", "fig2b_relu_2", "fig2b_sigmoid_2"])
  assert len(notes) == 2 and "0.319475, 0.494273" in notes[0] and "Sec 2.2" in notes[1]
  with pytest.raises(ValueError, match="source kind"):
    paper.PaperNumber(1.0, "x", "hearsay", "nowhere")


def test_finetune_table_is_aligned():
  assert len(paper.FINETUNE_TAUS) == len(paper.FINETUNE_KEYS)
  for tau, key in zip(paper.FINETUNE_TAUS, paper.FINETUNE_KEYS):
    assert key.endswith(f"_{round(1 / tau)}")


def test_the_science_guide_lists_every_number_with_its_source_kind():
  with open(os.path.join(ROOT, "docs", "science.md"), encoding="utf-8") as f:
    rows = [line.split("|")[1:-1] for line in f if line.startswith("| ")]
  table = {}
  for cells in rows:
    if len(cells) == 3:
      table.setdefault(cells[0].strip(), []).append(cells[2].strip())
  for key, n in paper.NUMBERS.items():
    sources = table.get(format(n.value, "g"), [])
    assert any(s.startswith(n.kind) for s in sources), (key, n.value, sources)


def test_no_file_of_the_project_refers_to_the_shared_folder():
  bad = []
  for top in ("gaplab", "simulations", "theory_checks", "tests", "docs", "README.md",
              "pyproject.toml", ".ci"):
    path = os.path.join(ROOT, top)
    files = [path] if os.path.isfile(path) else [
        os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs
        if f.endswith((".py", ".md", ".toml", ".txt", ".cfg")) or f == "run"]
    for name in files:
      with open(name, encoding="utf-8") as f:
        text = f.read()
      if any(needle in text for needle in NEEDLES):
        bad.append(os.path.relpath(name, ROOT))
  assert bad == [], bad


# built here so that this file does not match itself
NEEDLES = ("shared" + "/science", ".." + "/shared")
