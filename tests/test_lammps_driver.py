"""`ogn lammps`: the learned map as LAMMPS's integrator, on one MPI rank and on two, against `ogn rollout`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ogn.io.lammps_data import write_lammps_data
from ogn.io.lammps_dump import read_lammps_dump
from ogn.simulator.lammps_input import LammpsInputError, check_timesteps, read_input

BIN = Path(sys.executable).parent
PREDICTIONS = 10

INPUT = """\
# an LJ liquid under the learned integrator
units lj
atom_style atomic
boundary p p p
{processors}
read_data start.data
thermo_style custom step temp ke press
thermo 5
dump d all custom 1 dump.lammpstrj id type xu yu zu vx vy vz
dump_modify d format float %.17g sort id
run {predictions}
"""


def write_input(directory: Path, text: str = INPUT, processors: str = "", **fields) -> Path:
    path = directory / "in.lj"
    path.write_text(text.format(processors=processors, predictions=PREDICTIONS, **fields))
    return path


@pytest.fixture(scope="module")
def start(lammps_snapshot, tmp_path_factory):
    from ogn.systems import get_system

    directory = tmp_path_factory.mktemp("lammps-driver")
    structure = lammps_snapshot("lj")
    write_lammps_data(directory / "start.data", structure, get_system("lj").masses)
    return directory, structure


@pytest.fixture(scope="module")
def reference(start):
    """`ogn rollout`'s states after each of the predictions, from the same start."""
    from ogn.model.checkpoint import load_run
    from ogn.simulator import rollout

    _, s = start
    model, info, _ = load_run("lj-fast-k5")
    return rollout(model, info, s.positions, s.velocities, s.species, s.box, PREDICTIONS * int(info["k"]))


def run_ogn_lammps(directory: Path, ranks: int, *options: str) -> subprocess.CompletedProcess:
    command = [str(BIN / "ogn"), "lammps", "lj-fast-k5", "--in", "in.lj", "--quiet", *options]
    if ranks > 1:
        command = [str(BIN / "mpirun"), "-np", str(ranks)] + command
    return subprocess.run(command, check=False, cwd=directory, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})


@pytest.mark.parametrize("ranks", [1, 2])
def test_ogn_lammps_follows_ogn_rollout_on_one_and_two_ranks(start, reference, tmp_path, ranks):
    directory, s = start
    (tmp_path / "start.data").symlink_to(directory / "start.data")
    write_input(tmp_path, processors=f"processors {ranks} 1 1")
    done = run_ogn_lammps(tmp_path, ranks)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{PREDICTIONS} predictions = {5 * PREDICTIONS} MD steps" in done.stderr + done.stdout
    log = (tmp_path / "log.lammps").read_text()
    assert re.search(r"Step +Temp +KinEng +Press", log) and re.search(rf"\n +{PREDICTIONS} +[0-9.]+ ", log)
    dumped = read_lammps_dump(tmp_path / "dump.lammpstrj")
    assert list(dumped.steps) == list(range(PREDICTIONS + 1))  # one LAMMPS step is one prediction
    np.testing.assert_allclose(dumped.positions[0], s.positions, atol=1e-12)
    # float32 arithmetic on both sides, in different orders: the differences stay at its rounding
    np.testing.assert_allclose(dumped.positions[1:], reference.positions, atol=5e-5)
    np.testing.assert_allclose(dumped.velocities[1:], reference.velocities, atol=2e-3)
    momentum = dumped.velocities.sum(axis=1)  # equal masses
    np.testing.assert_allclose(momentum, np.broadcast_to(momentum[0], momentum.shape), atol=1e-11)
    if ranks > 1:  # the ranks split x at 0 and L/2: atoms must have crossed between them
        half = np.mod(dumped.positions[..., 0], s.box[0]) < s.box[0] / 2
        assert np.any(half[0] != half[-1])


def test_an_ogn_lammps_dump_is_training_data_for_ogn_dataset(start, tmp_path):
    directory, _ = start
    (tmp_path / "start.data").symlink_to(directory / "start.data")
    write_input(tmp_path, INPUT.replace("thermo 5", "velocity all create 3.0 ${{seed}} dist gaussian\n"
                                           "displace_atoms all random 0.02 0.02 0.02 ${{seed}} units box\nthermo 5"))
    for seed, name in ((1, "a.lammpstrj"), (2, "b.lammpstrj")):  # two independent trajectories, by --var
        done = run_ogn_lammps(tmp_path, 1, "--var", "seed", str(seed))
        assert done.returncode == 0, done.stdout + done.stderr
        (tmp_path / "dump.lammpstrj").rename(tmp_path / name)
    done = subprocess.run([str(BIN / "ogn"), "dataset", "--from", "a.lammpstrj", "--test-from", "b.lammpstrj",
                           "--units", "lj", "--dt", "0.025", "--cutoff", "2.0", "--type-map", "1=A,2=B",
                           "--masses", "A=1.0,B=1.0", "--out", "imported"],
                          check=False, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "imported" / "dataset.json").is_file()


