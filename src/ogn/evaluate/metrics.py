"""Figures of merit of a rollout against MD: RMSE, energies and momentum with the true potential, MSD, RDF."""

from __future__ import annotations

import numpy as np

from ogn.periodic import box_sides, minimum_image
from ogn.quantity import thermal_speed
from ogn.systems import System


def rmse(predicted: np.ndarray, true: np.ndarray, box=None) -> np.ndarray:
    """(..., N, 3) -> (...): root mean square error over atoms and x, y, z components (the paper compares the
    velocity RMSE with sqrt(kB T / m), a per-component scale). With `box`, differences by minimum image."""
    d = predicted - true
    if box is not None:
        d = minimum_image(d, box)
    return np.sqrt(np.mean(d**2, axis=(-2, -1)))


def msd(positions: np.ndarray, masses: np.ndarray | None = None) -> np.ndarray:
    """(F, N, 3) unwrapped -> (F,) mean square displacement from frame 0, with the centre-of-mass
    displacement (of (N,) `masses`, or of equal masses) removed: a drifting box is not diffusion."""
    d = positions - positions[0]
    weights = np.full(d.shape[1], 1.0 / d.shape[1]) if masses is None else np.asarray(masses) / np.sum(masses)
    d = d - np.einsum("n,fnk->fk", weights, d)[:, None]
    return np.mean(np.sum(d**2, axis=-1), axis=-1)


def cage_length(system: System, times: np.ndarray, msd_values: np.ndarray) -> float:
    """sqrt(MSD) where the log-log slope of the MSD first falls to 1: the end of the ballistic regime (slope
    2), where an atom has felt its cage. In a glass this lies on the rise to the plateau, in a liquid at
    the crossover to diffusion. One definition for both, stated with the numbers it gives."""
    t, m = times[1:], msd_values[1:]
    good = (t > 0) & (m > 0)
    t, m = t[good], m[good]
    slope = np.gradient(np.log(m), np.log(t))
    below = np.flatnonzero(slope <= 1.0)
    i = int(below[0]) if len(below) else len(t) - 1
    return float(np.sqrt(m[i]))


def velocity_scale(system: System, temperature: float | None = None) -> float:
    """sqrt(kB T / m) with m the mean atomic mass, in the system's velocity units (paper 2.2). T: the
    preset's unless given (a glass is quenched far below it)."""
    t = system.temperature if temperature is None else temperature
    return thermal_speed(system.atom_masses(system.species()), system.units.boltzmann * t, system.units.mvv2e)


def rdf(positions: np.ndarray, box, r_max: float, bins: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """g(r) of all pairs averaged over frames (F, N, 3); r_max <= half the smallest box side."""
    box = box_sides(box)
    r_max = min(r_max, box.min() / 2)
    edges = np.linspace(0, r_max, bins + 1)
    counts = np.zeros(bins)
    n = positions.shape[1]
    for frame in positions:
        d = minimum_image(frame[:, None] - frame[None], box)
        r = np.linalg.norm(d, axis=-1)[np.triu_indices(n, 1)]
        counts += np.histogram(r, edges)[0]
    shell = 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    ideal = shell * (n / np.prod(box)) * n / 2 * len(positions)
    return 0.5 * (edges[1:] + edges[:-1]), counts / ideal
