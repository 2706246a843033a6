"""One-prediction error of trained runs on a dataset's independent test pairs: RMSE of r and v after one
prediction (k MD steps), momentum-conserving as in a rollout, relative to the RMSE of the true change.
A sharper comparison of learners than the 100-step RMSE, which chaos saturates.

    python studies/one_step_error.py data/lj runs/lj-k5-total runs/lj-k5-residual ...
"""

import sys

import jax.numpy as jnp
import numpy as np

from ogn.data.dataset import load_frames
from ogn.model.checkpoint import load_run
from ogn.model.graph import dense_graph


def one_step_errors(data: str, run: str, n_pairs: int = 100) -> tuple[float, float]:
    """(position, velocity) RMSE of one prediction over the RMSE of the true change, on `n_pairs` test pairs."""
    frames = load_frames(data, "test")
    model, info, _ = load_run(run)
    k = int(info["k"])
    masses = jnp.asarray(np.asarray(info["system"]["masses"])[frames.species], jnp.float32)
    errors, changes = [], []
    for t, f in frames.spread_starts(k, n_pairs):
        r = jnp.asarray(np.mod(frames.positions[t, f], frames.box), jnp.float32)
        v = jnp.asarray(frames.velocities[t, f], jnp.float32)
        graph = dense_graph(r, frames.box, float(info["cutoff"]), len(r) * (len(r) - 1))
        dr, dv = model(v, jnp.asarray(frames.species), graph, masses, k * float(info["dt"]))
        true = frames.targets(np.asarray([[t, f]]), k)[0]
        errors.append(np.c_[np.asarray(dr) - true[:, :3], np.asarray(dv) - true[:, 3:]])
        changes.append(true)
    e, c = np.asarray(errors), np.asarray(changes)
    position, velocity = (float(np.sqrt(np.mean(e[..., s] ** 2) / np.mean(c[..., s] ** 2)))
                          for s in (slice(0, 3), slice(3, 6)))
    return position, velocity


def main(data: str, runs: list[str]) -> None:
    print("| run | position error / true change | velocity error / true change |")
    print("|---|---|---|")
    for run in runs:
        position, velocity = one_step_errors(data, run)
        print(f"| {run} | {position:.4f} | {velocity:.4f} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
