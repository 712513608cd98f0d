"""What the command modules share: the help formatter, the sub-command
declarations, list-valued option types, the cone-sweep options and the flag a
config field is set by."""
from __future__ import annotations

import argparse
import math

from gaplab.cone.config import BLOCKS, DTYPES, INPUT_KINDS, PRECISIONS, ConeConfig
from gaplab.harness.experiment import Parser, add_size_flags

# config field -> the flag a user types, where it is not --field-with-dashes
FLAGS = {"widths": "--width", "max_memory": "--max-memory", "bias": "--no-bias", "pairwise": "--no-pairwise",
         "run": "RUN", "pairs": "--pairs", "name": "NAME", "a": "A.npy",
         "b": "B.npy", "x": "A.npy", "y": "B.npy", "emb": "EMB.npy",
         "logit_scales": "--logit-scales", "deltas": "--deltas",
         "batch_size": "--batch-size"}


def flag(field: str) -> str:
  """The argument an error about config field ``field`` names."""
  if field.startswith("-"):  # already a flag
    return field
  if field.startswith("set "):  # a preset key, spelt as the user types it
    return "--" + field
  return FLAGS.get(field, "--" + field.replace("_", "-"))


class Defaults(argparse.ArgumentDefaultsHelpFormatter):
  """argparse's "(default: X)" after each option's help, except where there is
  no value to show: on/off flags and options that default to None, whose help
  says in words what leaving them out does."""

  def _get_help_string(self, action):
    if action.default is None or isinstance(action.default, bool):
      return action.help
    return super()._get_help_string(action)


def subcommands(p, dest: str = "what", metavar: str = "WHAT"):
  """The required group of sub-commands of ``p``, chosen by positional
  ``metavar`` and stored in ``dest`` (``gaplab plot WHAT``, ``gaplab bench WHAT``)."""
  return p.add_subparsers(dest=dest, required=True, parser_class=Parser, metavar=metavar)


def command(sub, name: str, help: str, description: str | None = None):
  """Sub-command ``name`` of the group ``sub``: ``help`` is its line in the
  group's listing, ``description`` the paragraph atop its own --help (white
  space folded to single spaces; argparse refills it to the terminal), whose
  options show their defaults (``Defaults``)."""
  if description is not None:
    description = " ".join(description.split())
  return sub.add_parser(name, help=help, description=description, formatter_class=Defaults)


def commands_of(p):
  """The parsers of every command under ``p`` (sub-commands of sub-commands
  included; a parser with sub-commands is not a command itself)."""
  groups = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
  if not groups:
    return [p]
  return [leaf for g in groups for c in dict.fromkeys(g.choices.values())
          for leaf in commands_of(c)]


def add_runtime_flags(p) -> None:
  """What every command takes, last in its --help: --quiet and the
  compilation cache flags (``gaplab.runtime``; ``cli.main`` applies them
  before the command runs)."""
  g = p.add_argument_group("running")
  g.add_argument("--quiet", action="store_true",
                 help="no progress on stderr (off a terminal: one line per finished "
                 "stage; on one: a live bar)")
  g.add_argument("--cache-dir", default=None,
                 help="JAX's persistent compilation cache (default: $GAPLAB_CACHE_DIR, "
                 "else ~/.cache/gaplab/jax)")
  g.add_argument("--no-cache", action="store_true",
                 help="turn the persistent compilation cache off")


def add_scale_flags(p, resume: bool = True) -> None:
  """Flags of a sweep that may be long or big: --resume, --max-memory,
  --dry-run and the multi-process flags (``gaplab.runtime.distributed``)."""
  g = p.add_argument_group("sweeps at scale")
  if resume:
    g.add_argument("--resume", action="store_true",
                   help="continue an interrupted run in --out (its chunks are kept in "
                   "OUT.partial); the config must be the stored one")
  g.add_argument("--max-memory", default=None, metavar="SIZE",
                 help="device memory a chunk may use, e.g. 8G or 512M (default: what "
                 "the device has free)")
  g.add_argument("--dry-run", action="store_true",
                 help="print the plan (chunks, estimated memory per device) and stop")
  g.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                 help="multi-process run: process 0's address (all processes give the same)")
  g.add_argument("--num-processes", type=int, default=None, help="multi-process run: N")
  g.add_argument("--process-id", type=int, default=None,
                 help="multi-process run: this process's index in [0, N)")


def spelt(values: tuple) -> str:
  """A list default as the user types it; argparse parses a string default with
  the option's type, so the parsed value is the tuple itself."""
  return ",".join(str(v) for v in values)


def listof(kind, what):
  """A comma-separated list of ``kind`` (finite, for floats), as a tuple."""
  def parse(text):
    out = []
    for item in text.split(","):
      item = item.strip()
      try:
        value = kind(item)
      except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {what}, got {text!r}") from None
      if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected finite {what}, got {item!r}")
      out.append(value)
    return tuple(out)
  return parse


def names(text):
  """Comma-separated names, blanks dropped, as a tuple."""
  return tuple(t.strip() for t in text.split(",") if t.strip())


