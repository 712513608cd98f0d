"""``gaplab zeroshot`` and ``gaplab fairness`` end to end: files, values, one-line errors."""
import csv
import json

import numpy as np
import pytest

from clihelp import run_cli
from gaplab.cli import fairness as fairness_cli
from gaplab.embeddings import downstream_store as ds
from gaplab.embeddings import fairness as fa
from gaplab.embeddings import load
from gaplab.embeddings import zeroshot as zs
from gaplab.io import results
from gaplab.nets import inputs

run = run_cli


def unit(a):
  return a / np.linalg.norm(a, axis=-1, keepdims=True)


@pytest.fixture
def files(tmp_path):
  rng = np.random.default_rng(0)
  n, c, p, d = 120, 6, 3, 8
  protos = rng.normal(size=(c, d))
  y = rng.integers(0, c, n)
  gap = 1.5 * np.eye(d)[0]
  x = (protos[y] + rng.normal(size=(n, d)) + gap).astype(np.float32)
  t = (protos[:, None] + 0.3 * rng.normal(size=(c, p, d)) - gap).astype(np.float32)
  pairs = np.stack([rng.normal(size=(40, d)) + gap, rng.normal(size=(40, d)) - gap])
  groups = rng.integers(0, 3, n)
  paths = {"images": x, "labels": y, "classes": t, "pairs": pairs, "groups": groups,
           "sgroups": np.array(["a", "b", "c"])[groups], "vec": rng.normal(size=d),
           "wrong_d": t[:, :, :5], "short": y[:-1]}
  for k, v in paths.items():
    np.save(tmp_path / f"{k}.npy", v)
  return tmp_path, {k: str(tmp_path / f"{k}.npy") for k in paths}, paths


def read_csv(path):
  with open(path, newline="") as f:
    return list(csv.reader(f))


def test_zeroshot_writes_the_run(files, capsys):
  tmp, f, raw = files
  out = str(tmp / "zs")
  rc, stdout, err = run(["zeroshot", "--images", f["images"], "--labels", f["labels"],
                         "--classes", f["classes"], "--out", out, "--quiet"], capsys)
  assert rc == 0, err
  assert "best delta" in stdout and "gain" in stdout
  rows = read_csv(tmp / "zs" / "zeroshot.csv")
  assert rows[0] == ["delta", "gap", "accuracy", "top5", "signed_gap"]
  assert len(rows) == 1 + 40
  assert open(tmp / "zs" / "zeroshot.csv").read() == open(tmp / "zs" / "results.csv").read()
  for ext in ("png", "pdf"):
    assert (tmp / "zs" / "figures" / f"zeroshot.{ext}").is_file()
  run_ = results.load_run(out)
  x = load.unit_rows(raw["images"], "images")
  ref = zs.curve(x, raw["labels"], zs.class_embeddings(raw["classes"]))
  np.testing.assert_array_equal(run_.arrays["top1"], ref["top1"])
  np.testing.assert_array_equal(run_.arrays["gap"], ref["gap"])
  np.testing.assert_array_equal([float(r[2]) for r in rows[1:]], ref["top1"])
  meta = run_.meta
  assert meta["kind"] == "zeroshot" and meta["summary"] == zs.summary(ref)
  assert meta["config"]["direction"] == "task"
  assert meta["sources"]["images"]["sha256"] == inputs.fingerprint(raw["images"])
  assert json.load(open(tmp / "zs" / "config.json"))["summary"]["gain"] >= 0


def test_zeroshot_direction_from_pairs(files, capsys):
  tmp, f, raw = files
  out = str(tmp / "zp")
  rc, _, err = run(["zeroshot", "--images", f["images"], "--labels", f["labels"],
                    "--classes", f["classes"], "--direction-from", f["pairs"],
                    "--deltas=-1,0,1", "--out", out], capsys)
  assert rc == 0, err
  run_ = results.load_run(out)
  d = unit(unit(raw["pairs"][0]).mean(0) - unit(raw["pairs"][1]).mean(0))
  np.testing.assert_allclose(run_.arrays["direction"], d, rtol=1e-6)  # float32 unit rows
  assert run_.meta["config"]["direction"] == "pairs"
  assert run_.arrays["delta"].tolist() == [-1.0, 0.0, 1.0]


