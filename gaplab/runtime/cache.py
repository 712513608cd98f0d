"""JAX's persistent compilation cache: where it lives, turning it on and off,
and what to record about it.

On by default (the CLI calls ``enable`` for every command) in a per-user
directory: ``$GAPLAB_CACHE_DIR``, else JAX's own ``$JAX_COMPILATION_CACHE_DIR``
(the test suite points it at a per-run directory), else
``$XDG_CACHE_HOME/gaplab/jax``, else ``~/.cache/gaplab/jax``. A new process
that compiles a program it has compiled before loads the executable from
there instead of compiling it again; tracing still happens as before.

The cache is trusted: whoever can write to its directory can make gaplab run
arbitrary code (see ``jax.experimental.compilation_cache.set_cache_dir``), so
the default lives under the user's home.
"""
from __future__ import annotations

import os

import jax
from jax.experimental.compilation_cache import compilation_cache as _jax_cache

from gaplab._errors import ConfigError

__all__ = ["ENV", "MIN_COMPILE_TIME_S", "default_dir", "enable", "disable", "describe"]

ENV = "GAPLAB_CACHE_DIR"
# JAX's default (1 s) skips most of our programs: a cone sweep or a training
# sweep compiles in 0.2-30 s, the eager set-up around it (data, init) in a few
# programs of 0.1-0.5 s and many smaller ones, while a cache hit costs a few
# ms (read and deserialise). Below 0.1 s there is little to win and every
# write costs a file: on the tiny training sweep (2 CPUs) caching everything
# (0 s) wrote 113 entries instead of 22 and did not shorten the next process's
# start (3.5-4.0 s to the first result either way: tracing and the many small
# eager programs remain).
MIN_COMPILE_TIME_S = 0.1
# JAX's own variables for these settings win over ours when the user set them
_JAX_ENV_MIN_TIME = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"


def default_dir() -> str:
  """The cache directory used when none is given (see the module docstring)."""
  for var in (ENV, "JAX_COMPILATION_CACHE_DIR"):
    if os.environ.get(var):
      return os.path.expanduser(os.environ[var])
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "gaplab", "jax")


def _writable_dir(path: str) -> str:
  """``path`` made absolute and created; ConfigError if it cannot hold the cache."""
  bad = lambda why: ConfigError("cache_dir", f"expected a writable directory, got {path!r} "
                                f"({why})")
  full = os.path.abspath(os.path.expanduser(path))
  if os.path.lexists(full) and not os.path.isdir(full):
    raise bad("not a directory")
  try:
    os.makedirs(full, exist_ok=True)
  except OSError as e:
    raise bad(e.strerror or str(e)) from None
  if not os.access(full, os.W_OK | os.X_OK):
    raise bad("not writable")
  return full


def _min_compile_time() -> float:
  """Ours, unless the user set JAX's variable (JAX read it at import)."""
  if os.environ.get(_JAX_ENV_MIN_TIME):
    return jax.config.jax_persistent_cache_min_compile_time_secs
  return MIN_COMPILE_TIME_S


def enable(path: str | None = None) -> str:
  """Turns the persistent cache on in ``path`` (default ``default_dir()``) for
  this process, creating the directory; returns its absolute path.

  Works before or after a first compile: JAX opens its cache once, at the
  first compile, so the open cache is reset and the next compile opens
  ``path``. Programs already compiled in this process stay in memory.
  """
  full = _writable_dir(default_dir() if path is None else path)
  jax.config.update("jax_compilation_cache_dir", full)
  jax.config.update("jax_enable_compilation_cache", True)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", _min_compile_time())
  # -1: cache entries of any size (and stop JAX overriding the threshold)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
  _jax_cache.reset_cache()
  return full


def disable() -> None:
  """Turns the persistent cache off for this process (the directory stays)."""
  jax.config.update("jax_enable_compilation_cache", False)
  _jax_cache.reset_cache()


def describe() -> dict:
  """{"enabled": bool, "dir": the directory or None} for provenance records."""
  path = jax.config.jax_compilation_cache_dir
  on = bool(jax.config.jax_enable_compilation_cache and path)
  return {"enabled": on, "dir": path if on else None}
