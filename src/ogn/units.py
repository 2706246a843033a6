"""The unit systems of ogn and their constants, as LAMMPS's `units` command names them.

LJ systems use reduced units (sigma_AA = epsilon_AA = m = k_B = 1). The other presets use LAMMPS
`metal` units: Angstrom, eV, ps, amu, K, elementary charge. Imported trajectories may also be in `real`
units (Angstrom, kcal/mol, fs, g/mol, K). The mass-velocity and Coulomb conversion factors are LAMMPS's
own (src/update.cpp), so that trajectories of our engine and of LAMMPS agree to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Units:
    name: str  # "lj", "metal" or "real", as LAMMPS's `units` command
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

# LAMMPS real: mvv2e = 48.88821291^2 (g/mol A^2/fs^2 -> kcal/mol)
REAL = Units("real", 0.0019872067, 48.88821291 * 48.88821291, 332.06371, "Angstrom", "fs", "kcal/mol", "K")

UNITS = {"lj": LJ, "metal": METAL, "real": REAL}


def ase_time_unit(units: str) -> float:
    """The time unit of LAMMPS `units` (metal: ps, real: fs) in ASE's time unit (Angstrom sqrt(amu / eV)):
    a velocity in A per that unit is ASE's velocity times this. LJ reduced units have no ASE counterpart."""
    from ase import units as ase_units

    per_unit = {"metal": 1000.0 * ase_units.fs, "real": ase_units.fs}
    if units not in per_unit:
        raise ValueError(f"{units} units have no ASE counterpart (ASE works in Angstrom, eV, amu)")
    return per_unit[units]
