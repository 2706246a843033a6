"""The persistent compilation cache: a second run with the same shapes loads its compiled programs
instead of compiling them again (start-up of a short rollout: ~12 s -> ~2.5 s, BENCHMARKS.md). Every
learned simulator turns it on, the command line's and ASE's alike."""

from __future__ import annotations

import os
from pathlib import Path


def compilation_cache_dir() -> Path | None:
    """Where compiled XLA programs persist between runs: $OGN_CACHE_DIR, else $XDG_CACHE_HOME/ogn/jax or
    ~/.cache/ogn/jax; OGN_CACHE_DIR=off disables it. Safe to delete at any time."""
    setting = os.environ.get("OGN_CACHE_DIR")
    if setting is not None:
        return None if setting.strip().lower() in ("", "0", "off", "none") else Path(setting)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ogn" / "jax"


def use_compilation_cache() -> None:
    """Turn the cache on for this process (once; later calls change nothing)."""
    import jax

    directory = compilation_cache_dir()
    if directory is None or jax.config.jax_compilation_cache_dir:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a read-only home: run without the cache rather than fail
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # start-up is many small compiles
