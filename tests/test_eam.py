import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax_md import partition, space

from ogn.io.types import Structure
from ogn.md.lammps import reference_energy_forces
from ogn.systems import get_system
from ogn.systems.eam import FinnisSinclair, default_cuzr_file, read_setfl_fs

pytestmark = pytest.mark.float64  # the physics is checked to float64 rounding

TOLERANCE = 1e-9  # relative, vs LAMMPS


@pytest.fixture(scope="module")
def cuzr():
    return get_system("cuzr")


@pytest.fixture(scope="module")
def cuzr_config(cuzr):
    """(positions, neighbor idx) of one disordered configuration: building neighbor lists is slow, so share it."""
    positions = jittered_lattice(cuzr)
    return positions, neighbor_idx(cuzr, positions)


@pytest.fixture(scope="module")
def cuzr_energy_and_forces(cuzr):
    return energy_and_forces_fn(cuzr)


def jittered_lattice(system, seed=0):
    """Atoms on random sites of a simple-cubic lattice filling the box, each moved by up to 0.1 A per axis.

    The lattice spacing is >= 2.28 A at the preset density, so no two atoms come closer than 2 A.
    """
    rng = np.random.default_rng(seed)
    per_side = int(np.ceil(system.n_atoms ** (1 / 3)))
    sites = np.stack(np.meshgrid(*[np.arange(per_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    sites = sites[rng.permutation(len(sites))[: system.n_atoms]] * (system.sides / per_side)
    return np.mod(sites + rng.uniform(-0.1, 0.1, sites.shape), system.sides)


def neighbor_idx(system, positions):
    displacement, _ = space.periodic(system.sides)
    potential = system.potential
    neighbor_fn = partition.neighbor_list(
        displacement, system.sides, potential.cutoff, system.skin, format=getattr(partition.NeighborListFormat, potential.neighbor_format)
    )
    return neighbor_fn.allocate(jnp.asarray(positions)).idx


def energy_and_forces_fn(system, potential=None, species=None):
    """(positions, neighbor idx) -> (energy, (N, 3) forces), compiled once per call of this function."""
    potential = potential or system.potential
    species = system.species() if species is None else species
    displacement, _ = space.periodic(system.sides)
    value_and_grad = jax.jit(jax.value_and_grad(potential.energy_fn(displacement, jnp.asarray(species))))

    def energy_and_forces(positions, idx):
        energy, grad = value_and_grad(jnp.asarray(positions), idx)
        return float(energy), -np.asarray(grad)

    return energy_and_forces


def atoms_with_a_pair_past_the_table(system, positions):
    """Atoms with a neighbor at r in [(nr-1)*dr, cutoff): there LAMMPS clamps the table's argument but keeps
    the last slope, so its force is not the gradient of its energy (ours is) by ~|slope|/r per such pair."""
    potential = system.potential
    dR = positions[:, None] - positions[None]
    dR -= system.sides * np.round(dR / system.sides)
    r = np.sqrt(np.sum(dR * dR, axis=-1))
    return np.any((r >= (potential.nr - 1) * potential.dr) & (r < potential.cutoff), axis=1)


def write_setfl_fs(path: Path, potential: FinnisSinclair) -> None:
    """A setfl file that reads back to exactly `potential` (repr round-trips floats)."""

    def rows(values):
        words = [repr(float(v)) for v in values]
        return [" ".join(words[k : k + 5]) for k in range(0, len(words), 5)]

    p = potential
    lines = ["written by test_eam", "", "#", f"{len(p.elements)} {' '.join(p.elements)}"]
    lines.append(f"{p.nrho} {p.drho!r} {p.nr} {p.dr!r} {p.cutoff!r}")
    for e, mass in enumerate(p.masses):
        lines.append(f"0 {mass!r} 0.0 fcc")
        lines += rows(p.embedding[e])
        for f in range(len(p.elements)):
            lines += rows(p.density[e, f])
    for e in range(len(p.elements)):
        for f in range(e + 1):
            lines += rows(p.r_phi[e, f])
    path.write_text("\n".join(lines) + "\n")


def assert_matches_lammps(system, positions, energy, forces):
    lammps_energy, lammps_forces = reference_energy_forces(system, Structure(positions, system.species(), system.sides))
    assert abs(energy - lammps_energy) <= TOLERANCE * abs(lammps_energy)
    force_error = np.abs(forces - lammps_forces).max(axis=1)
    assert force_error.max() <= TOLERANCE * np.abs(lammps_forces).max()
    # away from the last table interval the two agree to rounding
    clear = ~atoms_with_a_pair_past_the_table(system, positions)
    assert clear.sum() > system.n_atoms // 2
    assert force_error[clear].max() <= 1e-12 * np.abs(lammps_forces).max()


def test_energy_and_forces_match_lammps(cuzr, cuzr_config, cuzr_energy_and_forces):
    positions, idx = cuzr_config
    assert_matches_lammps(cuzr, positions, *cuzr_energy_and_forces(positions, idx))


def test_energy_and_forces_match_lammps_scaled():
    system = get_system("cuzr", n_atoms=500)
    positions = jittered_lattice(system)
    energy_and_forces = energy_and_forces_fn(system)
    assert_matches_lammps(system, positions, *energy_and_forces(positions, neighbor_idx(system, positions)))


def test_density_index_order_matches_lammps(cuzr, cuzr_config, tmp_path):
    # CuZr_mm has rho_CuZr == rho_ZrCu, so make them differ: which atom gets which only shows then
    potential = cuzr.potential
    density = potential.density.copy()
    density[0, 1] *= 0.7  # the Cu block's Zr entry
    path = tmp_path / "asymmetric.eam.fs"
    write_setfl_fs(path, dataclasses.replace(potential, density=density))
    asymmetric = FinnisSinclair.from_file(path).select(cuzr.species_names)
    assert np.array_equal(asymmetric.density, density)
    system = dataclasses.replace(cuzr, potential=asymmetric)
    positions, idx = cuzr_config
    assert_matches_lammps(system, positions, *energy_and_forces_fn(system)(positions, idx))


def test_forces_are_minus_energy_gradient(cuzr_config, cuzr_energy_and_forces):
    positions, idx = cuzr_config
    _, forces = cuzr_energy_and_forces(positions, idx)
    # O(h^2) truncation reaches ~1e-6 eV/A at h = 1e-5 near close pairs; rounding in E (~1e-13) costs ~1e-7 at 1e-6
    h = 1e-6
    for atom, axis in [(0, 0), (17, 1), (100, 2), (200, 0), (244, 1)]:
        step = np.zeros_like(positions)
        step[atom, axis] = h
        plus, _ = cuzr_energy_and_forces(positions + step, idx)
        minus, _ = cuzr_energy_and_forces(positions - step, idx)
        assert -(plus - minus) / (2 * h) == pytest.approx(forces[atom, axis], abs=1e-6)


def test_neighbor_list_energy_equals_all_pairs(cuzr, cuzr_config, cuzr_energy_and_forces):
    positions, idx = cuzr_config
    energy, forces = cuzr_energy_and_forces(positions, idx)
    all_pairs = jnp.asarray(np.stack(np.triu_indices(cuzr.n_atoms, k=1)))  # (2, N(N-1)/2), i < j
    all_pairs_energy, all_pairs_forces = cuzr_energy_and_forces(positions, all_pairs)
    assert all_pairs_energy == pytest.approx(energy, rel=1e-13)
    np.testing.assert_allclose(all_pairs_forces, forces, rtol=0, atol=1e-12)


def test_select_reorders_species(cuzr, cuzr_config, cuzr_energy_and_forces):
    positions, idx = cuzr_config
    swapped = cuzr.potential.select(("Zr", "Cu"))
    assert swapped.elements == ("Zr", "Cu")
    assert swapped.masses == cuzr.masses[::-1]
    assert swapped.lammps_commands(Path("."))[1].endswith(" Zr Cu")
    energy, forces = cuzr_energy_and_forces(positions, idx)
    swapped_energy, swapped_forces = energy_and_forces_fn(cuzr, swapped, 1 - cuzr.species())(positions, idx)
    assert swapped_energy == pytest.approx(energy, rel=1e-14)
    np.testing.assert_allclose(swapped_forces, forces, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="Al"):
        cuzr.potential.select(("Cu", "Al"))


def test_system_with_potential_compares_hashes_and_replaces(cuzr):
    again = get_system("cuzr")
    assert again == cuzr and hash(again) == hash(cuzr)
    assert dataclasses.replace(cuzr, temperature=1000.0).potential is cuzr.potential
    assert cuzr.potential.lammps_commands(Path(".")) == [
        "pair_style eam/fs",
        f"pair_coeff * * {default_cuzr_file().resolve()} Cu Zr",
    ]


def test_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.eam.fs"):
        read_setfl_fs(tmp_path / "nowhere.eam.fs")

    lines = default_cuzr_file().read_text().splitlines()

    truncated = tmp_path / "truncated.eam.fs"
    truncated.write_text("\n".join(lines[:9000]) + "\n")
    with pytest.raises(ValueError, match=r"truncated\.eam\.fs: ends after .* of the 10000 values of rho\(r\) of Zr-Cu"):
        read_setfl_fs(truncated)

    non_numeric = tmp_path / "non_numeric.eam.fs"
    bad = lines.copy()
    bad[9] = bad[9].replace(bad[9].split()[2], "1.0x", 1)
    non_numeric.write_text("\n".join(bad) + "\n")
    with pytest.raises(ValueError, match=r"non_numeric\.eam\.fs:10: a value of F\(rho\) of Cu .* got '1.0x'"):
        read_setfl_fs(non_numeric)

    wrong_count = tmp_path / "wrong_count.eam.fs"
    wrong_count.write_text("\n".join(lines[:3] + ["3 Cu Zr"] + lines[4:]) + "\n")
    with pytest.raises(ValueError, match=r"wrong_count\.eam\.fs:4: .* N names, got '3 Cu Zr'"):
        read_setfl_fs(wrong_count)

    extra_value = tmp_path / "extra_value.eam.fs"
    extra_value.write_text("\n".join(lines[:2005] + [lines[2005] + " 1.0"] + lines[2006:]) + "\n")  # ends F of Cu
    with pytest.raises(ValueError, match=r"extra_value\.eam\.fs:2006: 1 values more than the 10000 of F\(rho\) of Cu"):
        read_setfl_fs(extra_value)
