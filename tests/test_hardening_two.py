"""Hostile inputs, round two (issue 21): each case failed before its fix, or pins behaviour an earlier fix
gave without a test. Outputs that are inputs, files that cannot be written, malformed headers, starts
far from the origin, edited run records, wrong timesteps, too many evaluation starts, stop signals."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ogn.cli import main
from ogn.io.h5md import TrajectoryWriter, read_trajectory
from ogn.io.lammps_data import DataFileError, write_lammps_data
from ogn.io.structures import read_extxyz, read_extxyz_frames, read_structure, write_extxyz, write_lammps_dump
from ogn.io.types import Structure

SPECIES = ("A", "B")
BOX = np.array([6.0, 6.5, 7.0])


def _error(argv, capsys) -> str:
    assert main(argv) == 2
    return " ".join(capsys.readouterr().err.split())


def _state(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, BOX, (n, 3)), rng.normal(0, 1.7, (n, 3)), (np.arange(n) % 5 == 0).astype(np.int32)


@pytest.fixture(scope="module")
def start_h5(lj_dataset, tmp_path_factory):
    """The last frame of the small dataset's test trajectory, on its own."""
    path = tmp_path_factory.mktemp("start") / "start.h5"
    shutil.copy(next((lj_dataset / "test").glob("*.h5")), path)
    return path


# ----------------------------------------------------------------------------------------------------------
# data loss


@pytest.mark.parametrize("spelling", ["same", "symlink", "hardlink", "dot"])
def test_an_output_that_is_the_input_is_refused_however_spelled(small_run, start_h5, tmp_path, capsys, monkeypatch,
                                                                 spelling):
    init = tmp_path / "init.h5"
    shutil.copy(start_h5, init)
    out = {"same": init, "symlink": tmp_path / "link.h5", "hardlink": tmp_path / "hard.h5", "dot": Path("./init.h5")}
    if spelling == "symlink":
        out[spelling].symlink_to(init)
    if spelling == "hardlink":
        os.link(init, out[spelling])
    monkeypatch.chdir(tmp_path)
    before = init.read_bytes()
    err = _error(["rollout", str(small_run), "--init", str(init), "--steps", "5", "--out", str(out[spelling])], capsys)
    assert "is the input" in err and init.read_bytes() == before


def test_a_stale_partial_symlink_is_never_written_through(small_run, start_h5, tmp_path):
    victim = tmp_path / "precious.h5"
    victim.write_bytes(b"not to be touched")
    (tmp_path / "out.h5.partial").symlink_to(victim)
    assert main(["rollout", str(small_run), "--init", str(start_h5), "--steps", "5", "--out", str(tmp_path / "out.h5")]) == 0
    assert victim.read_bytes() == b"not to be touched"
    assert len(read_trajectory(tmp_path / "out.h5").steps) == 2


def test_two_writers_of_one_path_each_write_a_whole_file(tmp_path):
    out = tmp_path / "md.h5"
    first = TrajectoryWriter(out, np.zeros(2, int), 5.0, 0.005, {}, "lj")
    second = TrajectoryWriter(out, np.zeros(2, int), 5.0, 0.005, {}, "lj")
    assert first.tmp != second.tmp
    for w, n in ((first, 1), (second, 3)):
        w.append(list(range(n)), np.zeros((n, 2, 3)), np.zeros((n, 2, 3)), [0.0] * n, [0.0] * n)
    first.close()
    assert len(read_trajectory(out).steps) == 1
    second.close()
    assert len(read_trajectory(out).steps) == 3 and not list(tmp_path.glob("*.partial"))


_FULL_WRITE = """
import resource, sys
import numpy as np
resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))
from ogn.io.h5md import TrajectoryWriter
from ogn.io.structures import write_extxyz
kind, out = sys.argv[1], sys.argv[2]
try:
    if kind == "h5":
        with TrajectoryWriter(out, np.zeros(500, int), 5.0, 0.005, {}, "lj") as w:
            for step in range(100):
                w.append([step], np.ones((1, 500, 3)), np.ones((1, 500, 3)), [0.0], [0.0])
    else:
        rng = np.random.default_rng(0)
        write_extxyz(out, [(rng.normal(size=(5000, 3)), rng.normal(size=(5000, 3)))], np.zeros(5000, int), ("A",), 5.0)
except OSError as err:
    print("ERROR", err.strerror)
"""