REFUSE = "replace an existing run directory (default: refuse)"


def add_run_dir(p, default: str) -> None:
  """--out (a new run directory, default ``default``) and --overwrite."""
  p.add_argument("--out", default=default, help="new run directory")
  add_overwrite(p)


def report_written(path: str | None, out: str) -> None:
  """What a resumable command prints when it ends: the run it wrote, or that
  ``--resume`` found nothing left to do. Only process 0 of a multi-process
  run prints."""
  import jax
  if jax.process_index() != 0:
    return
  print(f"{out}: already finished, nothing to do" if path is None else f"wrote {path}")


def max_memory(a) -> int | None:
  """--max-memory in bytes (None when not given)."""
  from gaplab.runtime import memory
  return None if a.max_memory is None else memory.parse_bytes(a.max_memory)


def add_experiment_flags(p, name: str) -> None:
  """--quick/--tiny, --out (default runs/NAME) and --overwrite of an experiment."""
  add_size_flags(p, "the sizes 'gaplab reproduce --quick' uses (default: full)")
  p.add_argument("--out", default=None, help=f"new run directory (default: runs/{name})")
  add_overwrite(p)


def add_overwrite(p, text: str = REFUSE) -> None:
  p.add_argument("--overwrite", action="store_true", help=text)


def add_set(p, text: str = "override any other preset key (unknown keys are an error)"):
  p.add_argument("--set", nargs="*", metavar="KEY=VALUE", default=None, help=text)


def x64(dtype: str) -> None:
  """Turn on 64-bit JAX for a float64 run (x64 only: the run's own matmul
  precision setting stays; ``gaplab.precision.enable_x64`` also sets it)."""
  if dtype == "float64":
    import jax
    jax.config.update("jax_enable_x64", True)


def add_cone_options(p: argparse.ArgumentParser, defaults: ConeConfig):
  from gaplab.nets import activations
  from gaplab.nets import inits
  d = defaults
  g = p.add_argument_group("network")
  g.add_argument("--activations", type=names, default=spelt(d.activations),
                 help="comma-separated; 'name:param' sets leaky_relu's slope or "
                 f"elu's alpha. One of: {', '.join(activations.NAMES)}")
  g.add_argument("--inits", type=names, default=spelt(d.inits),
                 help=f"initialisation schemes, comma-separated: {', '.join(inits.NAMES)}")
  g.add_argument("--sigma-w", type=listof(float, "numbers >= 0"), default=spelt(d.sigma_w),
                 help="weight gain(s); for gaussian W ~ N(0, sigma_w^2/fan_in)")
  g.add_argument("--sigma-b", type=listof(float, "numbers >= 0"), default=spelt(d.sigma_b),
                 help="bias std(s), absolute (never rescaled with width); the "
                 "paper's is 1/sqrt(512)")
  g.add_argument("--no-bias", dest="bias", action="store_false",
                 help="set all biases to zero (default: biases on)")
  g.add_argument("--block", choices=BLOCKS, default=d.block,
                 help="order inside a layer")
  g.add_argument("--depth", type=int, default=d.depth, help="number of layers L")
  g.add_argument("--width", dest="widths", type=listof(int, "integers"),
                 default=spelt(d.widths), help="hidden width(s), comma-separated")
  g = p.add_argument_group("inputs and seeds")
  g.add_argument("--inputs", default=d.inputs,
                 help=f"{' or '.join(INPUT_KINDS)} noise drawn per seed "
                 "(uniform is U(-1,1)), or a .npy file of shape (N, d)")
  g.add_argument("--n-samples", type=int, default=d.n_samples,
                 help="N, number of generated inputs")
  g.add_argument("--input-dim", type=int, default=d.input_dim,
                 help="d, dimension of generated inputs")
  g.add_argument("--seeds", type=int, default=d.seeds, help="number of seeds")
  g.add_argument("--seed", type=int, default=d.seed,
                 help="base seed; seed i uses fold_in(key(seed), i)")
  g = p.add_argument_group("statistics and numerics")
  g.add_argument("--no-pairwise", dest="pairwise", action="store_false",
                 help="skip pairwise min/max cosine and the histogram "
                 "(default: computed, in blocks)")
  g.add_argument("--n-bins", type=int, default=d.n_bins,
                 help="cosine histogram bins on [-1, 1]")
  g.add_argument("--pair-block", type=int, default=d.pair_block,
                 help="rows per block for pairwise statistics")
  g.add_argument("--seed-chunk", type=int, default=d.seed_chunk,
                 help="seeds per device and compiled call; 0 picks one (a speed "
                 "heuristic, lowered to fit the memory)")
  g.add_argument("--precision", choices=PRECISIONS, default=d.precision,
                 help="matmul precision")
  g.add_argument("--dtype", choices=DTYPES, default=d.dtype,
                 help="float64 turns on 64-bit JAX")


def config_from_args(a) -> ConeConfig:
  fields = ConeConfig.__dataclass_fields__
  return ConeConfig(**{k: getattr(a, k) for k in fields if hasattr(a, k)})
