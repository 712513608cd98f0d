"""Tests run with 64-bit JAX so float64 references are available; every engine
call states its dtype explicitly, so float32 paths are still float32."""
import jax

jax.config.update("jax_enable_x64", True)
