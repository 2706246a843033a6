"""The two unit systems of ogn and their constants.

LJ systems use reduced units (sigma_AA = epsilon_AA = m = k_B = 1). The other systems use LAMMPS
`metal` units: Angstrom, eV, ps, amu, K, elementary charge. The mass-velocity and Coulomb conversion
factors are LAMMPS's own, so that trajectories of our engine and of LAMMPS agree to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Units:
    name: str  # "lj" or "metal", as LAMMPS's `units` command
    boltzmann: float  # energy / temperature
    mvv2e: float  # mass * velocity^2 -> energy
    qqr2e: float  # charge^2 / distance -> energy (Coulomb constant)
    length: str
    time: str
    energy: str
    temperature: str

    @property
    def ftm2v(self) -> float:
        """force / mass -> acceleration (velocity / time)."""
        return 1.0 / self.mvv2e


LJ = Units("lj", 1.0, 1.0, 1.0, "sigma", "tau", "epsilon", "epsilon/k_B")
METAL = Units("metal", 8.617333262e-5, 1.0364269e-4, 14.399645, "Angstrom", "ps", "eV", "K")

UNITS = {"lj": LJ, "metal": METAL}
