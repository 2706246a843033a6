"""What an MD run is asked to do and what it reports, for both engines (`ogn.md.run` for the jax engine,
`ogn.md.lammps` for LAMMPS), and the start it may load from a file."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ogn import __version__
from ogn.io.structures import file_format, read_structure
from ogn.io.types import Structure
from ogn.precision import PRECISIONS
from ogn.quantity import GLASS_TEMPERATURE
from ogn.systems import System, check_same_system


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
    frame: int | None = None  # frame of a trajectory init file (None: its last)
    runaway_factor: float = 10.0  # stop when T exceeds this many times the target temperature
    chunk_steps: int = 1000  # steps per compiled chunk / per write
    precision: str = "float32"  # of the jax engine ("float64" needs JAX's 64-bit mode); LAMMPS is double

    def __post_init__(self):
        if self.steps < 1 or self.every < 1:
            raise ValueError(f"steps and every must be >= 1, got steps={self.steps}, every={self.every}")
        if self.steps % self.every:
            raise ValueError(f"steps ({self.steps}) must be a multiple of every ({self.every})")
        if self.engine not in ("jax", "lammps"):
            raise ValueError(f"engine must be 'jax' or 'lammps', got {self.engine!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")


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


def load_init(system: System, path: str, frame: int | None = None,
              log: Callable[[str], None] | None = None) -> tuple[System, Structure]:
    """The structure to start from (frame `frame` of a trajectory file, default its last; a data file has
    one), and the system re-shaped to its atom count and box."""
    check_file_system(path, system)
    kind = file_format(Path(path))
    if frame is not None and kind not in ("h5md", "dump", "extxyz"):
        raise ValueError(f"{path}: --frame {frame} selects a frame of a trajectory (H5MD, dump, extxyz); a LAMMPS"
                         " data file holds one configuration")
    s = read_structure(path, system.species_names, frame=-1 if frame is None else frame, units=system.units.name)
    if frame is None and kind in ("h5md", "dump", "extxyz") and log is not None:
        log(f"starting from the last frame of {path} (MD step {s.step}); --frame selects another")
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




def metadata(system: System, config: MDConfig) -> dict:
    return {
        "system": system.describe(),
        "config": dataclasses.asdict(config),
        "ogn_version": __version__,
    }


class RateClock:
    """Production speed from the chunks' end times: after the first chunk (which compiles) where there is
    more than one."""

    def __init__(self):
        import time

        self._now = time.perf_counter
        self.start = self._now()
        self.marks: list[tuple[float, int]] = []

    def mark(self, step: int) -> None:
        self.marks.append((self._now(), step))

    def wall(self) -> float:
        """Seconds from the start to the last mark."""
        return (self.marks[-1][0] if self.marks else self._now()) - self.start

    def steps_per_second(self, steps: int) -> float:
        if len(self.marks) > 1:
            (t_first, s_first), (t_last, s_last) = self.marks[0], self.marks[-1]
            return (s_last - s_first) / (t_last - t_first)
        return steps / (self._now() - self.start)