@pytest.mark.parametrize("kind", ["h5", "extxyz"])
def test_a_file_too_large_is_an_error_naming_it_and_the_earlier_file_stays(tmp_path, kind):
    out = tmp_path / f"out.{kind}"
    out.write_bytes(b"an earlier good result")
    run = subprocess.run([sys.executable, "-c", _FULL_WRITE, kind, str(out)], check=False,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]  # no crash, no segfault
    assert f"ERROR {out}:" in run.stdout and "file-size limit" in run.stdout, run.stdout
    assert "Exception ignored" not in run.stderr and out.read_bytes() == b"an earlier good result"
    assert not list(tmp_path.glob(".*.partial")) and not list(tmp_path.glob(".*.tmp"))
    if kind == "h5":
        assert read_trajectory(tmp_path / "out.failed.h5").status.startswith("failed: OSError")


def test_a_file_too_large_is_said_by_name_on_the_command_line(tmp_path):
    src = tmp_path / "md.h5"
    with TrajectoryWriter(src, np.zeros(2000, int), 20.0, 0.005, {}, "lj") as w:
        w.append([0, 1], np.ones((2, 2000, 3)), np.ones((2, 2000, 3)), [0.0, 0.0], [0.0, 0.0])
    code = "import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000));" \
           " from ogn.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", code, "convert", str(src), str(tmp_path / "big.extxyz")],
                         check=False, capture_output=True, text=True, timeout=120)
    err = " ".join(run.stderr.split())
    assert run.returncode == 2 and f"{tmp_path / 'big.extxyz'}: File too large" in err and "[Errno" not in err


# ----------------------------------------------------------------------------------------------------------
# malformed files


def _xyz(path, header):
    positions, velocities, species = _state(3)
    write_extxyz(path, [(positions, velocities)], species, SPECIES, BOX)
    lines = path.read_text().splitlines()
    lines[1] = header(lines[1])
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(("header", "message"), [
    (lambda h: h.replace('Lattice="6.0 0.0 0.0', 'Lattice="0.0 0.0'), ":2: Lattice has 8 numbers, expected nine"),
    (lambda h: h.replace('Lattice="6.0', 'Lattice="six'), ":2: Lattice=\"six 0.0"),
    (lambda h: h.replace("vel:R:3", "vel:R:2"), "'vel' has 2 components"),
    (lambda h: h.replace("pos:R:3", "pos:R:2"), "'pos' has 2 components"),
    (lambda h: h.replace("vel:R:3", "vel:R:3:extra:R:1"), ":3: 8 columns, but Properties on line 2 declares 9"),
    (lambda h: h.replace("vel:R:3", "vel:R"), "is not NAME:TYPE:WIDTH triples"),
    (lambda h: h.replace('pbc="T T T"', 'pbc="F F F"'), "periodic boxes only"),
])
def test_malformed_extxyz_headers_are_refused_by_file_and_line(tmp_path, header, message):
    path = _xyz(tmp_path / "bad.extxyz", header)
    with pytest.raises(DataFileError) as err:
        read_extxyz(path, SPECIES)
    assert str(err.value).startswith(str(path)) and message in str(err.value), err.value


def test_a_dump_with_a_byte_order_mark_is_read(tmp_path):
    positions, velocities, species = _state()
    plain = tmp_path / "plain.dump"
    write_lammps_dump(plain, [(positions, velocities)], species, BOX, [0])
    marked = tmp_path / "marked.dump"
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    a, b = read_structure(plain, SPECIES, frame=0), read_structure(marked, SPECIES, frame=0)
    assert np.array_equal(a.positions, b.positions) and np.array_equal(a.velocities, b.velocities)


