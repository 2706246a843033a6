"""The physical quantities of a state, one formula each: kinetic energy, kinetic temperature (3N - 3
degrees of freedom, as LAMMPS's `compute temp`), the thermal momentum, and the temperature a model was
trained at. Every stage (MD, datasets, the learned simulator, evaluation) uses these.

NumPy in, float64 NumPy out; JAX in, JAX out (in the input's dtype), so the compiled MD engine and the
host-side summaries share one definition.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

GLASS_TEMPERATURE = 0.5  # LJ units: the paper's melt-quenched Kob-Andersen glass


def kinetic_energy(velocities, masses, mvv2e: float):
    """0.5 mvv2e sum_i m_i v_i^2 of (..., N, 3) velocities and (N,) masses: shape (...)."""
    if isinstance(velocities, jax.Array):
        return 0.5 * mvv2e * jnp.sum(masses[:, None] * velocities**2, axis=(-2, -1))
    v = np.asarray(velocities, np.float64)
    return 0.5 * mvv2e * np.sum(np.asarray(masses, np.float64)[:, None] * v**2, axis=(-2, -1))


def degrees_of_freedom(n_atoms: int) -> int:
    """3N - 3: the total momentum is conserved, as in LAMMPS's `compute temp`."""
    if n_atoms < 2:
        raise ValueError(f"a temperature needs at least 2 atoms (3N - 3 degrees of freedom), got {n_atoms}")
    return 3 * n_atoms - 3


def temperature_of(kinetic, n_atoms: int, boltzmann: float):
    """The kinetic temperature of a kinetic energy (any shape) of `n_atoms` atoms."""
    return 2.0 * kinetic / (degrees_of_freedom(n_atoms) * boltzmann)


def kinetic_temperature(velocities, masses, units):
    """T of (..., N, 3) velocities with 3N - 3 degrees of freedom: shape (...)."""
    return temperature_of(kinetic_energy(velocities, masses, units.mvv2e), len(masses), units.boltzmann)


def thermal_momentum(masses, kT: float, mvv2e: float) -> float:
    """sqrt(N m kB T) with m the mean mass (= sqrt(M m kB T)): the size of one component of the total
    momentum of N independent thermal velocities, the scale a momentum error is measured in."""
    masses = np.asarray(masses, np.float64)
    return float(np.sqrt(masses.sum() * masses.mean() * kT / mvv2e))


def thermal_speed(masses, kT: float, mvv2e: float) -> float:
    """sqrt(kB T / m) with m the mean atomic mass: one velocity component's thermal spread (paper 2.2)."""
    return float(np.sqrt(kT / (mvv2e * float(np.mean(masses)))))


def training_temperature(system: dict, spec: dict) -> float:
    """The temperature of a dataset's trajectories (run.json's `system` and `dataset_spec`, or a dataset's
    `system` and `spec`): the preset's, or the glass's for a melt-quenched dataset."""
    if spec.get("glass"):
        return float(spec.get("glass_temperature", GLASS_TEMPERATURE))
    return float(system["temperature"])
