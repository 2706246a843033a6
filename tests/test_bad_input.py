"""Bad input files: every reader refuses them with an error that names the file (and the line or frame)."""

import h5py
import numpy as np
import pytest

from ogn.io.h5md import TrajectoryWriter, read_trajectory
from ogn.io.lammps_data import DataFileError, read_lammps_data
from ogn.io.structures import read_extxyz, read_structure

SPECIES = ("A", "B")
ATOMIC_ROWS = ["1 1 0.0 0.0 0.0", "2 2 1.0 1.0 1.0", "3 1 2.0 2.0 2.0"]
ATOMS_LINE = 10  # the line of the Atoms section header in _data_file; its rows start on line 12


def _data_file(path, rows=ATOMIC_ROWS, n_atoms=3, atoms="Atoms # atomic", velocities=None):
    text = (f"# test\n\n{n_atoms} atoms\n2 atom types\n\n0 6.0 xlo xhi\n0 6.0 ylo yhi\n0 6.0 zlo zhi\n\n"
            f"{atoms}\n\n" + "\n".join(rows) + "\n")
    if velocities is not None:
        text += "\nVelocities\n\n" + "\n".join(velocities) + "\n"
    path.write_text(text)
    return path


def _xyz_frame(rows, n_atoms=None):
    lattice = "6.0 0.0 0.0 0.0 6.0 0.0 0.0 0.0 6.0"
    header = f'Lattice="{lattice}" Properties=species:S:1:pos:R:3:vel:R:3 pbc="T T T"'
    return [str(len(rows) if n_atoms is None else n_atoms), header, *rows]


XYZ_ROWS = ["A 0.0 0.0 0.0 0.1 0.1 0.1", "B 1.0 1.0 1.0 0.2 0.2 0.2"]
XYZ_ROWS_2 = ["A 3.0 3.0 3.0 0.1 0.1 0.1", "B 4.0 4.0 4.0 0.2 0.2 0.2"]


def _xyz_file(path, *frames):
    path.write_text("\n".join(line for frame in frames for line in frame) + "\n")
    return path


def _h5md_file(path, edges=None):
    with TrajectoryWriter(path, [0, 1], 5.0, 0.01, {}, "lj") as w:
        w.append([1, 2], np.arange(12.0).reshape(2, 2, 3), np.ones((2, 2, 3)), [1.0, 2.0], [3.0, 4.0])
    if edges is not None:
        with h5py.File(path, "r+") as f:
            f["particles/all/box/edges"][...] = edges
    return path


def _refuses(read, path, *fragments, error=ValueError):
    with pytest.raises(error) as exc:
        read(path)
    message = str(exc.value)
    for fragment in (str(path), *fragments):
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# 1. the Atoms section must have as many rows as the header says atoms
@pytest.mark.parametrize("n_header", [2, 4])
def test_data_file_atom_count_mismatch(tmp_path, n_header):
    path = _data_file(tmp_path / "count.data", n_atoms=n_header)
    _refuses(read_lammps_data, path, f"count.data:{ATOMS_LINE}:", f"{n_header} atoms", "3 rows", error=DataFileError)


def test_data_file_velocities_count_mismatch(tmp_path):
    rows = ["1 0.1 0.1 0.1", "2 0.2 0.2 0.2", "3 0.3 0.3 0.3", "4 0.4 0.4 0.4"]
    path = _data_file(tmp_path / "vel.data", velocities=rows)
    _refuses(read_lammps_data, path, "vel.data:16:", "Velocities", "4 rows", error=DataFileError)


# 2. without a style comment, a column count that fits more than one atom style is refused
@pytest.mark.parametrize("rows", [
    ["1 1 1 0.0 0.0 0.0", "2 1 2 1.0 1.0 1.0", "3 1 1 2.0 2.0 2.0"],  # charge, or molecular: id mol type x y z
    ["1 1 1 0.0 0.0 0.0 0 0 0", "2 1 2 1.0 1.0 1.0 0 0 0", "3 1 1 2.0 2.0 2.0 0 0 0"],  # the same, with images
], ids=["6-columns", "9-columns"])
def test_data_file_ambiguous_atom_style(tmp_path, rows):
    path = _data_file(tmp_path / "style.data", rows=rows, atoms="Atoms")
    _refuses(read_lammps_data, path, f"style.data:{ATOMS_LINE}:", "Atoms # charge", error=DataFileError)


