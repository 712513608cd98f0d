"""The package layout: arrows one way, no import cycles, tests mirror gaplab/.

Imports are read from the source (module level and inside functions alike),
so a cycle hidden in a function-level import is caught too.
"""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = {"gaplab": "gaplab", "gaplab.simulations": "simulations",
            "gaplab.theory_checks": "theory_checks"}
EXPERIMENTS = ("gaplab.simulations", "gaplab.theory_checks")
ABOVE_EXPERIMENTS = ("gaplab.cli",)  # the registry of experiments lives here


def _modules():
  """dotted name -> path of every module of the package (experiments included)."""
  out = {}
  for pkg, folder in PACKAGES.items():
    base = os.path.join(ROOT, folder)
    for dirpath, dirnames, files in os.walk(base):
      dirnames[:] = [d for d in dirnames if d != "__pycache__"
                     and not (pkg == "gaplab" and d in ("simulations", "theory_checks"))]
      for f in files:
        if f.endswith(".py"):
          rel = os.path.relpath(os.path.join(dirpath, f), base)[:-3].split(os.sep)
          name = ".".join([pkg] + [p for p in rel if p != "__init__"])
          out[name] = os.path.join(dirpath, f)
  return out


def _imports(path, name, modules):
  """The package's modules ``name`` imports (a package counts as its __init__)."""
  found = set()
  for node in ast.walk(ast.parse(open(path).read())):
    if isinstance(node, ast.Import):
      targets = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      # 'from P import X' imports the submodule P.X where there is one, and
      # reads P's __init__ only for names that are not submodules
      subs = [f"{node.module}.{a.name}" for a in node.names]
      targets = [t for t in subs if t in modules]
      if len(targets) < len(subs):
        targets.append(node.module)
    else:
      continue
    for t in targets:
      if t in modules and t != name:
        found.add(t)
  return found


@pytest.fixture(scope="module")
def graph():
  mods = _modules()
  return {n: _imports(p, n, mods) for n, p in mods.items()}


def test_no_import_cycles(graph):
  # Tarjan's strongly connected components; the top-level gaplab/__init__
  # re-exports the public API, so edges *into* "gaplab" are not followed
  index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

  def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in graph[v] - {"gaplab"}:
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      comp = set()
      while True:
        w = stack.pop()
        on.discard(w)
        comp.add(w)
        if w == v:
          break
      if len(comp) > 1:
        sccs.append(sorted(comp))

  for v in graph:
    if v not in index:
      visit(v)
  assert sccs == []


def test_the_library_never_imports_an_experiment(graph):
  bad = [(src, dst) for src, dsts in graph.items() for dst in dsts
         if dst.startswith(EXPERIMENTS) and not src.startswith(EXPERIMENTS)
         and not src.startswith(ABOVE_EXPERIMENTS)]
  assert bad == []


def test_no_library_module_imports_the_package_that_imports_it(graph):
  # 'from gaplab import X' from inside the library goes through gaplab/__init__
  # (which imports everything): only submodule imports are allowed there
  bad = [src for src, dsts in graph.items() if "gaplab" in dsts
         and src.startswith("gaplab.") and not src.startswith(EXPERIMENTS)]
  assert bad == []


def test_tests_mirror_the_package_and_files_stay_short():
  subpackages = {d for d in os.listdir(os.path.join(ROOT, "gaplab"))
                 if os.path.isfile(os.path.join(ROOT, "gaplab", d, "__init__.py"))}
  here = os.path.dirname(os.path.abspath(__file__))
  dirs = {d for d in os.listdir(here) if os.path.isdir(os.path.join(here, d))
          and d != "__pycache__"}
  assert dirs <= subpackages | {"simulations", "theory_checks"}, dirs - subpackages
  long = [p for p in _modules().values() if sum(1 for _ in open(p)) > 400]
  assert long == []
