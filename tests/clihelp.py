"""Shared by the command-line tests."""
from gaplab.cli import main as cli


def run_cli(argv, capsys):
  """(exit status, stdout, stderr) of an in-process ``gaplab`` call."""
  try:
    rc = cli.main(argv)
  except SystemExit as e:  # argparse's own errors exit directly
    rc = e.code
  out, err = capsys.readouterr()
  return rc, out, err
