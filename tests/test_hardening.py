"""Defects found by feeding every command hostile input (issue 12): each case failed before its fix.
Input-file parsing cases live in test_bad_input.py; these are about runs, datasets, models and outputs."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ogn.cli import main
from ogn.io.h5md import TrajectoryWriter, read_trajectory
from ogn.systems import get_system

ROOT = Path(__file__).resolve().parents[1]


def _error(argv, capsys) -> str:
    assert main(argv) == 2
    return " ".join(capsys.readouterr().err.split())


def test_interrupted_writer_never_replaces_the_earlier_file(tmp_path):
    out = tmp_path / "md.h5"
    out.write_bytes(b"an earlier good result")
    with pytest.raises(KeyboardInterrupt), TrajectoryWriter(out, np.zeros(2, int), 5.0, 0.005, {}, "lj") as w:
        w.append([1], np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), [0.0], [0.0])
        raise KeyboardInterrupt
    assert out.read_bytes() == b"an earlier good result"
    partial = read_trajectory(tmp_path / "md.failed.h5")
    assert partial.status == "failed: KeyboardInterrupt" and len(partial.steps) == 1


def _trajectory_of(system, path):
    rng = np.random.default_rng(0)
    n = system.n_atoms
    meta = {"system": system.describe()}
    with TrajectoryWriter(path, system.species(), system.sides, system.dt, meta, system.units.name) as w:
        w.append([0], rng.uniform(0, system.sides, (1, n, 3)), rng.normal(size=(1, n, 3)), [0.0], [0.0])
    return path


def test_rollout_refuses_a_start_of_another_system(small_run, tmp_path, capsys):
    init = _trajectory_of(get_system("silica"), tmp_path / "silica.h5")
    err = _error(["rollout", str(small_run), "--init", str(init), "--steps", "5", "--out", str(tmp_path / "r.h5")],
                 capsys)
    assert "silica.h5 is in metal units, but lj is in lj units" in err
    assert not (tmp_path / "r.h5").exists()


def test_evaluate_refuses_a_dataset_of_another_system(small_run, lj_dataset, tmp_path, capsys):
    data = tmp_path / "silicon-data"
    shutil.copytree(lj_dataset, data)
    meta = json.loads((data / "dataset.json").read_text())
    meta["system"] = get_system("silicon").describe()
    (data / "dataset.json").write_text(json.dumps(meta))
    err = _error(["evaluate", str(small_run), "--data", str(data), "--out", str(tmp_path / "e")], capsys)
    assert "has units 'metal'" in err and not (tmp_path / "e").exists()


def test_evaluate_refuses_zero_starts(small_run, lj_dataset, tmp_path, capsys):
    err = _error(["evaluate", str(small_run), "--data", str(lj_dataset), "--starts", "0", "--out", str(tmp_path / "e")],
                 capsys)
    assert "must be >= 1" in err


def test_evaluate_writes_a_new_directory_by_default(tmp_path, monkeypatch):
    from ogn.cli.evaluate import default_evaluation_dir

    monkeypatch.chdir(tmp_path)
    assert default_evaluation_dir(str(ROOT / "models/lj-fast-k5")) == Path("evaluation-lj-fast-k5")
    Path("evaluation-lj-fast-k5").mkdir()
    assert default_evaluation_dir(str(ROOT / "models/lj-fast-k5")) == Path("evaluation-lj-fast-k5-2")


def test_config_that_is_not_a_mapping_is_refused(tmp_path, lj_dataset, capsys):
    config = tmp_path / "list.yaml"
    config.write_text("- data\n- model\n")
    err = _error(["train", str(config), "--data", str(lj_dataset), "--out", str(tmp_path / "run")], capsys)
    assert "list.yaml: expected a mapping" in err and not (tmp_path / "run").exists()


def test_failed_validation_leaves_no_run_directory(lj_dataset, tmp_path):
    from conftest import small_config

    from ogn.train import train_and_evaluate

    with pytest.raises(ValueError, match="exceeds the dataset's k_max"):
        train_and_evaluate(small_config(lj_dataset, k=50), tmp_path / "run", log=lambda s: None)
    assert not (tmp_path / "run").exists()


def test_resume_on_another_dataset_is_refused(small_run, lj_dataset, tmp_path):
    from conftest import small_config

    from ogn.train import train_and_evaluate

    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    other = tmp_path / "other-data"
    shutil.copytree(lj_dataset, other)
    with pytest.raises(ValueError, match="resume it on its own dataset"):
        train_and_evaluate(small_config(other, steps=60), run, resume=True, log=lambda s: None)


def test_interrupted_dataset_is_not_resumed_with_other_settings(lj_dataset):
    from conftest import LJ_DATASET_SPEC

    from ogn.data.dataset import _complete
    from ogn.md.config import MDConfig

    path = lj_dataset / "train" / "traj-000.h5"
    frames = LJ_DATASET_SPEC.steps + LJ_DATASET_SPEC.k_max
    config = MDConfig(steps=frames, every=1, seed=LJ_DATASET_SPEC.seed, engine="jax", glass=False)
    config = MDConfig(steps=frames, every=1, seed=LJ_DATASET_SPEC.seed, engine="jax", glass=False,
                      precision=LJ_DATASET_SPEC.precision)
    assert _complete(path, get_system("lj"), config, frames)
    assert not _complete(path, get_system("lj", temperature=1.0), config, frames)
    assert not _complete(path, get_system("lj"), MDConfig(steps=frames, every=1, seed=0, glass=True), frames)


@pytest.mark.parametrize(("frames", "message"), [("abc", "expected START:STOP"), ("3:1", "selects none of the frames")])
def test_convert_refuses_bad_frame_selections(lj_dataset, tmp_path, capsys, frames, message):
    out = tmp_path / "x.extxyz"
    err = _error(["convert", str(lj_dataset / "test/traj-000.h5"), str(out), "--frames", frames], capsys)
    assert message in err and not out.exists()


def test_convert_warns_about_a_failed_trajectory(tmp_path, capsys):
    path = tmp_path / "t.h5"
    with pytest.raises(RuntimeError), TrajectoryWriter(path, np.zeros(2, int), 5.0, 0.005, {}, "lj") as w:
        w.append([1], np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), [0.0], [0.0])
        raise RuntimeError("blew up")
    assert main(["convert", str(tmp_path / "t.failed.h5"), str(tmp_path / "t.extxyz")]) == 0
    assert "did not complete" in " ".join(capsys.readouterr().err.split())


def test_energy_prints_plain_numbers(tmp_path, capsys):
    from ogn.io.lammps_data import write_lammps_data
    from ogn.io.types import Structure

    system = get_system("lj")
    rng = np.random.default_rng(0)
    side = np.arange(7) * system.box[0] / 7
    grid = np.stack(np.meshgrid(side, side, side, indexing="ij"), -1).reshape(-1, 3)[: system.n_atoms]
    path = tmp_path / "lj.data"
    write_lammps_data(path, Structure(grid + rng.normal(0, 0.01, grid.shape), system.species(), system.sides),
                      system.masses)
    assert main(["energy", "lj", str(path)]) == 0
    out = capsys.readouterr().out
    assert "np.float" not in out and out.splitlines()[2].split()[0] == "1"


def test_bench_writes_to_the_working_directory_by_default():
    from ogn.cli import build_parser

    for what in ("md", "train", "rollout"):
        assert build_parser().parse_args(["bench", what]).out == "bench.md"


def test_rollout_refuses_a_data_file_of_another_system(small_run, lj_dataset, tmp_path, capsys):
    from ogn.io.lammps_data import write_lammps_data
    from ogn.io.types import Structure

    t = read_trajectory(lj_dataset / "test" / "traj-000.h5", frames=slice(0, 1))
    init = tmp_path / "silica-masses.data"
    write_lammps_data(init, Structure(t.positions[0], t.species, t.box, t.velocities[0]), (28.0855, 15.9994))
    err = _error(["rollout", str(small_run), "--init", str(init), "--steps", "5", "--out", str(tmp_path / "r.h5")],
                 capsys)
    assert "silica-masses.data: its Masses [28.0855, 15.9994] are not lj's [1.0, 1.0]" in err


def test_shipped_models_and_configs_are_found_outside_a_checkout(tmp_path, monkeypatch, capsys):
    """Configs and models are package data: a shipped model is found by name from any directory."""
    from ogn.model.checkpoint import load_run, resolve_run
    from ogn.reproduce import CONFIGS

    monkeypatch.chdir(tmp_path)
    assert resolve_run("lj-fast-k5").is_relative_to(ROOT / "src" / "ogn" / "pretrained")
    _, info, _ = load_run("cuzr-fast-k20")
    assert info["system"]["name"] == "cuzr"
    assert (CONFIGS / "lj-fast-cpu.yaml").is_file() and CONFIGS.is_relative_to(ROOT / "src" / "ogn")
    with pytest.raises(FileNotFoundError, match="no such run directory; shipped models: cuzr-fast-k20"):
        load_run("no-such-model")


def test_every_option_says_its_default():
    import argparse

    from ogn.cli import build_parser

    def parsers(p):
        yield p
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from parsers(sub)

    missing = []
    for p in parsers(build_parser()):
        for a in p._actions:
            if a.option_strings and a.default not in (None, False, argparse.SUPPRESS) and "default" not in (a.help or ""):
                missing.append(f"{p.prog} {a.option_strings[-1]}")
    assert not missing, missing


def test_compilation_cache_location(monkeypatch, tmp_path):
    from ogn.simulator.cache import compilation_cache_dir

    monkeypatch.setenv("OGN_CACHE_DIR", str(tmp_path / "c"))
    assert compilation_cache_dir() == tmp_path / "c"
    monkeypatch.setenv("OGN_CACHE_DIR", "off")
    assert compilation_cache_dir() is None
    monkeypatch.delenv("OGN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compilation_cache_dir() == tmp_path / "xdg" / "ogn" / "jax"


def test_energy_of_two_atoms_on_one_site_is_an_error(tmp_path, capsys):
    from ogn.io.lammps_data import write_lammps_data
    from ogn.io.types import Structure

    system = get_system("lj")
    side = np.arange(7) * system.box[0] / 7
    grid = np.stack(np.meshgrid(side, side, side, indexing="ij"), -1).reshape(-1, 3)[: system.n_atoms].copy()
    grid[10] = grid[3]
    path = tmp_path / "overlap.data"
    write_lammps_data(path, Structure(grid, system.species(), system.sides), system.masses)
    err = _error(["energy", "lj", str(path)], capsys)
    assert "overlap.data: the energy is not finite; atoms 4 and 11 (in id order) are 0 sigma apart" in err


def test_dataset_records_its_precision(lj_dataset):
    from ogn.data.dataset import read_metadata

    assert read_metadata(lj_dataset)["precision"] == "float64"  # LJ_DATASET_SPEC asks for float64 MD
