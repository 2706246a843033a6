"""Kob-Andersen binary Lennard-Jones, in the paper's form and in the standard KA form.

paper: what JAX-MD's `lennard_jones_neighbor_list` computes and the paper used: every pair is multiplied by
       the CHARMM switch from r_onset = 2.0 to r_cutoff = 2.5 (absolute, i.e. times max sigma = 1).
       LAMMPS: `pair_style lj/charmm/coul/charmm 2.0 2.5` with zero charges.
ka:    each pair truncated at 2.5 sigma_ab and shifted to zero there.
       LAMMPS: `pair_style lj/cut` with per-pair cutoffs and `pair_modify shift yes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jax.numpy as jnp

from ogn.systems.pairs import ordered_pair_geometry

# (epsilon, sigma) for AA, AB, BB (Kob & Andersen 1995)
KOB_ANDERSEN = {(0, 0): (1.0, 1.0), (0, 1): (1.5, 0.8), (1, 1): (0.5, 0.88)}


@dataclass(frozen=True)
class LennardJones:
    form: str  # "paper" | "ka"
    epsilon: tuple[tuple[float, ...], ...]  # (S, S)
    sigma: tuple[tuple[float, ...], ...]  # (S, S)
    r_onset: float = 2.0  # paper form: switch start (absolute)
    r_cut: float = 2.5  # paper form: absolute cutoff; ka form: cutoff in units of sigma_ab

    neighbor_format = "OrderedSparse"

    def __post_init__(self):
        if self.form not in ("paper", "ka"):
            raise ValueError(f"LJ form must be 'paper' or 'ka', got {self.form!r}")
        if self.form == "paper" and not 0 < self.r_onset < self.r_cut:
            raise ValueError(f"need 0 < r_onset < r_cut, got {self.r_onset}, {self.r_cut}")

    @classmethod
    def kob_andersen(cls, form: str) -> LennardJones:
        eps = [[0.0, 0.0], [0.0, 0.0]]
        sig = [[0.0, 0.0], [0.0, 0.0]]
        for (a, b), (e, s) in KOB_ANDERSEN.items():
            eps[a][b] = eps[b][a] = e
            sig[a][b] = sig[b][a] = s
        return cls(form, tuple(map(tuple, eps)), tuple(map(tuple, sig)))

    @property
    def cutoff(self) -> float:
        """The largest interaction range over all species pairs."""
        if self.form == "paper":
            return self.r_cut
        return self.r_cut * max(max(row) for row in self.sigma)

    def energy_fn(self, displacement_fn, species):
        eps = jnp.asarray(self.epsilon)
        sig = jnp.asarray(self.sigma)
        species = jnp.asarray(species)
        form, r_onset, r_cut = self.form, self.r_onset, self.r_cut

        def lj(r, e, s):
            x6 = (s / r) ** 6
            return 4.0 * e * (x6 * x6 - x6)

        def energy(positions, pair_idx):
            i, j, _, r, valid = ordered_pair_geometry(displacement_fn, positions, pair_idx)
            e = eps[species[i], species[j]]
            s = sig[species[i], species[j]]
            if form == "paper":
                rc2, ro2, r2 = r_cut**2, r_onset**2, r * r
                switch = (rc2 - r2) ** 2 * (rc2 + 2.0 * r2 - 3.0 * ro2) / (rc2 - ro2) ** 3
                switch = jnp.where(r < r_onset, 1.0, switch)
                u = lj(r, e, s) * switch
                inside = r < r_cut
            else:
                rc = r_cut * s
                u = lj(r, e, s) - lj(rc, e, s)
                inside = r < rc
            return jnp.sum(jnp.where(valid & inside, u, 0.0))

        return energy

    def lammps_commands(self, workdir: Path) -> list[str]:
        n = len(self.epsilon)
        pairs = [(a, b) for a in range(n) for b in range(a, n)]
        if self.form == "paper":
            cmds = [f"pair_style lj/charmm/coul/charmm {self.r_onset!r} {self.r_cut!r}"]
            cmds += [f"pair_coeff {a + 1} {b + 1} {self.epsilon[a][b]!r} {self.sigma[a][b]!r}" for a, b in pairs]
            return cmds
        cmds = [f"pair_style lj/cut {self.cutoff!r}"]
        cmds += [
            f"pair_coeff {a + 1} {b + 1} {self.epsilon[a][b]!r} {self.sigma[a][b]!r} {self.r_cut * self.sigma[a][b]!r}"
            for a, b in pairs
        ]
        return cmds + ["pair_modify shift yes"]
