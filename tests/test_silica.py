"""Buckingham + DSF silica against LAMMPS, against its own gradient, and at its cutoff."""

import dataclasses
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax_md import partition, space

from ogn.io.types import Structure
from ogn.md.lammps import reference_energy_forces
from ogn.systems import get_system
from ogn.systems.silica import BuckinghamDSF
from ogn.units import METAL

pytestmark = pytest.mark.float64  # the physics is checked to float64 rounding

AS_ERFC_ERROR = 1.5e-7  # Abramowitz & Stegun 7.1.26: |erfc_AS(x) - erfc(x)| <= 1.5e-7 for x >= 0


@dataclass(frozen=True)
class InLammpsStyle:
    """The potential, rendered for LAMMPS in a chosen style (what reference_energy_forces reads)."""

    potential: BuckinghamDSF
    style: str

    @property
    def cutoff(self):
        return self.potential.cutoff

    def lammps_commands(self, workdir):
        return self.potential.lammps_commands(workdir, style=self.style)


def jittered_lattice(system, seed=0, jitter=0.12):
    """A disordered configuration: occupied sites of a cubic lattice, jittered, species shuffled."""
    rng = np.random.default_rng(seed)
    n = system.n_atoms
    m = int(np.ceil(n ** (1 / 3)))
    sites = np.stack(np.meshgrid(*[np.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 3) * system.sides / m
    sites = sites[rng.choice(len(sites), n, replace=False)]
    positions = np.mod(sites + rng.normal(0.0, jitter, sites.shape), system.sides)
    species = rng.permutation(system.species())
    assert pair_distances(positions, system.sides).min() >= system.min_distance
    return positions, species


def pair_distances(positions, box):
    """(N, N) minimum-image distances, inf on the diagonal."""
    d = positions[:, None] - positions[None]
    d -= box * np.round(d / box)
    r = np.linalg.norm(d, axis=-1)
    np.fill_diagonal(r, np.inf)
    return r


def all_pairs(n):
    """The OrderedSparse index of every pair i<j: (2, N(N-1)/2)."""
    return jnp.asarray(np.stack(np.triu_indices(n, 1)).astype(np.int32))


def relative_errors(e, f, e_ref, f_ref):
    return abs(e - e_ref) / abs(e_ref), np.abs(f - f_ref).max() / np.abs(f_ref).max()


@pytest.fixture(scope="module", params=[363, 600], ids=["jittered-363", "preset-600"])
def case(request):
    """System, configuration, and our exact-erfc energy and forces from a jax-md neighbor list."""
    # 363 is the preset itself: rescaling to its own size can round the box below 2 r_c
    system = get_system("silica") if request.param == 363 else get_system("silica", n_atoms=request.param)
    assert system.charges == system.potential.charges  # LAMMPS reads the former, energy_fn the latter
    positions, species = jittered_lattice(system)
    displacement, _ = space.periodic(system.sides)
    neighbor_fn = partition.neighbor_list(
        displacement, system.sides, system.potential.cutoff, system.skin, format=getattr(partition.NeighborListFormat, system.potential.neighbor_format)
    )
    neighbors = neighbor_fn.allocate(jnp.asarray(positions))
    energy_fn = jax.jit(system.potential.energy_fn(displacement, jnp.asarray(species)))
    energy, grad = jax.value_and_grad(energy_fn)(jnp.asarray(positions), neighbors.idx)
    return {
        "system": system,
        "structure": Structure(positions, species, system.sides),
        "energy_fn": energy_fn,
        "idx": neighbors.idx,
        "energy": float(energy),
        "forces": -np.asarray(grad),
    }


def test_matches_lammps_lepton_exactly(case):
    system, structure = case["system"], case["structure"]
    e_ref, f_ref = reference_energy_forces(
        dataclasses.replace(system, potential=InLammpsStyle(system.potential, "lepton")), structure
    )
    # lepton/coul tallies pair terms only; the DSF self energy (which born/coul/dsf and coul/dsf tally in pe)
    # is a constant of the charges, added here rather than left out of our potential
    charges = np.asarray(system.charges)[structure.species]
    e_ref += system.potential.self_energy_per_charge2() * np.sum(charges**2)
    de, df = relative_errors(case["energy"], case["forces"], e_ref, f_ref)
    assert de <= 1e-9 and df <= 1e-9, (de, df)  # measured ~1e-15 and ~1e-14


def test_matches_lammps_born_coul_dsf(case):
    """The engine's default style: this LAMMPS's born/coul/dsf computes erfc to double precision, so it is exact too."""
    system = case["system"]
    assert system.potential.lammps_commands(None)[0].startswith("pair_style hybrid/overlay born/coul/dsf 0.25 8.0")
    e_ref, f_ref = reference_energy_forces(system, case["structure"])
    de, df = relative_errors(case["energy"], case["forces"], e_ref, f_ref)
    # an Abramowitz-Stegun erfc (error 1.5e-7) would show here as ~1e-7; measured ~1e-14
    assert de <= 1e-9 and df <= 1e-9, (de, df)


def test_lammps_coul_dsf_polynomial_erfc(case):
    """LAMMPS coul/dsf: erfc by A&S 7.1.26; against our exact erfc within what 1.5e-7 in erfc allows."""
    system, structure = case["system"], case["structure"]
    as_potential = dataclasses.replace(system.potential, erfc="abramowitz-stegun")
    e_ref, f_ref = reference_energy_forces(dataclasses.replace(system, potential=as_potential), structure)

    # energy: each pair's Coulomb term moves by at most qqr2e |q_i q_j| 1.5e-7 / r (shifts use the exact erfc)
    # force: LAMMPS's pair force is the exact-erfc derivative formula with erfc_AS, off by qqr2e |q_i q_j| eps / r^2
    charges = np.asarray(system.charges)[structure.species]
    r = pair_distances(structure.positions, structure.box)
    coulomb = METAL.qqr2e * np.abs(charges[:, None] * charges[None]) * (r < system.potential.r_cut_coul)
    energy_bound = AS_ERFC_ERROR * np.sum(coulomb / r) / 2
    force_bound = AS_ERFC_ERROR * np.sum(coulomb / r**2, axis=1)
    assert abs(case["energy"] - e_ref) <= energy_bound
    assert np.all(np.abs(case["forces"] - f_ref) <= force_bound[:, None])

    # and our erfc="abramowitz-stegun" energy is the energy coul/dsf computes
    displacement, _ = space.periodic(system.sides)
    energy_fn = as_potential.energy_fn(displacement, jnp.asarray(structure.species))
    e_as = float(jax.jit(energy_fn)(jnp.asarray(structure.positions), case["idx"]))
    assert abs(e_as - e_ref) <= 1e-12 * abs(e_ref), (e_as, e_ref)


def test_forces_are_minus_gradient_by_central_differences(case):
    positions = np.asarray(case["structure"].positions)
    rng = np.random.default_rng(1)
    h = 1e-4  # A: truncation ~h^2 F'' and rounding ~1e-16 |E| / h, both far below 1e-6 of the forces
    for atom, axis in zip(rng.choice(len(positions), 6, replace=False), rng.integers(0, 3, 6)):
        step = np.zeros_like(positions)
        step[atom, axis] = h
        e_plus = case["energy_fn"](jnp.asarray(positions + step), case["idx"])
        e_minus = case["energy_fn"](jnp.asarray(positions - step), case["idx"])
        numerical = -float(e_plus - e_minus) / (2 * h)
        assert abs(numerical - case["forces"][atom, axis]) <= 1e-6 * np.abs(case["forces"]).max()


def test_neighbor_list_energy_equals_all_pairs(case):
    structure = case["structure"]
    e_all = float(case["energy_fn"](jnp.asarray(structure.positions), all_pairs(structure.n_atoms)))
    assert abs(e_all - case["energy"]) <= 1e-12 * abs(case["energy"])


@pytest.mark.parametrize("pair", [(0, 0), (0, 1), (1, 1)], ids=["Si-Si", "Si-O", "O-O"])
def test_pair_energy_vanishes_continuously_at_cutoff(pair):
    potential = BuckinghamDSF.paper()
    rc = potential.cutoff
    assert potential.r_cut == potential.r_cut_coul == rc
    a, b = pair
    pair_energy = potential.pair_energy_fn()

    def u(r):
        return pair_energy(jnp.asarray(r), a, b)

    assert float(u(rc)) == 0.0 and float(u(rc + 1e-9)) == 0.0 and float(u(2 * rc)) == 0.0
    # continuous: just inside, the energy is the slope times the distance (Buckingham slope ~1e-3 eV/A here)
    assert abs(float(u(rc - 1e-8))) <= 1e-10

    # the DSF part alone: its force vanishes at Rc too (force shift), so it is zero to second order there
    dsf_only = dataclasses.replace(potential, A=((0.0, 0.0),) * 2, C=((0.0, 0.0),) * 2, D=((0.0, 0.0),) * 2)
    dsf_energy = dsf_only.pair_energy_fn()
    dsf_force = jax.grad(lambda r: -dsf_energy(r, a, b))
    assert abs(float(dsf_force(rc - 1e-8))) <= 1e-9
    assert abs(float(dsf_force(0.5 * rc))) > 1e-3  # while inside, it is a real force
    assert float(dsf_force(rc + 1e-3)) == 0.0


def test_rejects_bad_parameters():
    paper = BuckinghamDSF.paper()
    with pytest.raises(ValueError, match="rho must be positive"):
        dataclasses.replace(paper, rho=((0.0, 1.0), (1.0, 1.0)))
    with pytest.raises(ValueError, match="'chebyshev'"):
        dataclasses.replace(paper, erfc="chebyshev")
    with pytest.raises(ValueError, match="'coul/dsf'"):
        paper.lammps_commands(None, style="coul/dsf")
    with pytest.raises(ValueError, match="3x3 for 3 charges"):
        dataclasses.replace(paper, charges=(1.0, -0.5, 0.5))
