"""Data-parallel training (`train.devices`): on two forced host devices, the same batch gives the
one-device step's weights and normaliser statistics, and a run resumes across device counts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

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
