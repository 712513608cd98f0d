"""``gaplab cone``: a cone-effect sweep of random networks, saved as a run."""
from __future__ import annotations

from gaplab.cli import options
from gaplab.cone.config import AUTO_PAIRWISE_LAYERS, PAIRWISE_LAYER_CHOICES, ConeConfig


def pairwise_layers(text: str):
  """--pairwise-layers: 'auto', 'all' or comma-separated layers, as a tuple."""
  if text in PAIRWISE_LAYER_CHOICES:
    return text
  return options.listof(int, "layers (integers), or 'auto' or 'all'")(text)


def add_parser(sub) -> None:
  p = options.command(sub, "cone", "run a cone-effect sweep of random networks", """
      Measure the cone effect over a grid of activation x init x sigma_w x sigma_b x
      width x seed, for every layer 0..L. Chunks of seeds are kept as they finish,
      so --resume continues a killed sweep.""")
  options.add_cone_options(p, ConeConfig())
  stats_group = next(g for g in p._action_groups if g.title == "statistics and numerics")
  stats_group.add_argument(
      "--pairwise-layers", type=pairwise_layers, default=ConeConfig().pairwise_layers,
      help="layers with pairwise statistics (min/max cosine, histogram): 'auto' "
      f"(layers {', '.join(map(str, AUTO_PAIRWISE_LAYERS))} and the last), 'all', or a "
      "comma-separated list; NaN (histogram -1) at the others")
  options.add_run_dir(p, "runs/cone")
  options.add_scale_flags(p)


def command(a) -> None:
  from gaplab.cone import store
  options.x64(a.dtype)
  cfg = options.config_from_args(a)
  if a.dry_run:
    print(store.dry_run(cfg, options.max_memory(a)))
    return
  path = store.run_and_save(cfg, a.out, overwrite=a.overwrite, resume=a.resume,
                            max_memory=options.max_memory(a))
  options.report_written(path, a.out)
