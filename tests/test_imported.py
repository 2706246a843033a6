"""Learning from your own trajectories: LAMMPS dumps, extxyz and H5MD in; a system without a preset; every
bad file refused with its name and the line or frame; and the README's worked example end to end on copper
made by the LAMMPS Python module in a non-cubic box."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from ogn.data.dataset import DatasetError, load_frames
from ogn.data.imported import ImportSpec, import_dataset
from ogn.io.lammps_data import DataFileError
from ogn.io.lammps_dump import TrajectoryFileError, read_lammps_dump
from ogn.io.structures import write_extxyz
from ogn.io.trajectories import read_observed

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "copper" / "in.copper"
BOX = np.array([6.0, 7.0, 8.0])


def _motion(n_frames=6, n_atoms=4, seed=0, frame_time=0.01):
    """Unwrapped positions that cross the box, and velocities that carry them there (a frame every
    `frame_time`: 10 MD steps of 1 fs in metal units, as _spec and _dump have it)."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, BOX, (n_atoms, 3))
    velocities = rng.normal(0, 0.7 / frame_time, (n_frames, n_atoms, 3))
    positions = start + np.cumsum(frame_time * velocities, axis=0)
    return positions, velocities


def _dump(path, positions, velocities, columns="id type xu yu zu vx vy vz", steps=None, types=None,
          boxes=None, order=None, extra=None, lo=(0.0, 0.0, 0.0)):
    n_frames, n_atoms = positions.shape[:2]
    steps = list(range(0, 10 * n_frames, 10)) if steps is None else steps
    types = [1, 2] * (n_atoms // 2) if types is None else types
    lines = []
    for f in range(n_frames):
        box = BOX if boxes is None else boxes[f]
        lines += ["ITEM: TIMESTEP", str(steps[f]), "ITEM: NUMBER OF ATOMS", str(n_atoms), "ITEM: BOX BOUNDS pp pp pp"]
        lines += [f"{lo[a]} {lo[a] + box[a]}" for a in range(3)]
        lines.append(f"ITEM: ATOMS {columns}")
        for a in (range(n_atoms) if order is None else order):
            r, v = positions[f, a], velocities[f, a]
            wrapped = np.mod(r, box)
            image = np.rint((r - wrapped) / box).astype(int)
            values = {"id": a + 1, "type": types[a], "xu": r[0], "yu": r[1], "zu": r[2], "x": wrapped[0],
                      "y": wrapped[1], "z": wrapped[2], "xs": wrapped[0] / box[0], "ys": wrapped[1] / box[1],
                      "zs": wrapped[2] / box[2], "xsu": r[0] / box[0], "ysu": r[1] / box[1], "zsu": r[2] / box[2],
                      "ix": image[0], "iy": image[1], "iz": image[2], "vx": v[0], "vy": v[1], "vz": v[2],
                      **(extra(a) if extra else {})}
            row = []
            for c in columns.split():
                value = values[c]
                row.append(str(value) if isinstance(value, str | int | np.integer) else repr(float(value)))
            if c in ("x", "y", "z", "xu", "yu", "zu"):  # positions written relative to the box's corner
                pass
            lines.append(" ".join(row))
    Path(path).write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("columns", [
    "id type xu yu zu vx vy vz",
    "vz type vx id zu yu xu vy",
    "id type x y z ix iy iz vx vy vz",
    "id type xs ys zs ix iy iz vx vy vz",
    "id type xsu ysu zsu vx vy vz",
    "id type x y z vx vy vz",  # no image flags: unwrapped by continuity
])
def test_every_position_style_and_column_order_gives_the_same_trajectory(tmp_path, columns):
    positions, velocities = _motion()
    t = read_lammps_dump(_dump(tmp_path / "a.dump", positions, velocities, columns=columns, order=[2, 0, 3, 1]))
    shift = np.rint((t.positions[0] - positions[0]) / BOX) * BOX  # wrapped files start in the box
    np.testing.assert_allclose(t.positions, positions + shift, atol=1e-9)
    np.testing.assert_allclose(t.velocities, velocities)
    np.testing.assert_array_equal(t.steps, [0, 10, 20, 30, 40, 50])
    np.testing.assert_array_equal(t.types, [1, 2, 1, 2])
    np.testing.assert_allclose(t.box, BOX)


def test_a_box_corner_away_from_the_origin_is_shifted(tmp_path):
    positions, velocities = _motion()
    t = read_lammps_dump(_dump(tmp_path / "a.dump", positions - 3.0, velocities, lo=(-3.0, -3.0, -3.0)))
    np.testing.assert_allclose(t.positions, positions, atol=1e-9)


def _bad(tmp_path, name, seed=0, **kwargs):
    positions, velocities = _motion(seed=seed)
    return _dump(tmp_path / name, positions, velocities, **kwargs)


@pytest.mark.parametrize("make, fragments", [
    (lambda p: _bad(p, "npt.dump", boxes=[BOX] * 3 + [BOX * 1.01] * 3), ["npt.dump", "box changes at frame 3",
                                                                         "timestep 30", "NPT"]),
    (lambda p: _bad(p, "novel.dump", columns="id type xu yu zu"), ["novel.dump", "no 'vx' column"]),
    (lambda p: _bad(p, "nopos.dump", columns="id type vx vy vz"), ["nopos.dump", "no position columns"]),
    (lambda p: (p / "empty.dump").write_text("") and p / "empty.dump" or p / "empty.dump", ["empty.dump", "empty"]),
])
def test_bad_dumps_are_refused_with_the_file_and_frame(tmp_path, make, fragments):
    path = make(tmp_path)
    with pytest.raises(ValueError) as err:
        read_observed(path)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_a_frame_with_another_atom_count_names_its_line(tmp_path):
    path = _bad(tmp_path, "count.dump")
    lines = path.read_text().splitlines()
    second = [i for i, line in enumerate(lines) if line == "ITEM: NUMBER OF ATOMS"][1]
    lines[second + 1] = "3"
    del lines[second + 10]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TrajectoryFileError, match=rf"count.dump:{second + 2}: frame 1 \(timestep 10\) has 3 atoms"):
        read_observed(path)


