"""`ogn md`: prepare a system by the paper's protocol and write its NVE production run, with either engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ogn.io.h5md import TrajectoryWriter
from ogn.md import protocols
from ogn.md.config import MDConfig, RateClock, RunSummary, energy_figures, load_init, metadata
from ogn.md.lammps import run_md_lammps
from ogn.md.simulate import init_state, make_force_field, run_nve
from ogn.periodic import box_text
from ogn.progress import NoProgress
from ogn.quantity import temperature_of
from ogn.systems import System


def run_md(system: System, config: MDConfig, out: str | Path, log: Callable[[str], None] = print,
           progress_factory=None) -> RunSummary:
    """Prepare (or load) a state, run production NVE, stream frames to `out`. Returns the summary."""
    if config.engine == "lammps":
        return run_md_lammps(system, config, out, log=log, progress_factory=progress_factory)
    progress_factory = progress_factory or NoProgress
    if config.init is not None:
        system, structure = load_init(system, config.init, config.frame, log=log)
        ff = make_force_field(system, structure.species, precision=config.precision)
        neighbor = ff.allocate(np.mod(structure.positions, system.sides))
        state, prep_steps = init_state(ff, structure.positions, structure.velocities, neighbor), 0
    else:
        ff = make_force_field(system, system.species(), precision=config.precision)
        state, neighbor, prep_steps = prepare(ff, config, log, progress_factory)
    meta = metadata(system, config) | {"engine": "jax", "preparation_steps": prep_steps}
    return production(ff, state, neighbor, config, out, meta, prep_steps, log, progress_factory)


def prepare(ff, config: MDConfig, log: Callable[[str], None], progress_factory):
    """The paper's protocol on the jax engine: placement, minimisation, equilibration by rescaling, and the
    quench for a glass. Returns (state, neighbor list, preparation steps)."""
    system = ff.system
    rng = np.random.default_rng(config.seed)
    log(f"placing {system.n_atoms} atoms at random in a box of {box_text(system.box)} {system.units.length}")
    positions = protocols.random_positions(system, rng)
    log("minimising (steepest descent; the first chunk compiles)")
    positions = protocols.minimize(ff, positions)
    velocities = protocols.gaussian_velocities(system, ff.species, system.temperature, rng)
    neighbor = ff.allocate(positions)
    state = init_state(ff, positions, velocities, neighbor)
    with progress_factory("equilibrating (velocity rescaling, until the kinetic energy settles)", None) as advance:
        state, neighbor, n = protocols.equilibrate_rescale(ff, state, neighbor, system.temperature, log=log,
                                                           progress=advance)
    log(f"equilibrated at T = {system.temperature} in {n} steps")
    if config.glass:
        with progress_factory(f"quenching to T = {config.glass_temperature}", config.quench_steps) as advance:
            state, neighbor = protocols.quench_nose_hoover(ff, state, neighbor, system.temperature,
                                                           config.glass_temperature, config.quench_steps,
                                                           progress=advance)
        n += config.quench_steps
    return state, neighbor, n


def production(ff, state, neighbor, config: MDConfig, out, meta: dict, prep_steps: int,
               log: Callable[[str], None], progress_factory) -> RunSummary:
    """NVE from `state`, every `config.every`-th frame streamed to `out` (H5MD)."""
    system = ff.system
    target_t = config.glass_temperature if config.glass else system.temperature
    energies, kinetic, times = [], [], []
    clock = RateClock()
    with TrajectoryWriter(out, np.asarray(ff.species), system.box, system.dt, meta, system.units.name) as writer:

        def on_frames(frames):
            writer.append(frames.steps, frames.positions, frames.velocities, frames.potential_energy,
                          frames.kinetic_energy)
            energies.append(frames.potential_energy + frames.kinetic_energy)
            kinetic.append(frames.kinetic_energy)
            times.append(frames.steps * system.dt)
            clock.mark(int(frames.steps[-1]))

        with progress_factory("production NVE", config.steps) as advance:
            run_nve(ff, state, neighbor, config.steps, config.every, on_frames=on_frames,
                    chunk_steps=config.chunk_steps, max_temperature=config.runaway_factor * target_t, log=log,
                    progress=advance)
    rate = clock.steps_per_second(config.steps)
    e, kin = np.concatenate(energies), np.concatenate(kinetic)
    drift, fluct, per_atom = energy_figures(np.concatenate(times), e, kin, system.n_atoms)
    mean_t = float(np.mean(temperature_of(kin, system.n_atoms, system.units.boltzmann)))
    return RunSummary(system.n_atoms, config.steps, prep_steps, clock.wall(), rate, 1e6 / (rate * system.n_atoms),
                      drift, fluct, per_atom, mean_t)