@pytest.mark.parametrize("atoms, rows, charges", [
    ("Atoms", ATOMIC_ROWS, None),
    ("Atoms", [r + " 0 0 0" for r in ATOMIC_ROWS], None),
    ("Atoms # charge", ["1 1 0.5 0.0 0.0 0.0", "2 2 -0.5 1.0 1.0 1.0", "3 1 0.0 2.0 2.0 2.0"], [0.5, -0.5, 0.0]),
], ids=["atomic-guessed", "atomic-images-guessed", "charge-commented"])
def test_data_file_valid_styles_still_read(tmp_path, atoms, rows, charges):
    s = read_lammps_data(_data_file(tmp_path / "ok.data", rows=rows, atoms=atoms), n_species=2)
    np.testing.assert_array_equal(s.positions, [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(s.species, [0, 1, 0])
    np.testing.assert_array_equal(s.box, [6.0, 6.0, 6.0])
    assert (s.charges is None) if charges is None else s.charges.tolist() == charges


# 3. non-finite coordinates and velocities
@pytest.mark.parametrize("rows, velocities, line", [
    (["1 1 0.0 0.0 0.0", "2 2 nan 1.0 1.0", "3 1 2.0 2.0 2.0"], None, 13),
    (["1 1 0.0 0.0 0.0", "2 2 1.0 1.0 1.0", "3 1 2.0 -inf 2.0"], None, 14),
    (ATOMIC_ROWS, ["1 0.1 0.1 0.1", "2 0.2 inf 0.2", "3 0.3 0.3 0.3"], 19),
], ids=["data-pos-nan", "data-pos-inf", "data-vel-inf"])
def test_data_file_non_finite(tmp_path, rows, velocities, line):
    path = _data_file(tmp_path / "nan.data", rows=rows, velocities=velocities)
    _refuses(read_lammps_data, path, f"nan.data:{line}:", "non-finite", error=DataFileError)


@pytest.mark.parametrize("row, line", [
    ("B 1.0 nan 1.0 0.2 0.2 0.2", 4),
    ("B 1.0 1.0 1.0 0.2 inf 0.2", 4),
], ids=["xyz-pos-nan", "xyz-vel-inf"])
def test_extxyz_non_finite(tmp_path, row, line):
    path = _xyz_file(tmp_path / "nan.extxyz", _xyz_frame([XYZ_ROWS[0], row]))
    _refuses(lambda p: read_extxyz(p, SPECIES), path, f"nan.extxyz:{line}:", "non-finite", error=DataFileError)


# 4. read_structure honours `frame`, and refuses a frame that does not exist
@pytest.mark.parametrize("fmt, frame, first_x", [
    ("extxyz", 0, 0.0), ("extxyz", 1, 3.0), ("extxyz", -1, 3.0), ("extxyz", -2, 0.0),
    ("h5", 0, 0.0), ("h5", 1, 6.0), ("h5", -1, 6.0), ("h5", -2, 0.0),
])
def test_frame_is_honoured(tmp_path, fmt, frame, first_x):
    if fmt == "h5":
        path = _h5md_file(tmp_path / "two.h5")
    else:
        path = _xyz_file(tmp_path / "two.extxyz", _xyz_frame(XYZ_ROWS), _xyz_frame(XYZ_ROWS_2))
    s = read_structure(path, SPECIES, frame=frame)
    assert s.positions.shape == s.velocities.shape == (2, 3)
    assert s.positions[0, 0] == first_x


@pytest.mark.parametrize("fmt, frame", [("extxyz", 2), ("extxyz", -3), ("h5", 2), ("h5", -3)])
def test_frame_out_of_range(tmp_path, fmt, frame):
    if fmt == "h5":
        path = _h5md_file(tmp_path / "two.h5")
    else:
        path = _xyz_file(tmp_path / "two.extxyz", _xyz_frame(XYZ_ROWS), _xyz_frame(XYZ_ROWS_2))
    _refuses(lambda p: read_structure(p, SPECIES, frame=frame), path, f"frame {frame}", "2 frames")


def test_h5md_integer_frame_out_of_range(tmp_path):
    path = _h5md_file(tmp_path / "two.h5")
    assert read_trajectory(path, frames=1).positions[0, 0] == 6.0
    _refuses(lambda p: read_trajectory(p, frames=2), path, "frame 2", "2 frames")


# 5. a truncated extxyz
@pytest.mark.parametrize("frames, frame_no, line", [
    ([_xyz_frame(XYZ_ROWS, n_atoms=3)], 0, 1),
    ([_xyz_frame(XYZ_ROWS), _xyz_frame(XYZ_ROWS_2[:1], n_atoms=2)], 1, 5),
], ids=["only-frame", "last-frame"])
def test_extxyz_truncated(tmp_path, frames, frame_no, line):
    path = _xyz_file(tmp_path / "cut.extxyz", *frames)
    for read in (lambda p: read_extxyz(p, SPECIES, frame=0), lambda p: read_structure(p, SPECIES)):
        _refuses(read, path, f"cut.extxyz:{line}:", f"frame {frame_no}", "truncated", error=DataFileError)


# 6. binary input
@pytest.mark.parametrize("name, junk", [
    ("junk.data", bytes(range(128, 256))),
    ("junk.extxyz", bytes(range(128, 256))),
    ("junk.xyz", bytes(range(128, 256))),
    ("junk.data", bytes(64)),  # NUL bytes decode as UTF-8, but are no text
], ids=["data", "extxyz", "xyz", "data-nul"])
def test_binary_input(tmp_path, name, junk):
    path = tmp_path / name
    path.write_bytes(b"3 atoms\n" + junk * 4)
    direct = (lambda p: read_extxyz(p, SPECIES)) if "xyz" in name else read_lammps_data
    for read in (direct, lambda p: read_structure(p, SPECIES)):
        _refuses(read, path, f"{name}:2:", "not a text file", error=DataFileError)


# 7. H5MD boxes: orthorhombic ones are read, a time-dependent (NPT) box is refused
@pytest.mark.parametrize("edges", [[5.0, 6.0, 7.0], [5.0, 5.0, 7.0]])
def test_h5md_orthorhombic_box_is_read(tmp_path, edges):
    path = _h5md_file(tmp_path / "ortho.h5", edges=edges)
    np.testing.assert_array_equal(read_trajectory(path).box, edges)
    np.testing.assert_array_equal(read_structure(path, SPECIES).box, edges)


def test_h5md_time_dependent_box_is_refused(tmp_path):
    path = _h5md_file(tmp_path / "npt.h5")
    with h5py.File(path, "r+") as f:
        del f["particles/all/box/edges"]
        f.create_dataset("particles/all/box/edges/value", data=np.full((2, 3), 5.0))
    for read in (read_trajectory, lambda p: read_structure(p, SPECIES)):
        _refuses(read, path, "the box changes with time")


def test_h5md_cubic_box_is_three_sides(tmp_path):
    t = read_trajectory(_h5md_file(tmp_path / "cube.h5"))
    np.testing.assert_array_equal(t.box, [5.0, 5.0, 5.0])


# 8. empty files
@pytest.mark.parametrize("name, read", [
    ("empty.data", read_lammps_data),
    ("empty.extxyz", lambda p: read_extxyz(p, SPECIES)),
    ("empty.h5", read_trajectory),
    ("empty.data", lambda p: read_structure(p, SPECIES)),
    ("empty.extxyz", lambda p: read_structure(p, SPECIES)),
    ("empty.h5", lambda p: read_structure(p, SPECIES)),
], ids=["data", "extxyz", "h5md", "structure-data", "structure-extxyz", "structure-h5md"])
def test_empty_file(tmp_path, name, read):
    path = tmp_path / name
    path.write_bytes(b"")
    _refuses(read, path, "empty file")


@pytest.mark.parametrize("read", [read_lammps_data, lambda p: read_extxyz(p, SPECIES), read_trajectory,
                                  lambda p: read_structure(p, SPECIES)], ids=["data", "extxyz", "h5md", "structure"])
def test_missing_file(tmp_path, read):
    path = tmp_path / "absent.data"
    with pytest.raises((FileNotFoundError, ValueError), match=str(path)):
        read(path)