def _spec(**kw):
    return ImportSpec(**({"units": "metal", "dt": 0.001, "cutoff": 2.5} | kw))


def test_a_changing_stride_and_an_unknown_element_are_refused(tmp_path):
    good = _bad(tmp_path, "good.dump", seed=1)
    jump = _bad(tmp_path, "jump.dump", steps=[0, 10, 20, 40, 50, 60])
    with pytest.raises(DatasetError, match="jump.dump: the frame stride changes at frame 3 \\(timestep 40\\)"):
        import_dataset([jump], [good], tmp_path / "d1", _spec(), log=lambda s: None)
    odd, odd_test = (_bad(tmp_path, name, seed=seed, columns="id type element xu yu zu vx vy vz",
                          extra=lambda a: {"element": "Qq"}) for seed, name in enumerate(("odd.dump", "odd-test.dump")))
    with pytest.raises(DatasetError, match="no mass for species 'Qq'.*not an element.*--masses Qq=M"):
        import_dataset([odd], [odd_test], tmp_path / "d2", _spec(), log=lambda s: None)
    assert not (tmp_path / "d1").exists() and not (tmp_path / "d2").exists()


def test_masses_that_disagree_between_files_are_refused(tmp_path):
    cols = "id type mass xu yu zu vx vy vz"
    a = _bad(tmp_path, "a.dump", columns=cols, extra=lambda i: {"mass": 10.0 if i % 2 == 0 else 20.0})
    b = _bad(tmp_path, "b.dump", seed=1, columns=cols, extra=lambda i: {"mass": 11.0 if i % 2 == 0 else 20.0})
    with pytest.raises(DatasetError, match="the files disagree on the mass of 1"):
        import_dataset([a], [b], tmp_path / "d", _spec(), log=lambda s: None)


def test_a_test_file_never_feeds_training(tmp_path):
    a = _bad(tmp_path, "a.dump")
    with pytest.raises(DatasetError, match="both as training and as test"):
        import_dataset([a], [a], tmp_path / "d", _spec(), log=lambda s: None)
    (tmp_path / "copy.dump").write_text(a.read_text())
    with pytest.raises(DatasetError, match="copy.dump starts from the very configuration of .*a.dump"):
        import_dataset([a], [tmp_path / "copy.dump"], tmp_path / "d", _spec(masses={"1": 1.0, "2": 2.0}),
                       log=lambda s: None)
    assert not (tmp_path / "d").exists() and not (tmp_path / "d.partial").exists()


