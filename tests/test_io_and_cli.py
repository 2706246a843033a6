"""Files and the command line: round trips, atom-id order, and clear errors on bad input."""

import json

import numpy as np
import pytest

from ogn.cli import main
from ogn.io.h5md import TrajectoryWriter, read_trajectory
from ogn.io.lammps_data import DataFileError, read_lammps_data, write_lammps_data
from ogn.io.structures import read_extxyz, write_extxyz
from ogn.io.types import Structure
from ogn.md import protocols
from ogn.systems import get_system


def _lj_structure(seed=0, n_atoms=None):
    system = get_system("lj", n_atoms=n_atoms)
    rng = np.random.default_rng(seed)
    pos = protocols.random_positions(system, rng)
    vel = protocols.gaussian_velocities(system, system.species(), system.temperature, rng)
    return system, Structure(pos, system.species(), system.sides, vel)


def test_data_file_round_trip_in_atom_id_order(tmp_path):
    system, s = _lj_structure()
    path = tmp_path / "a.data"
    write_lammps_data(path, s, system.masses)
    lines = path.read_text().splitlines()
    # shuffle the Atoms section: the reader must return atoms in id order
    start = lines.index("Atoms # atomic") + 2
    body = lines[start : start + s.n_atoms]
    lines[start : start + s.n_atoms] = body[::-1]
    path.write_text("\n".join(lines) + "\n")
    back = read_lammps_data(path, n_species=2)
    np.testing.assert_allclose(back.positions, s.positions, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(back.species, s.species)
    np.testing.assert_array_equal(back.velocities, s.velocities)


def test_unwrapped_positions_survive_data_file(tmp_path):
    system, s = _lj_structure()
    s.positions[0] += [2.5 * system.box[0], -system.box[1], 0.0]
    write_lammps_data(tmp_path / "u.data", s, system.masses)
    back = read_lammps_data(tmp_path / "u.data")
    np.testing.assert_allclose(back.positions, s.positions, rtol=0, atol=1e-12)


def test_extxyz_round_trip(tmp_path):
    system, s = _lj_structure()
    write_extxyz(tmp_path / "a.extxyz", [(s.positions, s.velocities)], s.species, system.species_names, s.box)
    back = read_extxyz(tmp_path / "a.extxyz", system.species_names)
    np.testing.assert_array_equal(back.positions, s.positions)
    np.testing.assert_array_equal(back.velocities, s.velocities)
    np.testing.assert_array_equal(back.species, s.species)


def test_h5md_layout(tmp_path):
    import h5py

    path = tmp_path / "t.h5"
    with TrajectoryWriter(path, [0, 1, 1], 5.0, 0.01, {"a": 1}, "lj") as w:
        w.append([1, 2], np.zeros((2, 3, 3)), np.ones((2, 3, 3)), [1.0, 2.0], [3.0, 4.0])
    with h5py.File(path) as f:
        for group in ["particles/all/position", "particles/all/velocity", "observables/potential_energy",
                      "observables/kinetic_energy", "observables/total_energy"]:
            assert {"value", "step", "time"} <= set(f[group])
        assert f["particles/all/species"].shape == (3,)
        np.testing.assert_allclose(f["observables/total_energy/value"][()], [4.0, 6.0])
        np.testing.assert_allclose(f["particles/all/position/time"][()], [0.01, 0.02])
    assert not list(tmp_path.glob("*.partial"))  # the temporary file became t.h5
    assert read_trajectory(path).status == "complete"


@pytest.mark.float64
def test_energy_command_json_matches_library(tmp_path, capsys):
    from ogn.md.simulate import make_force_field

    system, s = _lj_structure(n_atoms=300)
    path = tmp_path / "lj.data"
    write_lammps_data(path, s, system.masses)
    assert main(["energy", "lj", str(path), "--n-atoms", "300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ff = make_force_field(system, s.species, precision="float64")
    R = np.mod(s.positions, system.sides)
    e, f = ff.energy_and_forces(R, ff.allocate(R).idx)
    assert out["energy"] == pytest.approx(float(e), rel=1e-12)
    np.testing.assert_allclose(out["forces"], np.asarray(f), rtol=1e-10, atol=1e-10)


def _error_of(argv, capsys) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_malformed_data_file(tmp_path, capsys):
    path = tmp_path / "bad.data"
    path.write_text("# bad\n\n3 atoms\n1 atom types\n\n0 6.1 xlo xhi\n0 6.1 ylo yhi\n0 6.1 zlo zhi\n\n"
                    "Atoms # atomic\n\n1 1 0.0 0.0 0.0\n2 1 1.0 oops 0.0\n3 1 2.0 2.0 2.0\n")
    err = _error_of(["energy", "lj", str(path)], capsys)
    assert "bad.data:13" in err and "malformed" in err
    with pytest.raises(DataFileError, match="3 atoms"):
        path.write_text(path.read_text().replace("3 1 2.0 2.0 2.0\n", ""))
        read_lammps_data(path)


def test_unknown_atom_type(tmp_path, capsys):
    path = tmp_path / "t3.data"
    path.write_text("# three types\n\n2 atoms\n3 atom types\n\n0 6.1 xlo xhi\n0 6.1 ylo yhi\n0 6.1 zlo zhi\n\n"
                    "Atoms # atomic\n\n1 1 0.0 0.0 0.0\n2 3 1.0 1.0 1.0\n")
    err = _error_of(["energy", "lj", str(path)], capsys)
    assert "unknown atom type 3" in err


def test_box_smaller_than_twice_the_cutoff(capsys, tmp_path):
    err = _error_of(["md", "lj", "--n-atoms", "100", "--steps", "10", "--out", str(tmp_path / "x.h5")], capsys)
    assert "smaller than twice the neighbor cutoff r_c = 3 of lj's potential" in err
    assert not list(tmp_path.iterdir())


def test_missing_potential_file(capsys):
    err = _error_of(["energy", "cuzr", "nothing.data", "--potential", "/no/such/file.eam.fs"], capsys)
    assert "/no/such/file.eam.fs" in err


def test_every_command_has_help(capsys):
    for argv in (["--help"], ["md", "--help"], ["energy", "--help"], ["convert", "--help"], ["bench", "md", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
