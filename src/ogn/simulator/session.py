"""A trained model ready to simulate one set of atoms: `LearnedSimulator` puts together the checks, the
learned step, its wrappers (thermostat, energy correction) and the driver, from a frozen `RolloutConfig`.
`ogn rollout`, `ogn evaluate`, `OGNDynamics`, `ogn bench` and the LAMMPS driver all go through it, so they
share one set of checks, warnings, box rule and compilation cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ogn.model.network import OGN
from ogn.precision import widest_precision
from ogn.progress import NoProgress
from ogn.quantity import kinetic_temperature
from ogn.simulator.cache import use_compilation_cache
from ogn.simulator.checks import (
    TEMPERATURE_WARNING,
    THERMOSTAT_MISS,
    check_atoms,
    check_start,
    check_thermostat_target,
    predictions_for,
)
from ogn.simulator.driver import Driver
from ogn.simulator.observers import FrameRecorder, SpeciesKinetic, TemperatureWatch, progress
from ogn.simulator.step import NETWORK_DTYPES, SimulatorState, learned_step
from ogn.simulator.thermostats import THERMOSTATS, make_thermostat
from ogn.simulator.wrappers import energy_corrected, thermostatted
from ogn.units import UNITS

CHUNK_ATOM_PREDICTIONS = 500_000  # a compiled chunk: between chunks, progress, checks and observers


@dataclass(frozen=True)
class RolloutConfig:
    """How to run a learned rollout; every field has the value `ogn rollout` uses without its option."""

    every: int = 1  # observers that keep frames see every `every`-th prediction (--every)
    network_dtype: str = "float32"  # the network's weights and arithmetic; bfloat16 is a GPU option
    thermostat: str | None = None  # None (NVE), "langevin" or "csvr"
    temperature: float | None = None  # the thermostat's target, in the units' temperature unit
    damping: float | None = None  # the thermostat's time constant, time unit (None: 100 MD timesteps)
    seed: int = 0  # of the thermostat's noise
    energy_correction: bool = False  # keep the start's true total energy (needs the system's potential)
    skin: float | None = None  # the cell list's, length unit (None: `default_skin`); speed only
    chunk_atom_predictions: int = CHUNK_ATOM_PREDICTIONS

    def __post_init__(self):
        if self.every < 1:
            raise ValueError(f"--every counts predictions and must be >= 1, got {self.every}")
        if self.network_dtype not in NETWORK_DTYPES:
            raise ValueError(f"network dtype must be one of {NETWORK_DTYPES}, got {self.network_dtype!r}")
        if self.thermostat is not None and self.thermostat not in THERMOSTATS:
            raise ValueError(f"--thermostat {self.thermostat!r}: choose one of {THERMOSTATS}")
        if self.thermostat is not None and self.temperature is None:
            raise ValueError(f"--thermostat {self.thermostat} needs --temperature, its target")
        if self.thermostat is None and (self.temperature is not None or self.damping is not None):
            raise ValueError("--temperature and --damping set a thermostat: give --thermostat langevin or csvr too")
        if self.thermostat is not None and self.energy_correction:
            raise ValueError("--energy-correction keeps the start's NVE energy; it cannot be combined with a"
                             f" thermostat (--thermostat {self.thermostat})")
        for name in ("temperature", "damping", "skin"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value > 0):
                raise ValueError(f"--{name} must be positive and finite, got {value}")
        if self.chunk_atom_predictions < 1:
            raise ValueError(f"chunk_atom_predictions must be >= 1, got {self.chunk_atom_predictions}")


@dataclass
class Rollout:
    """The result of `rollout`: the kept predictions in memory, the final state, each species' m v^2."""

    positions: np.ndarray  # (S, N, 3) unwrapped, the kept predictions (every one by default: after k, 2k, ...)
    velocities: np.ndarray  # (S, N, 3)
    steps: np.ndarray  # (S,) MD steps since the start of the kept predictions
    edge_capacity: int
    final_positions: np.ndarray  # (N, 3) after the last prediction, kept or not
    final_velocities: np.ndarray  # (N, 3)
    species_mv2: np.ndarray  # (P, n_species) sum of m v^2 over each species' atoms after every prediction