@pytest.mark.parametrize("edit, fragments", [
    (lambda text: text.replace("pp pp pp", "ff ff ff"), ["boundaries ff ff ff", "periodic"]),
    (lambda text: text.replace("1.0\n", "nan\n", 1) if False else text.replace("ITEM: NUMBER OF ATOMS\n4", "ITEM: NUMBER OF ATOMS\n0", 1),
     ["has 0 atoms"]),
])
def test_hostile_dumps(tmp_path, edit, fragments):
    path = _bad(tmp_path, "h.dump")
    path.write_text(edit(path.read_text()))
    with pytest.raises(TrajectoryFileError) as err:
        read_observed(path)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_a_type_that_changes_along_the_trajectory_is_refused(tmp_path):
    path = _bad(tmp_path, "t.dump", types=[1, 2, 1, 2])
    lines = path.read_text().splitlines()
    last_atoms = max(i for i, line in enumerate(lines) if line.startswith("ITEM: ATOMS"))
    row = lines[last_atoms + 1].split()
    row[1] = "2"
    lines[last_atoms + 1] = " ".join(row)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TrajectoryFileError, match="frame 5 .* gives atom id 1 another type"):
        read_observed(path)


def test_units_and_timestep_are_cross_checked(tmp_path):
    import gzip

    a, b = _bad(tmp_path, "a.dump"), _bad(tmp_path, "b.dump", seed=1)
    text = a.read_text().splitlines()
    timed = []
    for line, nxt in zip(text, text[1:] + [""]):
        timed.append(line)
        if line == "ITEM: TIMESTEP":
            timed[-1:] = ["ITEM: TIME", str(0.005 * int(nxt)), line]  # dt 0.005 in the file
    a.write_text("\n".join(timed) + "\n")
    with pytest.raises(DatasetError, match="a.dump: its frame times give a timestep of 0.005, not --dt 0.001"):
        import_dataset([a], [b], tmp_path / "d", _spec(masses={"1": 1.0, "2": 2.0}), log=lambda s: None)
    (tmp_path / "z.dump.gz").write_bytes(gzip.compress(b.read_bytes()))
    with pytest.raises(TrajectoryFileError, match="gzip-compressed"):
        read_observed(tmp_path / "z.dump.gz")
    with pytest.raises(ValueError, match="--dt must be positive and finite"):
        _spec(dt=float("inf"))


def test_ase_extxyz_with_momenta_is_read_in_the_given_units(tmp_path):
    import ase.io
    from ase import Atoms

    from ogn.units import ase_time_unit

    positions, velocities = _motion()  # A/ps
    frames = []
    for f in range(len(positions)):
        atoms = Atoms("CuZrCuZr", positions=positions[f], cell=BOX, pbc=True)
        atoms.set_velocities(velocities[f] / ase_time_unit("metal"))
        atoms.info["Step"] = 10 * f
        frames.append(atoms)
    ase.io.write(tmp_path / "ase.extxyz", frames, format="extxyz")
    p2, v2 = _motion(seed=1)
    test = _dump(tmp_path / "test.dump", p2, v2, columns="id type element xu yu zu vx vy vz",
                 extra=lambda a: {"element": "Cu" if a % 2 == 0 else "Zr"})
    import_dataset([tmp_path / "ase.extxyz"], [test], tmp_path / "d", _spec(), log=lambda s: None)
    frames = load_frames(tmp_path / "d", "train")
    np.testing.assert_allclose(frames.velocities[0], velocities, atol=1e-6)  # ASE writes momenta to 8 decimals


def test_an_ase_or_ovito_extxyz_start_is_read_like_its_trajectory(tmp_path):
    """`--init` of an extxyz file with ASE momenta and atoms listed out of id order gives the same start as
    the importer: velocities in the system's units, atoms in id order."""
    import ase.io
    from ase import Atoms

    from ogn.io.structures import read_structure
    from ogn.units import ase_time_unit

    positions, velocities = _motion()
    order = np.array([2, 0, 3, 1])  # the file lists atom ids 3, 1, 4, 2
    atoms = Atoms(np.array(["Cu", "Zr", "Cu", "Zr"])[order].tolist(), positions=positions[0][order], cell=BOX,
                  pbc=True)
    atoms.set_velocities(velocities[0][order] / ase_time_unit("metal"))
    atoms.set_array("id", order + 1)
    ase.io.write(tmp_path / "start.extxyz", atoms, format="extxyz")
    s = read_structure(tmp_path / "start.extxyz", ("Cu", "Zr"), units="metal")
    np.testing.assert_allclose(s.positions, positions[0], atol=1e-8)
    np.testing.assert_allclose(s.velocities, velocities[0], atol=1e-6)  # ASE writes momenta to 8 decimals
    np.testing.assert_array_equal(s.species, [0, 1, 0, 1])
    with pytest.raises(DataFileError, match="start.extxyz: ASE momenta have no meaning in lj units"):
        read_structure(tmp_path / "start.extxyz", ("Cu", "Zr"), units="lj")


