"""How the physics held over a rollout, as `ogn md` reports it: temperature, momentum and (with the
system's potential) the total-energy change, plus what the temperature watch said."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ogn.quantity import kinetic_temperature, temperature_of, thermal_momentum


@dataclass
class PhysicsSummary:
    temperature_start: float
    temperature_end: float
    momentum_start: np.ndarray  # (3,) total momentum, mass * velocity units
    momentum_end: np.ndarray
    thermal_momentum: float  # sqrt(N m kB T), the scale of a random total momentum
    energy_change_per_atom: float | None  # E_total(end) - E_total(start) per atom; None without a potential
    thermal_energy: float  # kB T of the start
    units: object
    species_temperatures: dict[str, float] | None = None  # mean kinetic T of each species over the rollout
    temperature_mean: float | None = None  # mean kinetic T over the rollout
    warnings: list[str] = field(default_factory=list)  # the rollout ran away (`TemperatureWatch`)

    def lines(self) -> list[str]:
        u = self.units
        change = np.abs(self.momentum_end - self.momentum_start).max() / self.thermal_momentum
        lines = [f"T: {self.temperature_start:.4g} -> {self.temperature_end:.4g} {u.temperature}"]
        if self.temperature_mean is not None:
            line = f"mean T over the rollout: {self.temperature_mean:.4g} {u.temperature}"
            if len(self.species_temperatures or {}) > 1:  # one species: the same number, said once
                line += "; per species: " + ", ".join(f"{name} {t:.4g}" for name, t in self.species_temperatures.items())
            lines.append(line)
        lines.append(f"total momentum: |P_end - P_start| = {change:.2e} sqrt(N m kB T) (conserved exactly up to"
                     " float32 rounding)")
        if self.energy_change_per_atom is None:
            lines.append("total energy: not computed (--energies computes it where the system's potential is known)")
        else:
            lines.append(f"total energy change: {self.energy_change_per_atom:.4g} {u.energy} per atom ="
                         f" {self.energy_change_per_atom / self.thermal_energy:.3g} kB T")
        lines += [f"warning: {w}" for w in self.warnings]
        return lines


def physics_summary(info: dict, species, start: tuple, end: tuple, units, system=None,
                    species_mv2: np.ndarray | None = None) -> PhysicsSummary:
    """`start` and `end`: (positions, velocities); `system`: a System with a potential, or None;
    `species_mv2` (F, n_species), each species' sum of m v^2 per frame (`Rollout.species_mv2`): for the
    mean temperatures, total (3N - 3 degrees of freedom) and per species (3 per atom)."""
    masses = np.asarray(info["system"]["masses"], np.float64)[species]
    t0, t1 = (float(kinetic_temperature(v, masses, units)) for _, v in (start, end))
    p0, p1 = (np.einsum("n,nk->k", masses, np.asarray(v, np.float64)) for _, v in (start, end))
    thermal_energy = units.boltzmann * t0
    change = None
    if system is not None:
        from ogn.md.simulate import frame_energies

        positions = np.stack([np.asarray(start[0], np.float64), np.asarray(end[0], np.float64)])
        velocities = np.stack([np.asarray(start[1], np.float64), np.asarray(end[1], np.float64)])
        potential, kinetic, _ = frame_energies(system, species, positions, velocities)
        total = potential + kinetic
        change = float(total[1] - total[0]) / len(species)
    summary = PhysicsSummary(t0, t1, p0, p1, thermal_momentum(masses, thermal_energy, units.mvv2e), change,
                             thermal_energy, units)
    if species_mv2 is not None and len(species_mv2):
        counts = np.bincount(np.asarray(species), minlength=species_mv2.shape[1])
        summary.temperature_mean = float(np.mean(temperature_of(0.5 * units.mvv2e * species_mv2.sum(axis=1),
                                                                len(species), units.boltzmann)))
        to_temperature = units.mvv2e / units.boltzmann
        summary.species_temperatures = {name: float(np.mean(species_mv2[:, s]) * to_temperature / (3 * counts[s]))
                                        for s, name in enumerate(info["system"]["species"]) if counts[s]}
    return summary
