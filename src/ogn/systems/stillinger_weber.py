"""Stillinger-Weber silicon (Stillinger & Weber, Phys. Rev. B 31, 5262 (1985)), as LAMMPS `pair_style sw` computes it.

E = sum_{i<j} phi2(r_ij) + sum_i sum_{j<k} phi3(r_ij, r_ik, theta_jik), with both j and k within a*sigma of i:
    phi2 = A eps [B (sigma/r)^p - (sigma/r)^q] exp(sigma / (r - a sigma))
    phi3 = lam eps (cos theta_jik - cos theta0)^2 exp(gamma sigma / (r_ij - a sigma)) exp(gamma sigma / (r_ik - a sigma))
Every exp factor goes smoothly to zero at r = a*sigma, so the energy needs no shift or switch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

# the numbers of one `.sw` entry after its three element names, then tol
SW_FILE_ORDER = ("epsilon", "sigma", "a", "lam", "gamma", "cos_theta0", "A", "B", "p", "q")


@dataclass(frozen=True)
class StillingerWeber:
    """Single-species Stillinger-Weber; parameter names follow the LAMMPS `.sw` file."""

    epsilon: float  # energy scale (eV)
    sigma: float  # length scale (A)
    a: float  # cutoff in units of sigma
    lam: float  # three-body strength (lambda)
    gamma: float  # three-body decay length in units of sigma
    cos_theta0: float  # preferred bond angle cosine
    A: float  # two-body strength
    B: float  # two-body repulsion prefactor
    p: float  # repulsive power
    q: float  # attractive power
    element: str = "Si"

    neighbor_format = "Dense"

    def __post_init__(self):
        for name in ("epsilon", "sigma", "a", "gamma"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Stillinger-Weber {name} must be positive, got {getattr(self, name)}")
        for name in ("lam", "A", "B", "p", "q"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"Stillinger-Weber {name} must be >= 0, got {getattr(self, name)}")
        if not -1.0 <= self.cos_theta0 <= 1.0:
            raise ValueError(f"Stillinger-Weber cos_theta0 must lie in [-1, 1], got {self.cos_theta0}")

    @classmethod
    def paper(cls) -> StillingerWeber:
        """The original silicon parameters, with cos theta0 = -1/3 exactly (the tetrahedral angle)."""
        return cls(
            epsilon=2.1683,
            sigma=2.0951,
            a=1.80,
            lam=21.0,
            gamma=1.20,
            cos_theta0=-1.0 / 3.0,
            A=7.049556277,
            B=0.6022245584,
            p=4.0,
            q=0.0,
        )

    @property
    def cutoff(self) -> float:
        return self.a * self.sigma

    def energy_fn(self, displacement_fn, species):
        """energy(positions, neighbor_idx) for a Dense neighbor list: idx (N, M), padding entries hold N."""
        species = np.asarray(species)
        if species.size and (species.min() != 0 or species.max() != 0):
            raise ValueError(f"Stillinger-Weber here is single-species (species 0 only), got {np.unique(species)}")
        eps, sigma, cut, c0 = self.epsilon, self.sigma, self.cutoff, self.cos_theta0
        A, B, p, q, lam, gamma = self.A, self.B, self.p, self.q, self.lam, self.gamma
        # displacement r_j - r_i for every (i, neighbor slot m)
        neighbor_displacements = jax.vmap(jax.vmap(displacement_fn, (0, None)), (0, 0))

        def decaying_exp(r, length, inside):
            # exp(length / (r - cut)) for r < cut, exactly 0 beyond. r must already be the safe r (< cut
            # everywhere), so the untaken branch of where() is finite and its zero cotangent gives no NaN.
            return jnp.where(inside, jnp.exp(length / (r - cut)), 0.0)

        def energy(positions, neighbor_idx):
            n_atoms = positions.shape[0]
            is_neighbor = neighbor_idx < n_atoms
            j = jnp.where(is_neighbor, neighbor_idx, 0)
            dR = neighbor_displacements(positions[j], positions)  # (N, M, 3)
            r2 = jnp.sum(dR * dR, axis=-1)
            r = jnp.sqrt(jnp.where(is_neighbor, r2, 1.0))
            # decide inside/outside on r itself, not r2 < cut^2: the two can disagree by one rounding, and
            # r == cut would then reach r - cut = 0 below (seen in float32 at r = a*sigma)
            inside = is_neighbor & (r < cut)
            # double-where: outside pairs get r = cut/2 before any division
            r = jnp.where(inside, r, 0.5 * cut)

            # two-body: every pair appears as (i, j) and (j, i) in the dense list
            s_over_r = sigma / r
            phi2 = A * eps * (B * s_over_r**p - s_over_r**q) * decaying_exp(r, sigma, inside)
            two_body = 0.5 * jnp.sum(phi2)

            # three-body: per-bond radial factor once, then the double sum over neighbor slots j, k != j
            radial = decaying_exp(r, gamma * sigma, inside)  # (N, M), zero outside
            unit = dR / r[..., None]
            cos_jik = jnp.einsum("imd,ind->imn", unit, unit)  # (N, M, M)
            distinct = ~jnp.eye(neighbor_idx.shape[1], dtype=bool)
            angular = jnp.where(distinct, (cos_jik - c0) ** 2, 0.0)
            # each unordered {j, k} is counted twice in the double sum
            three_body = 0.5 * lam * eps * jnp.einsum("im,imn,in->", radial, angular, radial)
            return two_body + three_body

        return energy

    def lammps_commands(self, workdir: Path) -> list[str]:
        """Write a full-precision `.sw` file into workdir (the shipped Si.sw rounds cos theta0 to 12 digits)."""
        path = Path(workdir) / f"{self.element}.sw"
        el = self.element
        # tol = 0 keeps the cutoff at exactly a*sigma (LAMMPS would otherwise move it)
        values = [repr(float(getattr(self, name))) for name in SW_FILE_ORDER]
        line = " ".join([el, el, el, *values, "0.0"])
        path.write_text(f"# written by ogn: Stillinger-Weber, metal units\n{line}\n")
        return ["pair_style sw", f"pair_coeff * * {path} {el}"]
