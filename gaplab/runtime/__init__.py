"""How a run runs: progress on the terminal, the persistent compilation cache,
multi-process setup through ``jax.distributed`` and memory planning.

Nothing here computes a result; the sweeps (``cone``, ``training``) take what
they need from here as plain arguments or through ``progress.current()``.
"""