def test_import_records_the_system_and_k_must_fit_the_stride(tmp_path):
    positions, velocities = _motion(n_frames=8)
    a = _dump(tmp_path / "a.dump", positions, velocities, steps=list(range(100, 180, 10)))
    p2, v2 = _motion(n_frames=8, seed=1)
    write_extxyz(tmp_path / "b.extxyz", zip(p2, v2), np.array([0, 1, 0, 1]), ("Al", "Cu"), BOX,
                 steps=range(0, 80, 10))
    meta = import_dataset([a], [tmp_path / "b.extxyz"], tmp_path / "d",
                          _spec(type_map={1: "Al", 2: "Cu"}, name="alcu"), log=lambda s: None)
    recorded = json.loads((tmp_path / "d" / "dataset.json").read_text())
    assert recorded == json.loads(json.dumps(meta))
    assert meta["system"]["species"] == ["Al", "Cu"] and meta["system"]["potential"] == "None"
    np.testing.assert_allclose(meta["system"]["masses"], [26.9815385, 63.546], rtol=1e-6)  # ASE's standard masses
    assert meta["spec"]["stride"] == 10 and meta["spec"]["k_max"] == 70
    assert meta["train"][0]["source"] == str(a.resolve()) and meta["train"][0]["first_step"] == 100
    frames = load_frames(tmp_path / "d", "train")
    np.testing.assert_allclose(frames.positions[0], positions, atol=1e-12)
    np.testing.assert_allclose(frames.targets(np.array([[0, 0]]), 20)[0, :, :3], positions[2] - positions[0], atol=1e-12)
    with pytest.raises(DatasetError, match="k = 15 MD steps is not a multiple of the dataset's frame stride 10;"
                                           " possible k: 10, 20, 30"):
        frames.pair_starts(15)


# ----------------------------------------------------------------------------------------------------------
# the worked example of the README: LAMMPS -> ogn dataset --from -> ogn train -> ogn rollout -> ASE/OVITO


@pytest.fixture(scope="module")
def copper_dumps(tmp_path_factory):
    """Three training and one test trajectory of liquid copper from examples/copper/in.copper (the LAMMPS
    Python module, EAM Cu_u3.eam, a 6 x 5 x 4 fcc-cell box), 600 NVE steps each, a frame every 10 steps."""
    from ogn.io.lammps_module import import_lammps, lammps_potentials_dir

    lammps = import_lammps()
    os.environ["LAMMPS_POTENTIALS"] = str(lammps_potentials_dir())
    out = tmp_path_factory.mktemp("copper")
    paths = []
    for seed, name in [(1, "train-1"), (2, "train-2"), (3, "train-3"), (4, "test-1")]:
        lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-var", "seed", str(seed), "-var", "out",
                                     str(out / f"{name}.dump"), "-var", "steps", "600"])
        try:
            lmp.file(str(EXAMPLE))
        finally:
            lmp.close()
        paths.append(out / f"{name}.dump")
    return paths


@pytest.mark.slow  # over 15 s on 2 cores: `make test-slow`
def test_worked_example_on_lammps_copper_beats_constant_velocity(copper_dumps, tmp_path):
    import ase.io

    from ogn.cli import main
    from ogn.io.h5md import read_trajectory

    *train, test = copper_dumps
    data, run = tmp_path / "data", tmp_path / "run"
    assert main(["dataset", "--from", *map(str, train), "--test-from", str(test), "--out", str(data),
                 "--units", "metal", "--dt", "0.001", "--cutoff", "4.95"]) == 0
    meta = json.loads((data / "dataset.json").read_text())
    assert meta["system"]["species"] == ["Cu"] and meta["spec"]["stride"] == 10
    np.testing.assert_allclose(meta["system"]["box"], [21.69, 18.075, 14.46])
    assert main(["train", "configs/fast.yaml", "--data", str(data), "--k", "15", "--steps", "10",
                 "--out", str(tmp_path / "bad")]) == 2  # 15 is not a multiple of the stride
    assert main(["train", "configs/fast.yaml", "--data", str(data), "--k", "20", "--steps", "600",
                 "--out", str(run)]) == 0
    report = tmp_path / "evaluation"
    assert main(["evaluate", str(run), "--data", str(data), "--starts", "4", "--horizon", "100",
                 "--long-steps", "400", "--out", str(report)]) == 0
    final = json.loads((report / "metrics.json").read_text())["final_rmse"]
    print({name: r["position"] for name, r in final.items()})
    assert final["ogn"]["position"] < final["constant velocity"]["position"]
    assert final["ogn"]["position"] < final["standing still"]["position"]

    # NVE and NVT rollouts from the test dump itself; extxyz that ASE reads back with the box and the start
    assert main(["rollout", str(run), "--init", str(test), "--frame", "0", "--steps", "200",
                 "--out", str(tmp_path / "nve.h5")]) == 0
    t = read_trajectory(tmp_path / "nve.h5")
    assert t.steps[0] == 4000 and t.steps[-1] == 4200 and len(t.steps) == 11
    assert main(["rollout", str(run), "--init", str(test), "--frame", "0", "--steps", "200", "--thermostat",
                 "csvr", "--temperature", "1600", "--out", str(tmp_path / "nvt.extxyz")]) == 0
    frames = ase.io.read(tmp_path / "nvt.extxyz", index=":")
    assert len(frames) == 11 and frames[0].get_chemical_symbols()[0] == "Cu"
    np.testing.assert_allclose(frames[0].cell.lengths(), [21.69, 18.075, 14.46])
    assert frames[0].info["Step"] == 4000 and frames[0].info["TimeUnit"] == "ps"
    # a run of a system without a potential has no energies to give
    assert main(["rollout", str(run), "--init", str(test), "--steps", "20", "--energies",
                 "--out", str(tmp_path / "e.h5")]) == 2


