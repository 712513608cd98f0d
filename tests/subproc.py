"""Shared by the tests that run gaplab in other processes (kill-and-resume,
several processes, several host devices)."""
import glob
import os
import signal
import subprocess
import sys
import time

# the test process computes in 64-bit mode (conftest); a child does the same,
# so both compile the same programs (one persistent cache entry) and every
# float32 array is computed alike
ENV = dict(os.environ, JAX_ENABLE_X64="1")
CLI = ("import sys; from gaplab.cli.main import main; sys.exit(main(sys.argv[1:]))")


def with_devices(env, n: int) -> dict:
  """``env`` with ``n`` host CPU devices, keeping the XLA flags the suite runs
  with (conftest), so the child compiles exactly as this process does."""
  flags = env.get("XLA_FLAGS", "")
  return dict(env, XLA_FLAGS=f"{flags} --xla_force_host_platform_device_count={n}".strip())


def gaplab_argv(args):
  return [sys.executable, "-c", CLI] + list(args)


def kill_when(argv, ready, timeout=120.0, env=None):
  """Starts ``argv``, polls ``ready()`` every 2 ms and SIGKILLs the process as
  soon as it holds (SIGSTOP first, so it cannot get further); returns what
  ``ready`` returned. Fails if the process ends first."""
  proc = subprocess.Popen(argv, env=env or ENV, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
  t0 = time.monotonic()
  try:
    while time.monotonic() - t0 < timeout:
      got = ready()
      if got:
        proc.send_signal(signal.SIGSTOP)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return got
      if proc.poll() is not None:
        raise AssertionError(f"the run ended before it could be killed: "
                             f"{proc.stderr.read().decode()[-2000:]}")
      time.sleep(0.002)
    raise AssertionError("the run never reached the point to kill it at")
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()


def files(pattern):
  return sorted(glob.glob(pattern))
