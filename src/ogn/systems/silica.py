"""Silica: Buckingham + r^-24 wall + damped-shifted-force (DSF) Coulomb, as in the paper's Methods 4.1 (ii).

Per pair i<j of species a, b at distance r:
    u_short(r) = A exp(-r/rho) - C/r^6 + D/r^24, minus its value at r_cut (zero beyond r_cut)
    u_coul(r)  = qqr2e q_i q_j [erfc(alpha r)/r - erfc(alpha Rc)/Rc + f_c (r - Rc)] (zero beyond Rc),
                 f_c = erfc(alpha Rc)/Rc^2 + 2 alpha/sqrt(pi) exp(-alpha^2 Rc^2)/Rc  (Fennell & Gezelter 2006)
plus, per atom, LAMMPS's DSF self energy -(e_shift/2 + alpha/sqrt(pi)) qqr2e q_i^2 with LAMMPS's
e_shift = erfc(alpha Rc)/Rc + f_c Rc (a constant for fixed charges: it moves energies, never forces).
Forces are minus the autodiff gradient of this energy, so NVE conserves it.

Two LAMMPS forms of the same energy (LAMMPS type = species + 1, charges from the data file):
  "lepton":        hybrid/overlay born (A, rho, C) + lepton/coul (the DSF expression, erfc exact) + lepton (D/r^24),
                   shifted per sub-style. lepton/coul does not tally the self energy: its `pe` lacks that constant.
  "born/coul/dsf": hybrid/overlay born/coul/dsf 0.25 8.0 + lepton (D/r^24) with `pair_modify shift yes`, as the
                   paper ran it. This LAMMPS (2025) evaluates erfc(alpha r) in born/coul/dsf as
                   MathSpecial::my_erfcx(x) * expmsq(x), to double precision (the Abramowitz-Stegun polynomial of
                   error 1.5e-7 survives only in older or other DSF styles), and tallies the self energy.
Both agree with `energy_fn` to ~1e-14 relative in energy and forces; born/coul/dsf is the faster one
(~3.5x on 3000 atoms, run 100 NVE on one core), so it is the default `lammps_commands` gives the LAMMPS engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erfc
from jax_md import partition

from ogn.systems.pairs import ordered_pair_geometry
from ogn.units import METAL

LAMMPS_STYLES = ("born/coul/dsf", "lepton")
DEFAULT_LAMMPS_STYLE = "born/coul/dsf"  # the faster of the two, equal to rounding (see the docstring)

# paper, Methods 4.1 (ii); species 0 = Si, 1 = O. C is printed there in eV A, its unit is eV A^6.
PAPER_PAIRS = {  # (a, b): (A eV, rho A, C eV A^6, D eV A^24)
    (1, 1): (1386.9, 0.362319, 174.8, 113.0),
    (0, 1): (17471.7, 0.205205, 133.4, 29.0),
    (0, 0): (0.0, 1.0, 0.0, 3423200.0),  # A = C = 0: only the r^-24 wall keeps Si apart
}
PAPER_CHARGES = (2.094, -1.047)


def _symmetric(values: dict, n_species: int) -> tuple[tuple[float, ...], ...]:
    table = [[0.0] * n_species for _ in range(n_species)]
    for (a, b), v in values.items():
        table[a][b] = table[b][a] = float(v)
    return tuple(map(tuple, table))


@dataclass(frozen=True)
class BuckinghamDSF:
    A: tuple[tuple[float, ...], ...]  # (S, S) eV
    rho: tuple[tuple[float, ...], ...]  # (S, S) A
    C: tuple[tuple[float, ...], ...]  # (S, S) eV A^6
    D: tuple[tuple[float, ...], ...]  # (S, S) eV A^24
    charges: tuple[float, ...]  # (S,) elementary charges
    alpha: float = 0.25  # DSF damping, 1/A
    r_cut: float = 8.0  # short-range cutoff, A
    r_cut_coul: float = 8.0  # Coulomb cutoff Rc, A

    neighbor_format = partition.NeighborListFormat.OrderedSparse

    def __post_init__(self):
        n = len(self.charges)
        for name in ("A", "rho", "C", "D"):
            table = getattr(self, name)
            if len(table) != n or any(len(row) != n for row in table):
                raise ValueError(f"{name} must be {n}x{n} for {n} charges, got {table}")
        if not all(v > 0 for row in self.rho for v in row):
            raise ValueError(f"rho must be positive, got {self.rho}")
        for name in ("alpha", "r_cut", "r_cut_coul"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @classmethod
    def paper(cls) -> BuckinghamDSF:
        n = len(PAPER_CHARGES)
        columns = {name: {ab: p[k] for ab, p in PAPER_PAIRS.items()} for k, name in enumerate(("A", "rho", "C", "D"))}
        return cls(**{name: _symmetric(values, n) for name, values in columns.items()}, charges=PAPER_CHARGES)

    @property
    def cutoff(self) -> float:
        return max(self.r_cut, self.r_cut_coul)

    def dsf_constants(self) -> tuple[float, float]:
        """(e_c, f_c): the DSF shifts erfc(alpha Rc)/Rc and -d/dr[erfc(alpha r)/r] at Rc, by libm as LAMMPS."""
        a, rc = self.alpha, self.r_cut_coul
        e_c = math.erfc(a * rc) / rc
        f_c = math.erfc(a * rc) / rc**2 + 2.0 * a / math.sqrt(math.pi) * math.exp(-((a * rc) ** 2)) / rc
        return e_c, f_c

    def self_energy_per_charge2(self) -> float:
        """LAMMPS's DSF self energy of an atom divided by q^2 (its e_shift = e_c + f_c Rc), eV / e^2."""
        e_c, f_c = self.dsf_constants()
        e_shift = e_c + f_c * self.r_cut_coul
        return -(e_shift / 2.0 + self.alpha / math.sqrt(math.pi)) * METAL.qqr2e

    def pair_energy_fn(self):
        """pair_energy(r, species_i, species_j) -> energy of each pair, zero at and beyond the cutoffs."""
        A, rho, C, D = (jnp.asarray(t) for t in (self.A, self.rho, self.C, self.D))
        q = jnp.asarray(self.charges)
        alpha, r_cut, r_cut_coul = self.alpha, self.r_cut, self.r_cut_coul
        e_c, f_c = self.dsf_constants()

        def short_range(r, a, b):
            return A[a, b] * jnp.exp(-r / rho[a, b]) - C[a, b] / r**6 + D[a, b] / r**24

        def pair_energy(r, a, b):
            # double where: the branch not taken is evaluated at a harmless r, so neither the
            # energy nor its gradient meets an overflow from a pair far outside (or padded)
            inside = r < r_cut
            r_s = jnp.where(inside, r, r_cut)
            u_short = jnp.where(inside, short_range(r_s, a, b) - short_range(r_cut, a, b), 0.0)
            inside_coul = r < r_cut_coul
            r_c = jnp.where(inside_coul, r, r_cut_coul)
            dsf = erfc(alpha * r_c) / r_c - e_c + f_c * (r_c - r_cut_coul)
            u_coul = jnp.where(inside_coul, METAL.qqr2e * q[a] * q[b] * dsf, 0.0)
            return u_short + u_coul

        return pair_energy

    def energy_fn(self, displacement_fn, species):
        species = jnp.asarray(species)
        pair_energy = self.pair_energy_fn()
        charges = np.asarray(self.charges)[np.asarray(species)]
        self_energy = self.self_energy_per_charge2() * float(np.sum(charges**2))

        def energy(positions, pair_idx):
            i, j, _, r, valid = ordered_pair_geometry(displacement_fn, positions, pair_idx)
            u = pair_energy(r, species[i], species[j])
            return jnp.sum(jnp.where(valid, u, 0.0)) + self_energy

        return energy

    def lammps_commands(self, workdir: Path, style: str = DEFAULT_LAMMPS_STYLE) -> list[str]:
        """pair_style/pair_coeff for LAMMPS; `style` is "born/coul/dsf" (the default) or "lepton"."""
        if style not in LAMMPS_STYLES:
            raise ValueError(f"LAMMPS style must be one of {LAMMPS_STYLES}, got {style!r}")
        n = len(self.charges)
        pairs = [(a, b) for a in range(n) for b in range(a, n)]
        # LAMMPS born: A exp((sigma - r)/rho) - C/r^6 + D/r^8; sigma = 0 and its r^-8 term unused
        born = {(a, b): f"{self.A[a][b]!r} {self.rho[a][b]!r} 0.0 {self.C[a][b]!r} 0.0" for a, b in pairs}
        wall = {(a, b): f'"{self.D[a][b]!r}/r^24"' for a, b in pairs}
        if style == "born/coul/dsf":
            if self.r_cut != self.r_cut_coul:
                raise ValueError(f"born/coul/dsf needs r_cut == r_cut_coul here, got {self.r_cut}, {self.r_cut_coul}")
            cmds = [f"pair_style hybrid/overlay born/coul/dsf {self.alpha!r} {self.r_cut!r} lepton {self.r_cut!r}"]
            cmds += [f"pair_coeff {a + 1} {b + 1} born/coul/dsf {born[a, b]}" for a, b in pairs]
            cmds += [f"pair_coeff {a + 1} {b + 1} lepton {wall[a, b]}" for a, b in pairs]
            return cmds + ["pair_modify shift yes"]
        # lepton/coul substitutes sqrt(qqrd2e) q for qi and qj, so qi*qj carries the Coulomb constant;
        # it refuses `pair_modify shift`, hence the DSF shift written out and shifts set per sub-style
        e_c, f_c = self.dsf_constants()
        dsf = f'"qi*qj*(erfc({self.alpha!r}*r)/r-{e_c!r}+{f_c!r}*(r-{self.r_cut_coul!r}))"'
        cmds = [f"pair_style hybrid/overlay born {self.r_cut!r} lepton/coul {self.r_cut_coul!r} lepton {self.r_cut!r}"]
        cmds += [f"pair_coeff {a + 1} {b + 1} born {born[a, b]}" for a, b in pairs]
        cmds += [f"pair_coeff {a + 1} {b + 1} lepton/coul {dsf}" for a, b in pairs]
        cmds += [f"pair_coeff {a + 1} {b + 1} lepton {wall[a, b]}" for a, b in pairs]
        return cmds + ["pair_modify pair born shift yes", "pair_modify pair lepton shift yes"]