class LearnedSimulator:
    """`model` (with its run info) for the atoms of (N,) `species` in `box`, run as `config` says.
    `system`: a System with the potential, needed by the energy correction; `source` names the atoms in
    messages (a file). The model's warnings about the request go to `log` and into `self.warnings`."""

    def __init__(self, model: OGN, info: dict, species, box, config: RolloutConfig | None = None,
                 system=None, source: str = "the start", log: Callable[[str], None] = print):
        use_compilation_cache()
        config = config or RolloutConfig()
        self.model, self.info, self.config, self.log, self.source = model, info, config, log, source
        self.species = np.asarray(species, np.int32)
        self.units = UNITS[info["system"]["units"]]
        self.k, self.dt = int(info["k"]), float(info["dt"])
        self.step_time = self.k * self.dt
        self.box = box
        self.images = np.zeros((len(species), 3))  # set by start()
        if config.energy_correction and (system is None or system.potential is None):
            raise ValueError("--energy-correction needs the system's potential, which ogn does not know here")
        check_atoms(info, self.species, box, source, system.neighbor_cutoff if config.energy_correction else None)
        self.masses = np.asarray(info["system"]["masses"], np.float64)[self.species]
        self.warnings: list[str] = []
        simulator = learned_step(model, box, float(info["cutoff"]), self.species, self.masses, self.step_time,
                                 config.skin, config.network_dtype)
        if config.thermostat is not None:
            self.warnings += check_thermostat_target(info, config.temperature, self.units)
            half_step = make_thermostat(config.thermostat, config.temperature, self.damping, self.step_time, self.units)
            simulator = thermostatted(simulator, half_step)
        if config.energy_correction:
            from ogn.md.simulate import make_force_field

            simulator = energy_corrected(simulator, make_force_field(system, self.species, precision=widest_precision()))
        self.simulator = simulator
        chunk = max(1, config.chunk_atom_predictions // len(self.species))
        self.driver = Driver(simulator, chunk, self.k, log)
        for warning in self.warnings:
            log(f"warning: {warning}; the model was not trained on such states")

    @classmethod
    def load(cls, run: str | Path, species, box, config: RolloutConfig | None = None, **kwargs) -> LearnedSimulator:
        """From a run directory or a shipped model's name."""
        from ogn.model.checkpoint import load_run

        model, info, _ = load_run(run)
        return cls(model, info, species, box, config, **kwargs)

    @property
    def damping(self) -> float:
        return 100 * self.dt if self.config.damping is None else self.config.damping

    def start(self, positions, velocities) -> SimulatorState:
        """The state to run from; refuses a start that cannot be simulated and logs (and keeps in
        `self.warnings`) what makes it unlike the training data."""
        warnings = check_start(self.info, positions, velocities, self.species, self.box, self.source, self.units)
        for warning in warnings:
            self.log(f"warning: {warning}; the model was not trained on such states")
        self.warnings += warnings
        # run from the start moved into the box, where float32 keeps its digits (image flags of 1e5 would
        # cost 0.06 sigma per prediction); `images` puts the frames back in the start's own periodic images
        positions = np.asarray(positions, np.float64)
        in_box = np.mod(positions, self.box)
        self.images = positions - in_box
        return self.simulator.init_fn(in_box, velocities, self.config.seed)

    def temperature_watch(self, velocities) -> TemperatureWatch:
        """An observer that says when the rollout from `velocities` runs away (attach with interval 1)."""
        start = float(kinetic_temperature(velocities, self.masses, self.units))
        if self.config.thermostat is None:
            return TemperatureWatch(self.masses, self.units, start, None, TEMPERATURE_WARNING, k=self.k, log=self.log)
        settle = int(np.ceil(5 * self.damping / self.step_time))
        return TemperatureWatch(self.masses, self.units, start, self.config.temperature, THERMOSTAT_MISS, settle,
                                self.k, self.log)

    def run(self, state: SimulatorState, n_steps: int) -> SimulatorState:
        """`n_steps` MD steps (a multiple of k) from `state`, through the attached observers."""
        return self.driver.run(state, predictions_for(self.info, n_steps))


def rollout(model: OGN, info: dict, positions, velocities, species, box, n_steps: int,
            config: RolloutConfig | None = None, log: Callable[[str], None] = print, progress_factory=None) -> Rollout:
    """Roll `model` `n_steps` MD steps from one state and keep every `config.every`-th prediction in memory
    (a file instead: `ogn.simulator.files`); the final state and each species' m v^2 after every prediction
    are kept always."""
    config = config or RolloutConfig()
    predictions_for(info, n_steps)  # before anything is compiled
    simulator = LearnedSimulator(model, info, species, box, config, log=log)
    state = simulator.start(positions, velocities)
    recorder = FrameRecorder()
    simulator.driver.attach(recorder, config.every)
    kinetic = SpeciesKinetic(species, simulator.masses, len(info["system"]["species"]))
    simulator.driver.attach(kinetic, 1)
    simulator.driver.attach(simulator.temperature_watch(velocities), 1)
    with (progress_factory or NoProgress)("rollout (MD steps)", n_steps) as advance:
        simulator.driver.attach(progress(advance, simulator.k))
        state = simulator.run(state, n_steps)
    kept_r, kept_v, predictions = recorder.arrays(len(simulator.species))
    return Rollout((kept_r + simulator.images).astype(kept_r.dtype), kept_v, simulator.k * predictions,
                   state.edge_capacity, (np.asarray(state.positions) + simulator.images).astype(np.float32),
                   np.asarray(state.velocities), kinetic.mv2)
