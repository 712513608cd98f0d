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


def preset_flag(field: str) -> str:
  """The flag an error about preset key ``field`` names (else --set FIELD)."""
  return field if field in ("out", "set") else f"set {field}"


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
    path = mod.run(a.out or f"runs/{name}", a.size or "full", a.overwrite, **over)
  except ConfigError as e:
    raise ConfigError(flags(e.field), e.message) from None
  for f in mod.figures(path, path + "/figures"):
    print(f"wrote {f}")
  print(mod.report(path))
