"""Orthorhombic boxes: energies and forces against LAMMPS, cell lists that never drop a pair, NVE through
`ogn md --box`, the symmetries that map a box onto itself, and files that keep three sides."""

import numpy as np
import pytest

from ogn.data.symmetry import box_symmetries
from ogn.io.h5md import read_trajectory
from ogn.io.lammps_data import read_lammps_data, write_lammps_data
from ogn.io.structures import read_extxyz, write_extxyz
from ogn.io.types import Structure
from ogn.md import protocols
from ogn.md.simulate import make_force_field
from ogn.systems import get_system

pytestmark = pytest.mark.float64  # the physics is checked to float64 rounding

BOX = (6.4, 7.0, 7.8)  # lj at 420 atoms: the preset's density, no two sides equal


def _ortho_lj():
    system = get_system("lj", n_atoms=420, box=BOX)
    assert np.isclose(system.number_density, get_system("lj").number_density, rtol=0.01)
    return system


@pytest.mark.parametrize("preset, box", [("lj", BOX), ("cuzr", (16.0, 17.0, 18.5))])
def test_energy_and_forces_match_lammps_in_an_orthorhombic_box(preset, box):
    from ogn.md.lammps import reference_energy_forces

    system = get_system(preset, box=box)
    rng = np.random.default_rng(3)
    structure = Structure(protocols.random_positions(system, rng), system.species(), system.box)
    ref_energy, ref_forces = reference_energy_forces(system, structure)
    ff = make_force_field(system, structure.species, precision="float64")
    wrapped = np.mod(structure.positions, system.sides)
    energy, forces = ff.energy_and_forces(wrapped, ff.allocate(wrapped).idx)
    assert abs(float(energy) - ref_energy) <= 1e-10 * abs(ref_energy)
    np.testing.assert_allclose(np.asarray(forces), ref_forces, rtol=0, atol=1e-9 * np.abs(ref_forces).max())


def test_cell_list_never_drops_a_pair_in_an_orthorhombic_box():
    system = _ortho_lj()
    positions = protocols.random_positions(system, np.random.default_rng(0))
    ff = make_force_field(system, system.species(), precision="float64")
    idx = np.asarray(ff.allocate(positions).idx)
    d = positions[None] - positions[:, None]
    d -= system.sides * np.round(d / system.sides)
    i, j = np.nonzero((np.sqrt((d**2).sum(-1)) < system.neighbor_cutoff) & ~np.eye(len(positions), dtype=bool))
    expected = {(a, b) for a, b in zip(i, j) if a < b}
    n = len(positions)
    listed = ({(min(a, b), max(a, b)) for a, b in idx.T if a < n and b < n} if idx.shape[0] == 2 else
              {(min(a, b), max(a, b)) for a in range(n) for b in idx[a] if b < n})
    assert expected and expected <= listed


@pytest.mark.slow  # over 15 s on 2 cores: `make test-slow`
def test_md_with_box_conserves_energy_and_writes_three_sides(tmp_path):
    from ogn.cli import main

    out = tmp_path / "ortho.h5"
    assert main(["md", "lj", "--n-atoms", "420", "--box", *map(str, BOX), "--steps", "500", "--every", "50",
                 "--precision", "float64", "--out", str(out)]) == 0
    t = read_trajectory(out)
    np.testing.assert_allclose(t.box, BOX)
    total = t.total_energy
    assert np.abs(total - total[0]).max() < 1e-3 * np.abs(t.kinetic_energy).mean()


def test_a_box_too_thin_for_the_cutoff_is_refused():
    """The box is checked where the potential is used (a learned rollout needs only twice its own graph
    cutoff): by the force field, naming the box and r_c."""
    system = get_system("lj", box=(5.0, 8.0, 8.0))
    with pytest.raises(ValueError, match="box 5 x 8 x 8 has a side smaller than twice the neighbor cutoff r_c = 3"):
        make_force_field(system, system.species(), precision="float64")


@pytest.mark.parametrize("box, count", [((5.0, 5.0, 5.0), 48), ((5.0, 7.0, 5.0), 16), (BOX, 8)])
def test_only_symmetries_that_map_the_box_onto_itself(box, count):
    mats = box_symmetries(box)
    assert len(mats) == count
    np.testing.assert_array_equal(mats[0], np.eye(3))
    for m in mats:
        np.testing.assert_allclose(np.abs(m) @ np.asarray(box), box)


def test_data_file_and_extxyz_keep_three_sides_and_shift_the_origin(tmp_path):
    path = tmp_path / "ortho.data"
    path.write_text("# ortho\n\n2 atoms\n1 atom types\n\n-1.0 5.4 xlo xhi\n2.0 9.5 ylo yhi\n0 8.9 zlo zhi\n"
                    "0.0 0.0 0.0 xy xz yz\n\nAtoms # atomic\n\n1 1 -0.5 2.5 1.0\n2 1 5.0 9.0 8.0\n")
    s = read_lammps_data(path)
    np.testing.assert_allclose(s.box, [6.4, 7.5, 8.9])
    np.testing.assert_allclose(s.positions, [[0.5, 0.5, 1.0], [6.0, 7.0, 8.0]])
    write_extxyz(tmp_path / "o.extxyz", [(s.positions, np.zeros((2, 3)))], s.species, ("A",), s.box)
    back = read_extxyz(tmp_path / "o.extxyz", ("A",))
    np.testing.assert_allclose(back.box, s.box)
    write_lammps_data(tmp_path / "o.data", back, masses=[1.0])
    np.testing.assert_allclose(read_lammps_data(tmp_path / "o.data").box, s.box)


def test_a_tilted_data_file_is_refused(tmp_path):
    path = tmp_path / "tri.data"
    path.write_text("# tri\n\n1 atoms\n1 atom types\n\n0 5 xlo xhi\n0 5 ylo yhi\n0 5 zlo zhi\n"
                    "0.5 0.0 0.0 xy xz yz\n\nAtoms # atomic\n\n1 1 0 0 0\n")
    with pytest.raises(ValueError, match="tri.data:9: a triclinic box"):
        read_lammps_data(path)
