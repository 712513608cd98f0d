"""The ``gaplab`` command line, one module per command. Bad input: one line on
stderr naming the argument, exit status 2."""
from __future__ import annotations

import sys

from gaplab._errors import ConfigError
from gaplab.cli import (analyze, bench, check, cone, fairness, gap, landscape, plot,
                        reproduce, run, sphere, theory, train, zeroshot)
from gaplab.cli import options
from gaplab.cli.options import flag, subcommands
from gaplab.harness.experiment import Parser

# command -> its module (add_parser(sub), command(args)), in the order of --help
COMMANDS = {"cone": cone, "theory": theory, "plot": plot, "check": check, "run": run,
            "gap": gap, "landscape": landscape, "analyze": analyze, "zeroshot": zeroshot,
            "fairness": fairness, "reproduce": reproduce, "bench": bench,
            "train": train, "sphere": sphere}


def build_parser() -> Parser:
  p = Parser(prog="gaplab", description="JAX simulation and theory lab for the "
             "modality gap of contrastive models.")
  sub = subcommands(p, dest="command", metavar="COMMAND")
  for module in COMMANDS.values():
    module.add_parser(sub)
  for command in options.commands_of(p):
    options.add_runtime_flags(command)
  return p


def setup(a) -> None:
  """The runtime flags every command has: the compilation cache, and
  ``jax.distributed`` where the command takes the multi-process flags."""
  from gaplab.runtime import cache, distributed
  if a.no_cache:
    cache.disable()
  else:
    cache.enable(a.cache_dir)
  if hasattr(a, "coordinator"):  # the sweeps; other commands run as one process
    distributed.initialize(a.coordinator, a.num_processes, a.process_id)


def main(argv=None) -> int:
  from gaplab.runtime import progress
  a = build_parser().parse_args(argv)
  try:
    setup(a)
    import jax
    quiet = a.quiet or (jax.process_count() > 1 and jax.process_index() != 0)
    with progress.use(progress.for_stream(quiet=quiet)):
      rc = COMMANDS[a.command].command(a)
  except ConfigError as e:
    print(f"gaplab {a.command}: error: argument {flag(e.field)}: {e.message}",
          file=sys.stderr)
    return 2
  return rc or 0


if __name__ == "__main__":
  sys.exit(main())
