"""What every benchmark shares: the machine's description, the Markdown section it replaces, a liquid
start made by LAMMPS, and the MD engines timed on it."""

from __future__ import annotations

import os
import platform
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from ogn.io.types import Structure


def machine_description() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores visible, {platform.system()} {platform.release()}"


def prepare_liquid(system, seed: int = 0) -> Structure:
    """A liquid state of `system` at its temperature, made quickly by LAMMPS."""
    from ogn.md import protocols
    from ogn.md.lammps import gather, load_structure, new_instance, scatter

    rng = np.random.default_rng(seed)
    structure = Structure(protocols.random_positions(system, rng), system.species(), system.box)
    t = system.temperature
    with tempfile.TemporaryDirectory() as tmp:
        lmp = new_instance()
        try:
            load_structure(lmp, system, structure, Path(tmp))
            lmp.commands_list([f"timestep {system.dt!r}", "min_style fire", "minimize 0.0 1.0e-2 2000 20000"])
            scatter(lmp, "v", protocols.gaussian_velocities(system, structure.species, t, rng))
            lmp.commands_list(["fix 1 all nve", f"fix 2 all temp/rescale 1 {t!r} {t!r} 0.0 1.0", "run 200"])
            n = structure.n_atoms
            x = gather(lmp, "x", n) + gather(lmp, "image", n) * system.sides
            v = gather(lmp, "v", n)
        finally:
            lmp.close()
    return Structure(x, structure.species, system.box, v)


def time_lammps(system, structure: Structure, steps: int, threads: int = 1) -> float:
    """us/atom-step of `run steps` (NVE) in LAMMPS."""
    from ogn.md.lammps import load_structure, new_instance, scatter

    with tempfile.TemporaryDirectory() as tmp:
        lmp = new_instance(threads)
        try:
            load_structure(lmp, system, structure, Path(tmp))
            scatter(lmp, "v", structure.velocities)
            lmp.commands_list([f"timestep {system.dt!r}", "fix 1 all nve", "thermo 0", "run 0"])
            t0 = time.perf_counter()
            lmp.command(f"run {steps} pre no post no")
            wall = time.perf_counter() - t0
        finally:
            lmp.close()
    return 1e6 * wall / (steps * structure.n_atoms)


def time_jax(system, structure: Structure, steps: int, capacity_multiplier: float = 1.25) -> float:
    """us/atom-step of the jax engine's compiled NVE chunk, timed on the second call."""
    import jax

    from ogn.md.simulate import _nve_chunk, init_state, make_force_field, redo_until_fits

    ff = make_force_field(system, structure.species, capacity_multiplier, precision="float32")
    neighbor = ff.allocate(np.mod(structure.positions, system.sides))
    state = init_state(ff, structure.positions, structure.velocities, neighbor)
    for attempt in range(2):
        (new_state, new_neighbor, out), neighbor = redo_until_fits(
            lambda nb: jax.block_until_ready(_nve_chunk(ff, system.dt, state, nb, 1, steps)),  # noqa: B023 (called at once)
            lambda result: result[1].did_buffer_overflow, ff, state.positions, neighbor)
        if attempt == 0:
            state, neighbor = new_state, new_neighbor
    t0 = time.perf_counter()
    new_state, new_neighbor, out = _nve_chunk(ff, system.dt, state, neighbor, 1, steps)
    jax.block_until_ready(out)
    wall = time.perf_counter() - t0
    return 1e6 * wall / (steps * structure.n_atoms)


def steps_for(n_atoms: int) -> int:
    """About a million atom-steps per measurement, at least 20 steps."""
    return max(20, 1_000_000 // n_atoms)


def replace_section(path: Path, name: str, body: str) -> None:
    """Replace (or append) the block between <!-- begin NAME --> and <!-- end NAME --> in a Markdown file."""
    from ogn.io.files import atomic_write_text

    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n\nEvery number here was measured by the command shown with it.\n"
    block = f"{begin}\n{body}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    atomic_write_text(path, text)
