"""Observers of the driver (`Driver.attach`): what a rollout keeps, shows and checks while it runs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ogn.quantity import kinetic_temperature
from ogn.simulator.driver import Frames


class FrameRecorder:
    """Keeps the frames it is given in memory: (F, N, 3) positions and velocities, and their predictions."""

    def __init__(self):
        self._positions, self._velocities, self._predictions = [], [], []

    def __call__(self, frames: Frames) -> None:
        if len(frames.predictions):
            self._positions.append(frames.positions)
            self._velocities.append(frames.velocities)
            self._predictions.append(frames.predictions)

    def arrays(self, n_atoms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(F, N, 3) positions, velocities and (F,) predictions; F = 0 when none was kept."""
        if not self._positions:
            return np.zeros((0, n_atoms, 3), np.float32), np.zeros((0, n_atoms, 3), np.float32), np.zeros(0, int)
        return (np.concatenate(self._positions), np.concatenate(self._velocities),
                np.concatenate(self._predictions))


def species_mv2(velocities: np.ndarray, species: np.ndarray, masses: np.ndarray, n_species: int) -> np.ndarray:
    """(F, n_species) sum over each species' atoms of m v^2, in float64, of (F, N, 3) velocities."""
    one_hot = np.eye(n_species)[species] * masses[:, None]  # (N, S) mass of each atom in its species' column
    return np.einsum("fnk,ns->fs", np.asarray(velocities, np.float64) ** 2, one_hot)


class SpeciesKinetic:
    """Each species' sum of m v^2 after every prediction it sees (attach with interval 1): the mean
    temperatures of the physics summary."""

    def __init__(self, species, masses, n_species: int):
        self.species, self.masses, self.n_species = np.asarray(species), np.asarray(masses, np.float64), n_species
        self._rows = []

    def __call__(self, frames: Frames) -> None:
        self._rows.append(species_mv2(frames.velocities, self.species, self.masses, self.n_species))

    @property
    def mv2(self) -> np.ndarray:
        """(P, n_species)"""
        return np.concatenate(self._rows) if self._rows else np.zeros((0, self.n_species))


def progress(advance: Callable, k: int) -> Callable[[Frames], None]:
    """Advances a progress bar (`ogn.progress`) by the MD steps of every chunk."""
    return lambda frames: advance(frames.count * k)


class TemperatureWatch:
    """Says when a rollout runs away (attach with interval 1): in NVE, when the mean T of a chunk has
    drifted more than `tolerance` from the start's; with a thermostat, when it misses the target by more
    than `tolerance` once `settle` predictions (a few damping times) are past. Each kind of warning is
    given once while running; `final_warnings()` says how the whole rollout ended."""

    def __init__(self, masses, units, start: float, target: float | None, tolerance: float, settle: int = 0,
                 k: int = 1, log: Callable[[str], None] = print):
        self.masses, self.units, self.start, self.target = np.asarray(masses, np.float64), units, start, target
        self.tolerance, self.settle, self.k, self.log = tolerance, settle, k, log
        self.warned = False
        self._sum, self._count = 0.0, 0

    @property
    def reference(self) -> float:
        return self.start if self.target is None else self.target

    def _off(self, temperature: float) -> bool:
        return abs(temperature / self.reference - 1) > self.tolerance

    def _sentence(self, temperature: float, where: str) -> str:
        against = (f"the start's {self.start:.4g}" if self.target is None
                   else f"the thermostat's target {self.target:.4g}")
        return (f"mean T {temperature:.4g} {self.units.temperature} {where}, {100 * abs(temperature / self.reference - 1):.0f} %"
                f" from {against}: the rollout has left the states the model was trained on")

    def __call__(self, frames: Frames) -> None:
        settled = frames.predictions > self.settle
        if not settled.any():
            return
        temperatures = kinetic_temperature(frames.velocities[settled], self.masses, self.units)
        self._sum, self._count = self._sum + float(np.sum(temperatures)), self._count + int(settled.sum())
        mean = float(np.mean(temperatures))
        if not self.warned and self._off(mean):
            self.warned = True
            last = int(frames.predictions[-1])
            self.log(f"warning: {self._sentence(mean, f'over MD steps up to {last * self.k}')}")

    def final_warnings(self) -> list[str]:
        """The warning for the whole rollout's mean T (past the settling), or none."""
        if not self._count:
            return []
        mean = self._sum / self._count
        return [self._sentence(mean, "over the rollout")] if self._off(mean) else []