@pytest.mark.parametrize("line, says", [
    ("fix 1 all nve", "fix nve integrates or moves atoms"),
    ("fix 1 all rigid/nve molecule", "fix rigid/nve integrates"),
    ("fix 1 all langevin 1.0 1.0 0.1 48279", "use `fix temp/csvr`"),
    ("neighbor 0.3 bin", "ogn sets `neighbor`"),
    ("minimize 1e-4 1e-6 100 1000", "needs forces"),
    ("run_style respa 2 2", "run_style must be verlet"),
    ("fix 2 all deform 1 x scale 1.1", "the box must stay fixed"),
])
def test_an_input_that_cannot_run_under_the_learned_integrator_is_refused_naming_the_line(tmp_path, line, says):
    text = INPUT.replace("thermo 5\n", "thermo 5\n" + line + " & \n  # a continuation\n\n")
    path = write_input(tmp_path, text)
    with pytest.raises(LammpsInputError, match=f"in.lj:9: `{line}.*{says}".replace("(", r"\(").replace(")", r"\)")):
        read_input(path)


def test_the_input_is_split_at_the_box_and_its_timestep_must_be_k_dt(tmp_path):
    text = INPUT.replace("thermo 5\n", "timestep 0.025\nthermo 5\n# run 3 in a comment\n")
    parsed = read_input(write_input(tmp_path, text))
    assert parsed.before[-1].words[0] == "read_data" and parsed.rest[0].words == ["run", str(PREDICTIONS)]
    check_timesteps(parsed, 5 * 0.005)
    # what LAMMPS inputs commonly hold and ogn leaves alone
    kept = read_input(write_input(tmp_path, INPUT.replace("read_data", "atom_modify map array sort 0 0.0\n"
                                                                       "comm_style tiled\nread_data")))
    assert [c.words[0] for c in kept.before][-3:] == ["atom_modify", "comm_style", "read_data"]
    with pytest.raises(LammpsInputError, match=r"in.lj:8: `timestep 0.025`: one LAMMPS step is one prediction"):
        check_timesteps(parsed, 10 * 0.005)
    with pytest.raises(LammpsInputError, match="no box"):
        read_input(write_input(tmp_path, "units lj\nrun 10\n"))
    with pytest.raises(LammpsInputError, match="no `run`"):
        read_input(write_input(tmp_path, "units lj\nread_data start.data\n"))


def test_atoms_unlike_the_models_are_refused_before_the_run(start, tmp_path, monkeypatch):
    from ogn.simulator.lammps import run_lammps
    from ogn.systems import get_system

    _, s = start
    monkeypatch.chdir(tmp_path)
    write_lammps_data(tmp_path / "start.data", s, (1.0, 1.0, 1.0))  # three types
    write_input(tmp_path)
    with pytest.raises(LammpsInputError, match="3 atom type.*knows 2 species, as types 1-2: A, B"):
        run_lammps("lj-fast-k5", "in.lj", screen=False)
    write_lammps_data(tmp_path / "start.data", s, (1.0, 2.0))
    with pytest.raises(LammpsInputError, match=r"type masses \[1.0, 2.0\].*have masses \[1.0, 1.0\]"):
        run_lammps("lj-fast-k5", "in.lj", screen=False)
    small = type(s)(s.positions[:20] % 3.5, s.species[:20], np.full(3, 3.5), s.velocities[:20])
    write_lammps_data(tmp_path / "start.data", small, get_system("lj").masses)
    with pytest.raises(ValueError, match="smaller than twice the model's graph cutoff"):
        run_lammps("lj-fast-k5", "in.lj", screen=False)
    write_input(tmp_path, INPUT.replace("units lj", "units metal"))
    with pytest.raises(LammpsInputError, match="`units metal`, but lj-fast-k5 was trained in lj units"):
        run_lammps("lj-fast-k5", "in.lj", screen=False)


def test_energies_adds_the_systems_potential_for_thermos_pe(start, tmp_path, monkeypatch):
    from ogn.md.lammps import reference_energy_forces
    from ogn.simulator.lammps import run_lammps
    from ogn.systems import get_system

    _, s = start
    system = get_system("lj")
    monkeypatch.chdir(tmp_path)
    write_lammps_data(tmp_path / "start.data", s, system.masses, charges=system.charges)  # its pair style needs q
    text = INPUT.replace("atom_style atomic", "atom_style charge").replace("thermo_style custom step temp ke press",
                                                                         "thermo_style custom step pe")
    write_input(tmp_path, text.replace("run {predictions}", "run 0"))
    run_lammps("lj-fast-k5", "in.lj", energies=True, screen=False)
    pe = float(re.search(r"Step +PotEng *\n +0 +(\S+)", (tmp_path / "log.lammps").read_text()).group(1))
    # thermo's default in lj units: per atom
    np.testing.assert_allclose(pe, reference_energy_forces(system, s)[0] / s.n_atoms, rtol=1e-7)


def test_a_stop_signal_ends_the_run_after_the_prediction_in_progress(start, tmp_path, monkeypatch):
    """SIGTERM or Ctrl-C (`ogn lammps` passes its STOP flag) ends LAMMPS at the end of that step on every
    rank (fix halt on an allreduced flag) and is a KeyboardInterrupt: no traceback, no MPI_Abort."""
    from ogn.simulator.lammps import run_lammps

    _, s = start
    monkeypatch.chdir(tmp_path)
    write_lammps_data(tmp_path / "start.data", s, (1.0, 1.0))
    write_input(tmp_path, INPUT.replace("run {predictions}", "run 50"))
    asked = []
    with pytest.raises(KeyboardInterrupt, match="after 3 predictions"):
        run_lammps("lj-fast-k5", "in.lj", screen=False, stop_requested=lambda: asked.append(1) or len(asked) >= 3)
    assert "Fix halt condition for fix-id ogn_halt met on step 3" in (tmp_path / "log.lammps").read_text()
