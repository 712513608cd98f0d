"""``gaplab run NAME``: one experiment file from simulations/."""
from __future__ import annotations

from gaplab._errors import ConfigError
from gaplab.cli import options


def add_parser(sub) -> None:
  from gaplab.simulations import EXPERIMENTS
  p = options.command(sub, "run", "run one experiment file from simulations/", f"""
      Run one registered experiment (the same as 'python simulations/NAME.py'): save
      its data under --out, draw its figures in OUT/figures and print its report.
      Experiments: {', '.join(EXPERIMENTS)}.""")
  p.add_argument("name", metavar="NAME", help="experiment name")
  options.add_experiment_flags(p, "NAME")
  options.add_set(p, "override preset keys (unknown keys are an error)")
  options.add_scale_flags(p)


# run options that are flags of the command, not preset keys
FLAG_FIELDS = ("out", "set", "resume", "max_memory", "coordinator", "num_processes",
               "process_id")


def preset_flag(field: str) -> str:
  """The flag an error about preset key ``field`` names (else --set FIELD)."""
  return options.flag(field) if field in FLAG_FIELDS else f"set {field}"


def scale_options(a, mod, name: str) -> dict:
  """--resume, --max-memory and --dry-run as ``run`` arguments, for the
  experiments that take them (the training sweeps); a ConfigError naming the
  flag for the others, which also run in one process only (--coordinator)."""
  import inspect
  takes = "resume" in inspect.signature(mod.run).parameters
  given = {k: v for k, v in (("resume", a.resume), ("max_memory", options.max_memory(a)),
                             ("dry_run", a.dry_run)) if v}
  import jax
  several = {"coordinator": a.coordinator} if jax.process_count() > 1 else {}
  if (given or several) and not takes:
    from gaplab.simulations import EXPERIMENTS
    import importlib
    able = [n for n in EXPERIMENTS if "resume" in inspect.signature(
        importlib.import_module(f"gaplab.simulations.{n}").run).parameters]
    field = next(iter(given or several))
    raise ConfigError(field, f"expected an experiment that takes it ({', '.join(able)}), "
                      f"got {name!r}")
  return given


def command(a, name=None, flags=None, overrides=None) -> None:
  """Runs experiment ``name`` (default: a.name); ``overrides`` come before
  --set; ``flags`` names the flag of a field in errors (default --set FIELD)."""
  import importlib
  from gaplab.harness.experiment import parse_overrides
  from gaplab.simulations import EXPERIMENTS
  name = name or a.name
  if name not in EXPERIMENTS:
    raise ConfigError("name", f"expected one of {', '.join(EXPERIMENTS)}, got {name!r}")
  mod = importlib.import_module(f"gaplab.simulations.{name}")
  flags = flags or preset_flag
  try:
    over = dict(overrides or {})
    over.update(parse_overrides(a.set))
    scale = scale_options(a, mod, name)
    path = mod.run(a.out or f"runs/{name}", a.size or "full", a.overwrite, **scale, **over)
  except ConfigError as e:
    raise ConfigError(flags(e.field), e.message) from None
  import jax
  if a.dry_run:
    print(path)
    return
  if path is None or jax.process_index() != 0:  # finished already, or not the writer
    options.report_written(path, a.out or f"runs/{name}")
    return
  for f in mod.figures(path, path + "/figures"):
    print(f"wrote {f}")
  print(mod.report(path))
