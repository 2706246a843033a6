"""Shared fixtures. A test runs in JAX's default precision (float32, as `ogn train` and `ogn rollout` do)
unless it says otherwise: `@pytest.mark.float64` (or a module's `pytestmark`) runs it with JAX's 64-bit
mode on, for physics checked to float64 rounding."""

import os

import jax

os.environ.setdefault("OGN_CACHE_DIR", "off")  # the CLI's persistent compilation cache stays out of the tests

import functools

import numpy as np
import pytest

from ogn.data.dataset import DatasetSpec
from ogn.io.types import Structure


@functools.cache
def _lammps_snapshot(preset: str, n_atoms: int | None, seed: int) -> Structure:
    """An equilibrated liquid snapshot (with velocities) of a preset at its temperature, made by LAMMPS."""
    import tempfile
    from pathlib import Path

    from ogn.io.h5md import read_trajectory
    from ogn.md.config import MDConfig
    from ogn.md.lammps import run_md_lammps
    from ogn.systems import get_system

    system = get_system(preset, n_atoms=n_atoms)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "snap.h5"
        run_md_lammps(system, MDConfig(steps=200, every=200, seed=seed, engine="lammps"), out, log=lambda s: None)
        t = read_trajectory(out, frames=slice(-1, None))
    return Structure(t.positions[0], t.species, t.box, t.velocities[0])


@pytest.fixture(scope="session")
def lammps_snapshot():
    """lammps_snapshot(preset, n_atoms=None, seed=1) -> Structure (cached per session)."""

    def get(preset, n_atoms=None, seed=1):
        s = _lammps_snapshot(preset, n_atoms, seed)
        return Structure(s.positions.copy(), s.species.copy(), s.box, s.velocities.copy())

    return get


def relative_errors(energy, forces, ref_energy, ref_forces):
    """|dE| / |E| and max |dF| / max |F|."""
    forces, ref_forces = np.asarray(forces), np.asarray(ref_forces)
    return abs(float(energy) - ref_energy) / abs(ref_energy), np.abs(forces - ref_forces).max() / np.abs(ref_forces).max()


@pytest.fixture(scope="module", autouse=True)
def _module_precision(request):
    """64-bit JAX for the module-scoped fixtures of a module marked float64 (`pytestmark`) too."""
    marks = getattr(request.module, "pytestmark", [])
    if any(m.name == "float64" for m in (marks if isinstance(marks, list) else [marks])):
        with jax.enable_x64(True):
            yield
    else:
        yield


@pytest.fixture(autouse=True)
def _precision(request):
    """64-bit JAX for tests marked float64; every test leaves the process's default as it found it
    (commands run in-process, `main(["md", ...])`, turn 64-bit mode on as a user's run would)."""
    before = jax.config.jax_enable_x64
    if request.node.get_closest_marker("float64"):
        with jax.enable_x64(True):
            yield
    else:
        yield
    jax.config.update("jax_enable_x64", before)


LJ_DATASET_SPEC = DatasetSpec(trajectories=2, test_trajectories=1, steps=150, k_max=5, test_pairs=10,
                              precision="float64")


@pytest.fixture(scope="session")
def lj_dataset(tmp_path_factory):
    """A small LJ dataset: 2 training and 1 test trajectories of 155 frames, k <= 5."""
    from ogn.data.dataset import make_dataset
    from ogn.systems import get_system

    out = tmp_path_factory.mktemp("lj-data")
    with jax.enable_x64(True):  # its MD in float64 (LJ_DATASET_SPEC)
        make_dataset(get_system("lj"), LJ_DATASET_SPEC, out, log=lambda s: None)
    return out


def small_config(data, **train):
    """A 1-layer, 16-wide model at k = 5 that trains 40 steps in seconds."""
    from ogn.model.config import ModelConfig
    from ogn.train import RunConfig, TrainConfig

    defaults = {"k": 5, "steps": 40, "steps_per_call": 10, "test_every": 20, "checkpoint_every": 20, "test_pairs": 5}
    return RunConfig(data=str(data), model=ModelConfig(layers=1, latent=16, hidden=16),
                     train=TrainConfig(**(defaults | train)))


@pytest.fixture(scope="session")
def small_run(lj_dataset, tmp_path_factory):
    """A run directory trained 40 steps by small_config."""
    from ogn.train import train_and_evaluate

    out = tmp_path_factory.mktemp("runs") / "small"
    train_and_evaluate(small_config(lj_dataset), out, log=lambda s: None)
    return out
