"""Tests run with 64-bit JAX so float64 references are available; every engine
call states its dtype explicitly, so float32 paths are still float32.

Compiled programs go to a persistent compilation cache shared by the pytest-xdist
workers of one test run and by the subprocesses the tests start (they inherit
the environment): the same program compiled by two workers is compiled once.
The cache only stores XLA executables; tracing (which the trace-count tests
watch) happens as before.

XLA:CPU compiles the suite's programs with LLVM at -O0 (an XLA flag the
subprocesses inherit; tests that add flags append to it, ``subproc``): the
suite is mostly compilation of small programs, and this takes a quarter off
its time. The arithmetic is IEEE either way, but the last bits of a float32
result can differ from an -O2 build's (e.g. where LLVM fuses a multiply and an
add), so a test only ever compares bits between runs compiled alike; every
comparison with a reference has a tolerance. The product compiles at XLA's
default level; pass --xla_backend_optimization_level in XLA_FLAGS to test at
another one.
"""
import os
import tempfile

_FLAGS = os.environ.get("XLA_FLAGS", "")
if "xla_backend_optimization_level" not in _FLAGS:
  os.environ["XLA_FLAGS"] = f"{_FLAGS} --xla_backend_optimization_level=0".strip()

import jax  # noqa: E402  (after XLA_FLAGS: XLA reads them when its backend starts)

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


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_matmul_precision():
  """A command that sets JAX's default matmul precision in-process (the
  float64 paths call precision.enable_x64) must not change the tests after it:
  the setting is part of every compiled program's cache key."""
  before = jax.config.jax_default_matmul_precision
  yield
  jax.config.update("jax_default_matmul_precision", before)
