"""``gaplab gap A.npy B.npy``: the modality gap between two embedding arrays."""
from __future__ import annotations

from gaplab._errors import ConfigError
from gaplab.cli import options


def add_parser(sub) -> None:
  p = options.command(sub, "gap", "the modality gap between two embedding arrays", """
      gap = |mu_A - mu_B| between the centroids of the L2-normalised rows of A (N, D)
      and B (M, D), and its decomposition gap^2 = c_A + c_B - 2 mu_A.mu_B, with c the
      mean cosine over all pairs, diagonal included.""")
  p.add_argument("a", metavar="A.npy", help="embeddings of one modality, (N, D)")
  p.add_argument("b", metavar="B.npy", help="embeddings of the other, (M, D)")


def command(a) -> None:
  import json
  from gaplab.analysis import gap
  from gaplab.nets import inputs
  arrays = []
  for path, field in ((a.a, "a"), (a.b, "b")):
    try:
      arrays.append(inputs.load_array(path))
    except ConfigError as e:
      raise ConfigError(field, e.message) from None
  print(json.dumps(gap.decomposition(*arrays), indent=2))