def test_a_truncated_dataset_description_is_refused_by_name(small_run, lj_dataset, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(lj_dataset, data)
    text = (data / "dataset.json").read_text()
    (data / "dataset.json").write_text(text[: len(text) // 2])
    err = _error(["evaluate", str(small_run), "--data", str(data), "--out", str(tmp_path / "e")], capsys)
    assert f"{data / 'dataset.json'}: not valid JSON" in err


def test_an_edited_run_record_is_refused(small_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(info | {"k": 10}))
    err = _error(["rollout", str(run), "--init", "x.h5", "--steps", "10", "--out", str(tmp_path / "r.h5")], capsys)
    assert "run.json says k = 10, but checkpoint.npz was trained with k = 5" in err


# ----------------------------------------------------------------------------------------------------------
# silently wrong


def test_a_start_far_from_the_origin_rolls_out_as_the_same_start_in_the_box(small_run, start_h5, tmp_path):
    t = read_trajectory(start_h5, frames=-1)
    near = Structure(t.positions, t.species.astype(np.int32), t.box, t.velocities)
    far = Structure(t.positions + 100_000 * t.box, near.species, t.box, t.velocities)  # image flags of 1e5
    for name, s in (("near", near), ("far", far)):
        write_lammps_data(tmp_path / f"{name}.data", s, masses=[1.0, 1.0])
        assert main(["rollout", str(small_run), "--init", str(tmp_path / f"{name}.data"), "--steps", "25",
                     "--out", str(tmp_path / f"{name}.extxyz")]) == 0  # extxyz: every digit of the far positions
    a, b = (read_extxyz_frames(tmp_path / f"{name}.extxyz") for name in ("near", "far"))
    assert np.array_equal(b[0].positions, far.positions)  # frame 0 is the start as given, in its images
    for x, y in zip(a, b, strict=True):
        assert np.abs(y.positions - x.positions - 100_000 * t.box).max() < 1e-4
        assert np.abs(x.velocities - y.velocities).max() < 1e-4


def test_every_beyond_the_rollout_is_refused_before_anything_is_written(small_run, start_h5, tmp_path, capsys):
    out = tmp_path / "r.h5"
    err = _error(["rollout", str(small_run), "--init", str(start_h5), "--steps", "10", "--every", "100",
                  "--out", str(out)], capsys)
    assert "--every 100 predictions is more than the 2 of --steps 10" in err
    assert not list(tmp_path.iterdir())


def test_a_timestep_that_is_not_the_trajectorys_is_refused(tmp_path):
    from ogn.data.dataset import DatasetError
    from ogn.data.imported import ImportSpec, import_dataset

    rng = np.random.default_rng(0)
    paths = []
    for name in ("a", "b"):
        v = rng.normal(0, 1.0, (4, 20, 3))
        r = rng.uniform(0, BOX, (20, 3)) + np.cumsum(0.005 * v, axis=0)  # dt 0.005, a frame per step
        paths.append(tmp_path / f"{name}.dump")
        write_lammps_dump(paths[-1], zip(r, v), np.zeros(20, int), BOX, [0, 1, 2, 3])
    spec = {"units": "lj", "cutoff": 1.5, "masses": {"1": 1.0}}
    import_dataset([paths[0]], [paths[1]], tmp_path / "ok", ImportSpec(dt=0.005, **spec), log=lambda s: None)
    for dt in (1e20, 1e-9):
        with pytest.raises(DatasetError, match="--dt or --units is not the trajectory's"):
            import_dataset([paths[0]], [paths[1]], tmp_path / "bad", ImportSpec(dt=dt, **spec), log=lambda s: None)


def test_more_starts_than_independent_windows_are_cut_to_those_windows(lj_dataset):
    from ogn.data.dataset import load_frames
    from ogn.evaluate.report import independent_starts

    frames = load_frames(lj_dataset, "test")  # one trajectory of 151 frames, a frame per MD step
    starts = independent_starts(frames, 10, 1000)
    assert len(starts) == 15 and np.all(np.diff(starts[:, 1]) == 10) and starts[-1, 1] + 10 <= frames.n_frames - 1
    assert np.array_equal(independent_starts(frames, 10, 5), frames.spread_starts(10, 5))  # as before


# ----------------------------------------------------------------------------------------------------------
# stop signals: every long command stops as Ctrl-C stops it, from a terminal or a batch scheduler


def _stopped_md(tmp_path, signum, ignore_sigint=False):
    out = tmp_path / "md.h5"
    out.write_bytes(b"an earlier good result")
    env = os.environ | {"OGN_CACHE_DIR": "off", "PYTHONUNBUFFERED": "1"}
    # a script's `cmd &` starts it with SIGINT ignored, which an exec'd child inherits
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN if ignore_sigint else signal.default_int_handler)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "ogn.cli", "md", "lj", "--steps", "1000000",
                                 "--every", "100", "--out", str(out)], stderr=subprocess.PIPE, text=True, env=env)
    finally:
        signal.signal(signal.SIGINT, handler)
    seen = []
    while proc.poll() is None and "equilibrated" not in (seen[-1] if seen else ""):
        seen.append(proc.stderr.readline())
    time.sleep(2)
    proc.send_signal(signum)
    rest = proc.communicate(timeout=120)[1]
    return proc.returncode, " ".join("".join([*seen, rest]).split()), out


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143),
                                              pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow)])
