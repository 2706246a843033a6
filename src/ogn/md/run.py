"""`ogn md`: prepare a system by the paper's protocol and write its NVE production run, with either engine."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ogn import __version__
from ogn.io.h5md import TrajectoryWriter
from ogn.io.lammps_data import Structure
from ogn.io.structures import file_format, read_structure
from ogn.periodic import box_text
from ogn.progress import NoProgress
from ogn.systems import System, check_same_system

GLASS_TEMPERATURE = 0.5  # LJ units: the paper's melt-quenched KA glass


@dataclass(frozen=True)
class MDConfig:
    steps: int  # production (NVE) steps
    every: int = 1  # write a frame every this many steps
    seed: int = 0
    engine: str = "jax"  # "jax" | "lammps"
    glass: bool = False  # melt-quench to glass_temperature before production
    glass_temperature: float = GLASS_TEMPERATURE
    quench_steps: int = 10_000
    init: str | None = None  # start from this structure (with velocities); skips preparation
    frame: int = -1  # frame of an H5MD init file
    runaway_factor: float = 10.0  # stop when T exceeds this many times the target temperature
    chunk_steps: int = 1000  # steps per compiled chunk / per write

    def __post_init__(self):
        if self.steps < 1 or self.every < 1:
            raise ValueError(f"steps and every must be >= 1, got steps={self.steps}, every={self.every}")
        if self.steps % self.every:
            raise ValueError(f"steps ({self.steps}) must be a multiple of every ({self.every})")
        if self.engine not in ("jax", "lammps"):
            raise ValueError(f"engine must be 'jax' or 'lammps', got {self.engine!r}")


@dataclass
class RunSummary:
    n_atoms: int
    steps: int
    preparation_steps: int
    wall_seconds: float  # production only
    steps_per_second: float  # production, after the first (compiling) chunk where there was more than one
    us_per_atom_step: float
    energy_drift: float  # |E_end - E_start| of the linear fit, relative to the mean kinetic energy
    energy_fluctuation: float  # std of E about the fit, relative to the mean kinetic energy
    drift_per_atom: float  # E_end - E_start of the fit, per atom, energy units
    mean_temperature: float

    def lines(self) -> list[str]:
        return [
            f"atoms {self.n_atoms}, production steps {self.steps} (+{self.preparation_steps} preparation)",
            f"speed {self.steps_per_second:.1f} steps/s = {self.us_per_atom_step:.3f} us/atom-step",
            f"mean T {self.mean_temperature:.4g}",
            (f"total energy (relative to mean kinetic energy): drift {self.energy_drift:.2e}, fluctuation "
            f"{self.energy_fluctuation:.2e}; drift per atom {self.drift_per_atom:.2e}"),
        ]


def energy_figures(times, total_energy, kinetic_energy, n_atoms: int) -> tuple[float, float, float]:
    """Drift and fluctuation of the total energy (about a linear fit) relative to the mean kinetic energy,
    and the drift per atom. The kinetic energy is the scale because the total energy of a dense liquid
    can sit near zero (LJ at T = 3: E ~ 0.05 KE), where a ratio to |E| says nothing."""
    e = np.asarray(total_energy, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    if len(e) < 2:
        return 0.0, 0.0, 0.0
    slope, intercept = np.polyfit(t - t[0], e, 1)
    fit = intercept + slope * (t - t[0])
    scale = float(np.mean(kinetic_energy))
    change = slope * (t[-1] - t[0])
    return abs(change) / scale, float(np.std(e - fit)) / scale, change / n_atoms


def load_init(system: System, path: str, frame: int = -1) -> tuple[System, Structure]:
    """The structure to start from, and the system re-shaped to its atom count and box."""
    check_file_system(path, system)
    s = read_structure(path, system.species_names, frame=frame, units=system.units.name)
    if s.type_masses is not None:
        listed = s.type_masses[: system.n_species]
        known = np.isfinite(listed)
        if not np.allclose(listed[known], np.asarray(system.masses)[: len(listed)][known], rtol=1e-3):
            raise ValueError(f"{path}: its Masses {listed.tolist()} are not {system.name}'s {list(system.masses)}"
                             " (types in the order of the system's species): a structure of another system?")
    if s.velocities is None:
        raise ValueError(f"{path}: --init needs velocities (a Velocities section, a vel column, or an H5MD file)")
    counts = tuple(int(np.sum(s.species == k)) for k in range(system.n_species))
    return dataclasses.replace(system, counts=counts, box=s.box), s


def check_file_system(path: str | Path, system: System) -> None:
    """Refuse an H5MD file that says it holds another system or unit system than `system`."""
    if file_format(Path(path)) != "h5md":
        return
    from ogn.io.h5md import read_trajectory

    t = read_trajectory(path, frames=slice(0, 1))
    if t.units and t.units != system.units.name:
        raise ValueError(f"{path} is in {t.units} units, but {system.name} is in {system.units.name} units")
    if "system" in t.metadata:
        check_same_system(system.describe(), t.metadata["system"], system.name, str(path))


def run_md(
    system: System,
    config: MDConfig,
    out: str | Path,
    log: Callable[[str], None] = print,
    progress_factory=None,
) -> RunSummary:
    """Prepare (or load) a state, run production NVE, stream frames to `out`. Returns the summary."""
    if config.engine == "lammps":
        from ogn.md.lammps import run_md_lammps

        return run_md_lammps(system, config, out, log=log, progress_factory=progress_factory)
    return _run_md_jax(system, config, out, log, progress_factory)


def metadata(system: System, config: MDConfig) -> dict:
    return {
        "system": system.describe(),
        "config": dataclasses.asdict(config),
        "ogn_version": __version__,
    }


def _run_md_jax(system, config, out, log, progress_factory) -> RunSummary:
    from ogn.md import protocols
    from ogn.md.simulate import init_state, make_force_field, run_nve, temperature

    progress_factory = progress_factory or NoProgress
    rng = np.random.default_rng(config.seed)
    prep_steps = 0
    if config.init is not None:
        system, structure = load_init(system, config.init, config.frame)
        species = structure.species
        ff = make_force_field(system, species)
        neighbor = ff.allocate(np.mod(structure.positions, system.sides))
        state = init_state(ff, structure.positions, structure.velocities, neighbor)
    else:
        species = system.species()
        ff = make_force_field(system, species)
        log(f"placing {system.n_atoms} atoms at random in a box of {box_text(system.box)} {system.units.length}")
        positions = protocols.random_positions(system, rng)
        log("minimising (steepest descent)")
        positions = protocols.minimize(ff, positions)
        velocities = protocols.gaussian_velocities(system, species, system.temperature, rng)
        neighbor = ff.allocate(positions)
        state = init_state(ff, positions, velocities, neighbor)
        with progress_factory("equilibrating (velocity rescaling)", None) as advance:
            state, neighbor, n = protocols.equilibrate_rescale(
                ff, state, neighbor, system.temperature, log=log, progress=advance
            )
        prep_steps += n
        log(f"equilibrated at T = {system.temperature} in {n} steps")
        if config.glass:
            with progress_factory(f"quenching to T = {config.glass_temperature}", config.quench_steps) as advance:
                state, neighbor = protocols.quench_nose_hoover(
                    ff, state, neighbor, system.temperature, config.glass_temperature, config.quench_steps,
                    progress=advance,
                )
            prep_steps += config.quench_steps

    target_t = config.glass_temperature if config.glass else system.temperature
    meta = metadata(system, config) | {"engine": "jax", "preparation_steps": prep_steps}
    energies, kinetic, times_written = [], [], []
    chunk_marks = []

    with TrajectoryWriter(out, np.asarray(species), system.box, system.dt, meta, system.units.name) as writer:

        def on_frames(frames):
            writer.append(frames.steps, frames.positions, frames.velocities, frames.potential_energy,
                          frames.kinetic_energy)
            energies.append(frames.potential_energy + frames.kinetic_energy)
            kinetic.append(frames.kinetic_energy)
            times_written.append(frames.steps * system.dt)
            chunk_marks.append((time.perf_counter(), int(frames.steps[-1])))

        t0 = time.perf_counter()
        with progress_factory("production NVE", config.steps) as advance:
            state, neighbor = run_nve(
                ff, state, neighbor, config.steps, config.every, on_frames=on_frames,
                chunk_steps=config.chunk_steps, max_temperature=config.runaway_factor * target_t, log=log,
                progress=advance,
            )
        wall = time.perf_counter() - t0

    if len(chunk_marks) > 1:
        (t_first, s_first), (t_last, s_last) = chunk_marks[0], chunk_marks[-1]
        rate = (s_last - s_first) / (t_last - t_first)
    else:
        rate = config.steps / wall
    e = np.concatenate(energies)
    kin = np.concatenate(kinetic)
    drift, fluct, per_atom = energy_figures(np.concatenate(times_written), e, kin, system.n_atoms)
    mean_t = float(np.mean(temperature(kin, system.n_atoms, system.units.boltzmann)))
    return RunSummary(system.n_atoms, config.steps, prep_steps, wall, rate, 1e6 / (rate * system.n_atoms),
                      drift, fluct, per_atom, mean_t)
