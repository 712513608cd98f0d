"""Tests run with 64-bit JAX so float64 references are available; every engine
call states its dtype explicitly, so float32 paths are still float32.

Compiled programs go to a persistent compilation cache shared by the pytest-xdist
workers of one test run and by the subprocesses the tests start (they inherit
the environment): the same program compiled by two workers is compiled once.
The cache only stores XLA executables; tracing (which the trace-count tests
watch) happens as before.
"""
import os
import tempfile

import jax

_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID")
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
  os.environ["JAX_COMPILATION_CACHE_DIR"] = (
      os.path.join(tempfile.gettempdir(), f"gaplab-tests-jax-cache-{_RUN}") if _RUN
      else tempfile.mkdtemp(prefix="gaplab-tests-jax-cache-"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs",
                  float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))
jax.config.update("jax_enable_x64", True)