def test_md_stops_on_a_signal_and_keeps_what_it_wrote(tmp_path, signum, code):
    returncode, err, out = _stopped_md(tmp_path, signum, ignore_sigint=signum == signal.SIGINT)
    assert returncode == code and f"stopped by {signal.Signals(signum).name}" in err, err
    assert out.read_bytes() == b"an earlier good result"
    kept = read_trajectory(tmp_path / "md.failed.h5")
    assert kept.status == f"failed: KeyboardInterrupt: {signal.Signals(signum).name}"


# ----------------------------------------------------------------------------------------------------------
# cases an earlier round fixed without a test of their own


def test_a_negative_mass_in_a_dump_is_refused(tmp_path):
    positions, velocities, species = _state(6)
    dump = tmp_path / "m.dump"
    write_lammps_dump(dump, [(positions, velocities), (positions + 0.001, velocities)], species, BOX, [0, 1])
    lines = dump.read_text().splitlines()
    lines = [line.replace("id type", "id type mass") if line.startswith("ITEM: ATOMS") else line for line in lines]
    rows = [i for i, line in enumerate(lines) if len(line.split()) == 8]
    for i in rows:
        cells = lines[i].split()
        lines[i] = " ".join([*cells[:2], "-1.0" if cells[0] == "3" else "1.0", *cells[2:]])
    dump.write_text("\n".join(lines) + "\n")
    from ogn.io.lammps_dump import read_lammps_dump

    with pytest.raises(DataFileError, match="m.dump: atom id 3 has mass -1; masses must be positive"):
        read_lammps_dump(dump)


def test_a_dump_frame_one_row_short_is_blamed_on_that_frame(tmp_path):
    positions, velocities, species = _state(6)
    dump = tmp_path / "short.dump"
    write_lammps_dump(dump, [(positions, velocities), (positions, velocities)], species, BOX, [0, 1])
    lines = dump.read_text().splitlines()
    second = [i for i, line in enumerate(lines) if line == "ITEM: TIMESTEP"][1]
    dump.write_text("\n".join(lines[: second - 1] + lines[second:]) + "\n")
    with pytest.raises(DataFileError, match=r"frame 0 \(timestep 0, ATOMS at line 9\) has 5 of its 6 atom rows"):
        read_structure(dump, SPECIES, frame=0)


@pytest.mark.parametrize(("options", "message"), [
    (["--frame", "0"], "a LAMMPS data file holds one configuration"),
    (["--thermostat", "csvr", "--temperature", "300"], "is more than 10x the"),
    (["--thermostat", "csvr", "--temperature", "inf"], "--temperature must be positive and finite, got inf"),
])
def test_rollout_options_that_cannot_apply_are_refused(small_run, start_h5, tmp_path, capsys, options, message):
    t = read_trajectory(start_h5, frames=-1)
    write_lammps_data(tmp_path / "s.data", Structure(t.positions, t.species.astype(np.int32), t.box, t.velocities),
                      masses=[1.0, 1.0])
    err = _error(["rollout", str(small_run), "--init", str(tmp_path / "s.data"), "--steps", "5", *options,
                  "--out", str(tmp_path / "r.h5")], capsys)
    assert message in err and not (tmp_path / "r.h5").exists()


def test_convert_takes_a_negative_frame_selection_as_its_message_suggests(lj_dataset, tmp_path):
    source = next((lj_dataset / "test").glob("*.h5"))
    assert main(["convert", str(source), str(tmp_path / "last.extxyz"), "--frames", "-10:"]) == 0
    frames = read_extxyz_frames(tmp_path / "last.extxyz")
    assert len(frames) == 10 and frames[-1].step == int(read_trajectory(source, frames=-1).steps)


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("learning_rate", float("inf"), "train.learning_rate must be positive and finite, got inf"),
    ("lr_decay_rate", -0.1, "train.lr_decay_rate is the factor per lr_decay_steps, in (0, 1], got -0.1"),
    ("lr_decay_steps", 0, "train.lr_decay_steps must be >= 1"),
])
def test_training_settings_are_checked_when_the_config_is_loaded(lj_dataset, tmp_path, capsys, setting, value, message):
    import yaml

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"data": str(lj_dataset), "model": {"layers": 1},
                                      "train": {"k": 5, "steps": 10, setting: value}}))
    err = _error(["train", str(config), "--out", str(tmp_path / "run")], capsys)
    assert f"{config}: {message}" in err and not (tmp_path / "run").exists()
