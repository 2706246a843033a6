"""Stillinger-Weber silicon against LAMMPS `pair_style sw`, a brute-force sum, and its own gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax_md import partition, space

from ogn.io.types import Structure
from ogn.md.lammps import reference_energy_forces
from ogn.systems import get_system
from ogn.systems.stillinger_weber import StillingerWeber

pytestmark = pytest.mark.float64  # the LAMMPS comparison is at 1e-9, far below float32

RTOL_LAMMPS = 1e-9


def jittered_lattice(system, seed: int) -> np.ndarray:
    """N atoms on randomly chosen sites of a simple cubic lattice filling the box, each jittered by 0.05 A.

    The lattice spacing at the preset density is ~2.2 A and ~40 % of sites stay empty, so the structure is
    disordered, the closest approach is ~2 A, and each atom has ~10 neighbors inside a*sigma.
    """
    rng = np.random.default_rng(seed)
    n = system.n_atoms
    per_side = int(np.ceil(n ** (1 / 3)))
    sites = np.stack(np.meshgrid(*[np.arange(per_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    sites = sites[rng.choice(len(sites), n, replace=False)] * (system.sides / per_side)
    return np.mod(sites + rng.normal(0.0, 0.05, sites.shape), system.sides)


def random_packing(system, seed: int, min_distance: float = 2.2) -> np.ndarray:
    """Uniform random positions, rejecting any closer than min_distance to an earlier one (minimum image)."""
    rng = np.random.default_rng(seed)
    placed = np.empty((0, 3))
    while len(placed) < system.n_atoms:
        x = rng.uniform(0.0, system.sides, 3)
        d = placed - x
        d -= system.sides * np.round(d / system.sides)
        if len(placed) == 0 or np.min(np.linalg.norm(d, axis=1)) >= min_distance:
            placed = np.vstack([placed, x])
    return placed


def neighbor_list_model(system, width: int = 48):
    """(energy_fn, value_and_grad_fn, neighbors_of) for `system`, jitted once.

    neighbors_of pads every Dense list to the same width, so one compilation serves all configurations.
    """
    displacement, _ = space.periodic(system.sides)
    neighbor_fn = partition.neighbor_list(
        displacement,
        system.sides,
        system.potential.cutoff,
        system.skin,
        format=getattr(partition.NeighborListFormat, system.potential.neighbor_format),
        disable_cell_list=True,  # small systems: the all-pairs build compiles faster than a cell list
    )
    energy_fn = jax.jit(system.potential.energy_fn(displacement, system.species()))

    def neighbors_of(positions):
        idx = neighbor_fn.allocate(jnp.asarray(positions)).idx
        assert idx.shape[1] <= width
        return jnp.pad(idx, ((0, 0), (0, width - idx.shape[1])), constant_values=system.n_atoms)

    return energy_fn, jax.jit(jax.value_and_grad(energy_fn)), neighbors_of


def energy_and_forces(model, positions):
    _, value_and_grad_fn, neighbors_of = model
    energy, grad = value_and_grad_fn(jnp.asarray(positions), neighbors_of(positions))
    return float(energy), -np.asarray(grad)


def brute_force_energy(potential: StillingerWeber, positions: np.ndarray, box: float):
    """(two-body, three-body, neighbors within a*sigma per atom), straight from the formulas over all pairs and
    all triplets i; j < k, minimum image, no neighbor list."""
    sw, cut, n = potential, potential.cutoff, len(positions)
    dR = positions[None, :, :] - positions[:, None, :]  # dR[i, j] = r_j - r_i
    dR -= box * np.round(dR / box)
    r = np.linalg.norm(dR, axis=-1)
    bonded = (r < cut) & ~np.eye(n, dtype=bool)
    r = np.where(bonded, r, 0.5 * cut)  # any value below cut: bonded masks it out below

    phi2 = sw.A * sw.epsilon * (sw.B * (sw.sigma / r) ** sw.p - (sw.sigma / r) ** sw.q) * np.exp(sw.sigma / (r - cut))
    two_body = np.sum(np.where(bonded, phi2, 0.0)[np.triu_indices(n, 1)])

    radial = np.where(bonded, np.exp(sw.gamma * sw.sigma / (r - cut)), 0.0)
    unit = dR / r[..., None]
    cos_jik = np.einsum("ijd,ikd->ijk", unit, unit)
    j_before_k = np.triu(np.ones((n, n), dtype=bool), 1)[None]
    phi3 = sw.lam * sw.epsilon * (cos_jik - sw.cos_theta0) ** 2 * radial[:, :, None] * radial[:, None, :]
    three_body = np.sum(np.where(j_before_k, phi3, 0.0))
    return two_body, three_body, bonded.sum(axis=1)


def relative_errors(energy, forces, ref_energy, ref_forces):
    return abs(energy - ref_energy) / abs(ref_energy), np.abs(forces - ref_forces).max() / np.abs(ref_forces).max()


@pytest.fixture(scope="module")
def silicon():
    return get_system("silicon")


@pytest.fixture(scope="module")
def silicon_model(silicon):
    return neighbor_list_model(silicon)


@pytest.fixture(scope="module")
def free_space_energy():
    """Jitted value_and_grad of the paper potential for 3 atoms in free space, Dense lists of width 3."""
    displacement, _ = space.free()
    energy_fn = StillingerWeber.paper().energy_fn(displacement, np.zeros(3, dtype=np.int32))
    return jax.jit(jax.value_and_grad(energy_fn))


@pytest.mark.parametrize("make_positions", [jittered_lattice, random_packing])
def test_matches_lammps_and_brute_force_128(silicon, silicon_model, make_positions):
    positions = make_positions(silicon, seed=0)
    energy, forces = energy_and_forces(silicon_model, positions)

    two_body, three_body, n_bonded = brute_force_energy(silicon.potential, positions, silicon.sides)
    # the three-body term must carry real weight, or this would test the pair term only
    assert np.median(n_bonded) >= 8
    assert three_body > 0.3 * abs(two_body)
    assert energy == pytest.approx(two_body + three_body, rel=1e-12)

    ref_energy, ref_forces = reference_energy_forces(silicon, Structure(positions, silicon.species(), silicon.sides))
    energy_error, force_error = relative_errors(energy, forces, ref_energy, ref_forces)
    assert energy_error <= RTOL_LAMMPS, (energy, ref_energy)
    assert force_error <= RTOL_LAMMPS


def test_matches_lammps_300_atoms():
    system = get_system("silicon", n_atoms=300)
    positions = jittered_lattice(system, seed=1)
    energy, forces = energy_and_forces(neighbor_list_model(system), positions)
    ref_energy, ref_forces = reference_energy_forces(system, Structure(positions, system.species(), system.sides))
    energy_error, force_error = relative_errors(energy, forces, ref_energy, ref_forces)
    assert energy_error <= RTOL_LAMMPS, (energy, ref_energy)
    assert force_error <= RTOL_LAMMPS


def test_forces_are_minus_gradient_by_central_differences(silicon, silicon_model):
    positions = jittered_lattice(silicon, seed=2)
    energy_fn, _, neighbors_of = silicon_model
    neighbor_idx = neighbors_of(positions)  # h is far below the skin: the list stays valid

    def energy_at(r):
        return float(energy_fn(jnp.asarray(r), neighbor_idx))

    _, forces = energy_and_forces(silicon_model, positions)
    h = 1e-5  # A: small enough for O(h^2) error ~1e-10, large enough for roundoff ~1e-16 * |E| / h ~ 1e-9
    for atom, axis in [(0, 0), (17, 1), (64, 2), (127, 0)]:
        step = np.zeros_like(positions)
        step[atom, axis] = h
        numeric = -(energy_at(positions + step) - energy_at(positions - step)) / (2 * h)
        assert numeric == pytest.approx(forces[atom, axis], rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
@pytest.mark.parametrize("at_cutoff", [True, False])
def test_isolated_pair_at_or_beyond_cutoff_is_exactly_zero(free_space_energy, at_cutoff, dtype):
    cutoff = StillingerWeber.paper().cutoff
    r = cutoff if at_cutoff else cutoff + 0.5
    # a third atom far away; each row lists the other two, padding (= N) fills the last slot
    positions = jnp.array([[0.0, 0.0, 0.0], [r, 0.0, 0.0], [0.0, 10.0, 0.0]], dtype=dtype)
    neighbor_idx = jnp.array([[1, 2, 3], [0, 2, 3], [0, 1, 3]])
    energy, grad = free_space_energy(positions, neighbor_idx)
    assert float(energy) == 0.0
    assert np.all(np.asarray(grad) == 0.0)  # finite: NaN would fail this too


def test_bond_just_inside_cutoff_has_finite_gradient(free_space_energy):
    r = np.nextafter(StillingerWeber.paper().cutoff, 0.0)
    # a triplet whose second bond sits on the edge of the cutoff
    positions = jnp.array([[0.0, 0.0, 0.0], [2.3, 0.0, 0.0], [0.0, r, 0.0]])
    neighbor_idx = jnp.array([[1, 2, 3], [0, 2, 3], [0, 1, 3]])
    energy, grad = free_space_energy(positions, neighbor_idx)
    assert np.isfinite(float(energy)) and float(energy) != 0.0
    assert np.all(np.isfinite(np.asarray(grad)))


def test_lammps_parameter_file_has_full_precision(tmp_path):
    commands = StillingerWeber.paper().lammps_commands(tmp_path)
    assert commands[0] == "pair_style sw"
    assert commands[1] == f"pair_coeff * * {tmp_path / 'Si.sw'} Si"
    assert "-0.3333333333333333" in (tmp_path / "Si.sw").read_text()


@pytest.mark.parametrize("field, value", [("sigma", 0.0), ("epsilon", -1.0), ("lam", -0.1), ("cos_theta0", 1.5)])
def test_rejects_bad_parameters(field, value):
    import dataclasses

    with pytest.raises(ValueError, match=str(value)):
        dataclasses.replace(StillingerWeber.paper(), **{field: value})