def test_fairness_writes_the_run(files, capsys):
  assert fairness_cli.DEFAULT_DELTAS == fa.DEFAULT_DELTAS and fairness_cli.MODES == fa.MODES
  tmp, f, raw = files
  out = str(tmp / "fa")
  rc, stdout, err = run(["fairness", "--images", f["images"], "--groups", f["groups"],
                         "--group-names", "a,b,c", "--classes", f["classes"],
                         "--flagged", "bad=4,5", "--flagged", "odd=1", "--labels", f["labels"],
                         "--direction-from", f["pairs"], "--out", out], capsys)
  assert rc == 0, err
  assert "bad" in stdout and "%" in stdout
  rows = read_csv(tmp / "fa" / "fairness.csv")
  assert rows[0] == ["delta", "group", "set", "fraction", "count", "group_size", "accuracy"]
  assert len(rows) == 1 + 5 * 3 * 2 and rows[1][:3] == ["0.0", "a", "bad"]
  assert (tmp / "fa" / "figures" / "fairness.png").is_file()
  run_ = results.load_run(out)
  x = load.unit_rows(raw["images"], "images")
  g = ds.pair_gap(raw["pairs"])
  ref = fa.curve(x, raw["groups"], zs.class_embeddings(raw["classes"]),
                 {"bad": [4, 5], "odd": [1]}, direction=g, labels=raw["labels"],
                 group_names=["a", "b", "c"])
  np.testing.assert_array_equal(run_.arrays["fraction"], ref["fraction"])
  np.testing.assert_array_equal(run_.arrays["accuracy"], ref["accuracy"])
  assert run_.meta["coords"] == {"group": ["a", "b", "c"], "set": ["bad", "odd"]}
  # string groups name themselves; no labels: the accuracy column is empty
  rc, _, err = run(["fairness", "--images", f["images"], "--groups", f["sgroups"],
                    "--classes", f["classes"], "--flagged", "bad=4,5", "--mode", "both_unit",
                    "--direction", f["vec"], "--deltas=-1,0", "--out", str(tmp / "fb")], capsys)
  assert rc == 0, err
  rows = read_csv(tmp / "fb" / "fairness.csv")
  assert rows[1][1] == "a" and rows[1][-1] == "" and len(rows) == 1 + 2 * 3


@pytest.mark.parametrize("cmd, change, flag", [
    ("zeroshot", {"--classes": "wrong_d"}, "--classes"),
    ("zeroshot", {"--labels": "short"}, "--labels"),
    ("zeroshot", {"--deltas": "=-1,1"}, "--deltas"),
    ("zeroshot", {"--direction-from": "images"}, "--direction-from"),
    ("fairness", {"--flagged": "bad=4,9"}, "--flagged"),
    ("fairness", {"--flagged": "bad"}, "--flagged"),
    ("fairness", {"--classes": "wrong_d"}, "--classes"),
    ("fairness", {"--labels": "short"}, "--labels"),
    ("fairness", {"--deltas": "=-1,1"}, "--deltas"),
])
def test_bad_inputs_one_line_nothing_written(files, capsys, cmd, change, flag):
  tmp, f, _ = files
  args = {"--images": f["images"], "--classes": f["classes"], "--labels": f["labels"]}
  if cmd == "fairness":
    args.update({"--groups": f["groups"], "--flagged": "bad=4,5", "--direction": f["vec"]})
  for k, v in change.items():
    args[k] = v if v.startswith("=") or "=" in v or k == "--flagged" else f[v]
  argv = [cmd]
  for k, v in args.items():
    argv += [k + v] if v.startswith("=") else [k, v]
  out = tmp / "refused"
  rc, _, err = run([*argv, "--out", str(out)], capsys)
  assert rc == 2 and f"argument {flag}" in err, err
  assert len(err.strip().splitlines()) == 1
  assert not out.exists()
