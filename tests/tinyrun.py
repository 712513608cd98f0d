"""Shared by the experiment tests: one tiny run of an experiment file."""
import os

from gaplab.io import results


def tiny_run(module, out, capsys):
  """Runs ``module.main(["--tiny", "--out", out])`` and checks it exits 0 and
  drew ``figures/NAME.png``; returns (the saved run, what it printed)."""
  assert module.main(["--tiny", "--out", out]) == 0
  printed = capsys.readouterr().out
  assert os.path.isfile(os.path.join(out, "figures", f"{module.NAME}.png"))
  return results.load_run(out), printed
