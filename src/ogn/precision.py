"""Float precision as a parameter. The library never switches JAX's 64-bit mode (a process-wide
setting); the `ogn` command turns it on for the commands that compute in float64, and a Python caller
does so with `jax.config.update("jax_enable_x64", True)` before creating any array."""

from __future__ import annotations

import jax
import jax.numpy as jnp

PRECISIONS = ("float32", "float64")


def float_dtype(precision: str) -> jnp.dtype:
    """The dtype of `precision` ("float32" or "float64"); float64 needs JAX's 64-bit mode."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "float64" and not jax.config.jax_enable_x64:
        raise ValueError("float64 needs JAX's 64-bit mode, which is off in this process: the ogn command turns it on"
                         " where needed; in Python call jax.config.update('jax_enable_x64', True) before any array"
                         " is made")
    return jnp.dtype(precision)


def widest_precision() -> str:
    """"float64" where this process allows it, else "float32" (for numbers that should be as exact as the
    caller's process permits, e.g. the energies beside a float32 rollout)."""
    return "float64" if jax.config.jax_enable_x64 else "float32"
