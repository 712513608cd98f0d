"""The sub-command declarations every command module shares."""
import pytest

from gaplab.cli import options
from gaplab.harness.experiment import Parser


def _tool():
  p = Parser(prog="tool")
  sub = options.subcommands(p)
  c = options.command(sub, "count", "count things", """
      Count   the things,
        once each.""")
  c.add_argument("--n", type=int, default=3, help="how many")
  c.add_argument("--out", default=None, help="where (default: nowhere)")
  options.command(sub, "bare", "no description")
  return p, c


def test_command_folds_its_description_and_shows_defaults():
  p, c = _tool()
  assert c.description == "Count the things, once each."
  assert options.command(options.subcommands(Parser()), "x", "h").description is None
  text = " ".join(c.format_help().split())
  assert "usage: tool count [-h] [--n N] [--out OUT] Count the things, once each." in text
  assert "how many (default: 3)" in text and "where (default: nowhere)" in text
  assert "count count things bare no description" in " ".join(p.format_help().split())


def test_subcommands_are_required_and_stored_in_dest(capsys):
  p, _ = _tool()
  assert vars(p.parse_args(["count", "--n", "5"])) == {"what": "count", "n": 5, "out": None}
  with pytest.raises(SystemExit) as e:
    p.parse_args([])
  assert e.value.code == 2
  assert capsys.readouterr().err == "tool: error: the following arguments are required: WHAT\n"
  top = Parser(prog="top")
  options.subcommands(top, dest="command", metavar="COMMAND")
  with pytest.raises(SystemExit):
    top.parse_args([])
  assert "required: COMMAND" in capsys.readouterr().err
