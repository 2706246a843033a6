"""`ogn rollout`: a trained run, a start from a file, a trajectory file out (H5MD or extxyz) and the
physics summary."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ogn.quantity import kinetic_energy
from ogn.simulator.checks import predictions_for
from ogn.simulator.observers import SpeciesKinetic, progress
from ogn.simulator.session import LearnedSimulator, RolloutConfig
from ogn.simulator.summary import PhysicsSummary, physics_summary

ROLLOUT_FORMATS = {".h5": "h5md", ".hdf5": "h5md", ".h5md": "h5md", ".xyz": "extxyz", ".extxyz": "extxyz"}  # by extension


def rollout_format(out: str | Path) -> str:
    """"h5md" or "extxyz" by the extension of `out`; a clear error for anything else."""
    kind = ROLLOUT_FORMATS.get(Path(out).suffix.lower())
    if kind is None:
        raise ValueError(f"{out}: unknown output format {Path(out).suffix!r}; use .h5 (H5MD) or .extxyz")
    return kind


def rollout_to_file(run_dir: str | Path, init: str | Path, out: str | Path, n_steps: int,
                    config: RolloutConfig | None = None, frame: int | None = None, energies: bool = False,
                    store_precision: str = "float32", log: Callable[[str], None] = print,
                    progress_factory=None) -> tuple[PhysicsSummary, list[str]]:
    """Load a trained run and a start (frame `frame` of a trajectory file, default its last), check both,
    roll out, and write the start and every `config.every`-th prediction to `out`, steps counted on from
    the start's. Nothing is run or written before every check has passed.

    Returns the physics summary and the warnings. True potential energies are evaluated on the written
    frames only with `energies`; positions and velocities are stored in `store_precision` (H5MD)."""
    from ogn.io.files import check_distinct, check_writable
    from ogn.md.run import load_init
    from ogn.model.checkpoint import load_run
    from ogn.systems import system_from_description

    config = config or RolloutConfig()
    rollout_format(out)
    check_writable(out)
    check_distinct(init, out)
    model, info, _ = load_run(run_dir)
    n_predictions = predictions_for(info, n_steps)
    if config.every > n_predictions:
        raise ValueError(f"--every {config.every} predictions is more than the {n_predictions} of --steps {n_steps}"
                         f" (k = {info['k']}): only the start would be written; use --every {n_predictions} or less")
    system, start = load_init(system_from_description(info["system"]), str(init), frame, log=log)
    if system.potential is None and (energies or config.energy_correction):
        raise ValueError(f"{run_dir} was trained on {system.name!r}, whose potential ogn does not know: --energies and"
                         " --energy-correction need one")
    simulator = LearnedSimulator(model, info, start.species, system.box, config, system=system, source=str(init),
                                 log=log)
    state = simulator.start(start.positions, start.velocities)
    log(f"rolling {run_dir} (k = {simulator.k}) for {n_steps} MD steps ({n_predictions} predictions) from {init},"
        f" N = {system.n_atoms}{_ensemble(simulator)}")
    metadata = _metadata(run_dir, init, info, config, simulator, energies)
    kinetic = SpeciesKinetic(start.species, simulator.masses, system.n_species)
    watch = simulator.temperature_watch(start.velocities)
    with open_rollout_file(out, system, start.species, start.step, energies, metadata, store_precision) as write:
        # frames go to the file as they are predicted: memory does not grow with the rollout
        write(np.zeros(1, int), start.positions[None], start.velocities[None])
        simulator.driver.attach(lambda f: len(f.predictions) and write(simulator.k * f.predictions,
                                                                       f.positions + simulator.images, f.velocities), config.every)
        for observer in (kinetic, watch):
            simulator.driver.attach(observer, 1)
        with (progress_factory or _no_progress)("rollout (MD steps)", n_steps) as advance:
            simulator.driver.attach(progress(advance, simulator.k))
            state = simulator.run(state, n_steps)
    # the true energy needs the potential the learned simulator replaces: only when asked for
    summary = physics_summary(info, start.species, (start.positions, start.velocities),
                              (np.asarray(state.positions), np.asarray(state.velocities)), simulator.units,
                              system if energies or config.energy_correction else None, kinetic.mv2)
    summary.warnings = watch.final_warnings()
    return summary, simulator.warnings


def _no_progress(*args, **kwargs):
    from ogn.progress import NoProgress

    return NoProgress(*args, **kwargs)


def _ensemble(simulator: LearnedSimulator) -> str:
    c = simulator.config
    if c.thermostat is None:
        return ", energy correction" if c.energy_correction else ""
    return (f", {c.thermostat} thermostat at {c.temperature:g} {simulator.units.temperature} (damping"
            f" {simulator.damping:g} {simulator.units.time}, seed {c.seed})")


def _metadata(run_dir, init, info: dict, config: RolloutConfig, simulator: LearnedSimulator, energies: bool) -> dict:
    thermostat = None if config.thermostat is None else {
        "name": config.thermostat, "temperature": config.temperature, "damping": simulator.damping,
        "seed": config.seed}
    return {"system": info["system"], "model": str(run_dir), "k": info["k"], "init": str(init),
            "network_dtype": config.network_dtype, "energy_correction": config.energy_correction,
            "thermostat": thermostat, "potential_energy": "true potential" if energies else "not computed"}


@contextmanager
def open_rollout_file(out: str | Path, system, species, first_step: int, energies: bool, metadata: dict,
                      store_precision: str):
    """Yields write(steps, positions, velocities), which appends frames to `out` (H5MD, or extxyz by its
    extension); `steps` count from the start, whose step is `first_step`. The frames get kinetic energies,
    and true potential energies when `energies`. The file is written under a temporary name and appears at
    `out` only when the block completes (a failure leaves it at failed_path(out))."""
    masses = system.atom_masses(species)
    energy = None
    if energies:
        from ogn.md.simulate import make_frame_energies

        energy = make_frame_energies(system, species)

    def energies_of(positions, velocities):
        if energy is not None:
            potential, kinetic, _ = energy(positions, velocities)
            return potential, kinetic
        return np.full(len(positions), np.nan), kinetic_energy(velocities, masses, system.units.mvv2e)

    if rollout_format(out) == "extxyz":
        from ogn.io.structures import ExtxyzWriter

        with ExtxyzWriter(out, species, system.species_names, system.box, system.dt, system.units, masses) as writer:
            yield lambda steps, r, v: writer.append(first_step + steps, r, v, energies_of(r, v)[0] if energies else None)
        return
    from ogn.io.h5md import TrajectoryWriter

    with TrajectoryWriter(out, species, system.box, system.dt, metadata, system.units.name,
                          dtype=store_precision) as writer:
        yield lambda steps, r, v: writer.append(first_step + steps, r, v, *energies_of(r, v))
