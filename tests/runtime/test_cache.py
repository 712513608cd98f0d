"""The persistent compilation cache: where it lives, that enable/disable set
JAX's config, bad directories, and one real round trip (this process writes an
entry, a fresh process loads it instead of compiling)."""
import json
import os
import subprocess
import sys

import jax
import pytest
from jax import monitoring

from gaplab._errors import ConfigError
from gaplab.runtime import cache

_NAMES = ("jax_compilation_cache_dir", "jax_enable_compilation_cache",
          "jax_persistent_cache_min_compile_time_secs",
          "jax_persistent_cache_min_entry_size_bytes")
_ENVS = (cache.ENV, "JAX_COMPILATION_CACHE_DIR", "XDG_CACHE_HOME")


@pytest.fixture
def jax_cache_config():
  """Puts back the test suite's cache settings (conftest.py) afterwards."""
  saved = {n: getattr(jax.config, n) for n in _NAMES}
  yield
  for n, v in saved.items():
    jax.config.update(n, v)
  from jax.experimental.compilation_cache import compilation_cache
  compilation_cache.reset_cache()


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
  for var in _ENVS:
    monkeypatch.delenv(var, raising=False)
  monkeypatch.setenv("HOME", str(tmp_path / "home"))
  return monkeypatch


def test_default_dir_precedence(clean_env, tmp_path):
  home = str(tmp_path / "home")
  assert cache.default_dir() == os.path.join(home, ".cache", "gaplab", "jax")
  clean_env.setenv("XDG_CACHE_HOME", "/xdg")
  assert cache.default_dir() == "/xdg/gaplab/jax"
  clean_env.setenv("JAX_COMPILATION_CACHE_DIR", "/jaxdir")
  assert cache.default_dir() == "/jaxdir"
  clean_env.setenv(cache.ENV, "~/mine")
  assert cache.default_dir() == os.path.join(home, "mine")
  clean_env.setenv(cache.ENV, "")  # empty is unset
  assert cache.default_dir() == "/jaxdir"


def test_enable_creates_the_dir_and_sets_jax_config(clean_env, tmp_path, jax_cache_config):
  clean_env.delenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", raising=False)
  clean_env.setenv(cache.ENV, str(tmp_path / "a" / "b"))
  path = cache.enable()
  assert path == str(tmp_path / "a" / "b") and os.path.isdir(path)
  assert jax.config.jax_compilation_cache_dir == path
  assert jax.config.jax_enable_compilation_cache is True
  assert jax.config.jax_persistent_cache_min_compile_time_secs == cache.MIN_COMPILE_TIME_S
  assert jax.config.jax_persistent_cache_min_entry_size_bytes == -1
  assert cache.describe() == {"enabled": True, "dir": path}
  cache.disable()
  assert jax.config.jax_enable_compilation_cache is False
  assert cache.describe() == {"enabled": False, "dir": None}
  # JAX's own variable (read by JAX at import) wins over our threshold
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 7.0)
  clean_env.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "7")
  assert cache.enable(str(tmp_path / "c")) == str(tmp_path / "c")
  assert jax.config.jax_persistent_cache_min_compile_time_secs == 7.0
  assert cache.describe()["enabled"] is True


def test_a_path_that_is_a_file_is_a_config_error(tmp_path, jax_cache_config):
  f = tmp_path / "file"
  f.write_text("")
  before = jax.config.jax_compilation_cache_dir
  for bad in (f, f / "under"):
    with pytest.raises(ConfigError) as e:
      cache.enable(str(bad))
    assert e.value.field == "cache_dir" and "expected a writable directory" in e.value.message
    assert str(bad) in e.value.message
  assert jax.config.jax_compilation_cache_dir == before


# the same source in both processes, so the same program and cache key; the
# input comes from NumPy so the jitted function is the only program compiled
_PROBE = """
import jax, jax.numpy as jnp, numpy as np
def gaplab_cache_probe(x):
  return jnp.tanh(x @ x.T) * 3.25 + 1
jax.jit(gaplab_cache_probe)(np.arange(64, dtype=np.float32).reshape(8, 8)).block_until_ready()
"""

_CHILD = """
import json, sys
from jax import monitoring
seen = []
monitoring.register_event_listener(lambda name, **kw: seen.append(name))
from gaplab.runtime import cache
cache.enable(sys.argv[1])
exec(compile(sys.argv[2], "gaplab_cache_probe", "exec"))
count = lambda k: seen.count("/jax/compilation_cache/" + k)
print(json.dumps({k: count(k) for k in ("cache_hits", "cache_misses")}))
"""


def test_a_fresh_process_loads_what_this_one_compiled(tmp_path, jax_cache_config):
  path = cache.enable(str(tmp_path / "jax"))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # cache the tiny probe
  seen = []
  listener = lambda name, **kw: seen.append(name)
  monitoring.register_event_listener(listener)
  try:
    exec(compile(_PROBE, "gaplab_cache_probe", "exec"), {})
  finally:
    monitoring.unregister_event_listener(listener)
  entries = sorted(os.listdir(path))
  assert "/jax/compilation_cache/cache_misses" in seen
  assert any(e.startswith("jit_gaplab_cache_probe-") for e in entries), entries
  env = {k: v for k, v in os.environ.items() if k not in _ENVS}
  env.update(JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
             JAX_ENABLE_X64="1" if jax.config.jax_enable_x64 else "0")
  out = subprocess.run([sys.executable, "-c", _CHILD, path, _PROBE], env=env, capture_output=True,
                       text=True, timeout=120)
  assert out.returncode == 0, out.stderr
  counts = json.loads(out.stdout.strip().splitlines()[-1])
  # every program the child compiled was found in the cache; nothing new written
  assert counts["cache_hits"] >= 1 and counts["cache_misses"] == 0, counts
  assert sorted(os.listdir(path)) == entries