def test_h5md_of_another_writer_with_a_time_series_box_and_image_flags(tmp_path):
    """The layout LAMMPS's `dump h5md` and MDAnalysis write: species and box as time series, wrapped
    positions with image flags; species are LAMMPS types."""
    import h5py

    positions, velocities = _motion()
    wrapped = np.mod(positions, BOX)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        g = f.create_group("particles/all")
        g["position/value"], g["position/step"] = wrapped, np.arange(0, 60, 10)
        g["image/value"] = np.rint((positions - wrapped) / BOX).astype(int)
        g["velocity/value"] = velocities
        g["species/value"] = np.tile([1, 2, 1, 2], (6, 1))
        g["box/edges/value"] = np.tile(BOX, (6, 1))
    t = read_observed(tmp_path / "other.h5")
    np.testing.assert_allclose(t.positions, positions, atol=1e-12)
    np.testing.assert_array_equal(t.labels, ["1", "2", "1", "2"])
    np.testing.assert_array_equal(t.steps, [0, 10, 20, 30, 40, 50])
    with h5py.File(tmp_path / "other.h5", "r+") as f:
        f["particles/all/box/edges/value"][3] = BOX * 1.1
    with pytest.raises(ValueError, match="other.h5: the box changes with time"):
        read_observed(tmp_path / "other.h5")


def test_outputs_are_written_in_the_format_their_name_says(small_run, lj_dataset, tmp_path):
    from ogn.cli import main

    init = lj_dataset / "test" / "traj-000.h5"
    for name in ("r.dump", "r.data", "r"):
        assert main(["rollout", str(small_run), "--init", str(init), "--steps", "5", "--out", str(tmp_path / name)]) == 2
        assert main(["md", "lj", "--steps", "10", "--out", str(tmp_path / name)]) == 2
        assert not (tmp_path / name).exists()
    assert main(["rollout", str(small_run), "--init", str(init), "--steps", "5", "--out", str(tmp_path / "r.xyz")]) == 0
    assert (tmp_path / "r.xyz").read_text().startswith("265\n")


def test_options_that_would_be_ignored_are_refused(small_run, lj_dataset, tmp_path):
    from ogn.cli import main

    init = lj_dataset / "test" / "traj-000.h5"
    base = ["rollout", str(small_run), "--init", str(init), "--steps", "5"]
    assert main([*base, "--temperature", "2.0", "--out", str(tmp_path / "a.h5")]) == 2  # no --thermostat
    assert main([*base, "--energies", "--out", str(tmp_path / "a.extxyz")]) == 0  # extxyz: energy= per frame
    assert (tmp_path / "a.extxyz").read_text().count(" energy=") == 2
    one, two = tmp_path / "one.extxyz", tmp_path / "two.extxyz"
    pair = (np.array([[0.0, 0, 0], [3, 3, 3]]), np.ones((2, 3)))
    write_extxyz(one, [pair], [0, 0], ("Cu",), BOX)  # no Step=: only --frame-stride could give the stride
    write_extxyz(two, [pair, (pair[0] + 0.1, pair[1])], [0, 0], ("Cu",), BOX)
    with pytest.raises(DatasetError, match="one.extxyz: one frame"):
        import_dataset([one], [two], tmp_path / "d", _spec(frame_stride=1), log=lambda s: None)
