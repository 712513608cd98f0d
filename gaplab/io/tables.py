"""Markdown tables for reports: one header, a separator, one line per row.

``table(["a", "b"], [(1, "x")])`` is::

    | a | b |
    |---|---|
    | 1 | x |

Cells are written as ``str(cell)``: format numbers before. A ``|`` inside a
cell (``|x|``, a norm) is escaped as ``\\|`` so it is not a column break.
"""
from __future__ import annotations

import re

from gaplab._errors import ConfigError

RULES = {None: "---", "": "---", "l": ":---", "c": ":---:", "r": "---:"}


def line(cells) -> str:
  """One table line: ``| c1 | c2 | ... |``."""
  return "| " + " | ".join(_escape(str(c)) for c in cells) + " |"


def _escape(text: str) -> str:
  """``|`` -> ``\\|`` unless already escaped."""
  return re.sub(r"(?<!\\)\|", r"\\|", text)


def rule(n: int, align=None) -> str:
  """The separator under the header of ``n`` columns; ``align`` gives each
  column None (plain), "l", "c" or "r" (a string like "lrr" works too)."""
  align = [None] * n if align is None else list(align)
  if len(align) != n:
    raise ConfigError("align", f"expected {n} alignments (one a column), got {len(align)}")
  bad = [a for a in align if a not in RULES]
  if bad:
    raise ConfigError("align", f"expected each of None, 'l', 'c' or 'r', got {bad[0]!r}")
  return "|" + "".join(RULES[a] + "|" for a in align)


def table(header, rows, align=None) -> str:
  """``header`` (column titles) and ``rows`` (sequences of cells, as many as
  the header) -> a Markdown table, lines joined by newlines, no final newline."""
  header = list(header)
  if not header:
    raise ConfigError("header", "expected at least one column, got none")
  lines = [line(header), rule(len(header), align)]
  for i, row in enumerate(rows):
    row = list(row)
    if len(row) != len(header):
      raise ConfigError("rows", f"expected {len(header)} cells in row {i}, got {len(row)}")
    lines.append(line(row))
  return "\n".join(lines)
