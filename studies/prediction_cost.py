"""Cost of one prediction of trained LJ runs on the same atoms (issue 19's cost column): the 265-atom
example start replicated to C^3 copies, rolled out by `ogn rollout`'s simulator; after one warm-up
prediction that compiles, `--predictions` predictions are timed, `--repeats` times, the runs alternating.

    .venv/bin/python studies/prediction_cost.py --copies 3 runs/lj-k5-ogn-regime runs/lj-k5-pair
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import numpy as np

from ogn.io.lammps_data import read_lammps_data
from ogn.simulator import LearnedSimulator

START = Path(__file__).resolve().parents[1] / "examples" / "lj-lammps" / "start.data"


def replicated(copies: int):
    s = read_lammps_data(START)
    shifts = np.stack(np.meshgrid(*[np.arange(copies)] * 3, indexing="ij"), -1).reshape(-1, 3) * s.box
    positions = (s.positions[None] + shifts[:, None]).reshape(-1, 3)
    n = len(shifts)
    return positions, np.tile(s.velocities, (n, 1)), np.tile(s.species, n), s.box * copies


def seconds_per_prediction(run: str, atoms, predictions: int) -> float:
    positions, velocities, species, box = atoms
    simulator = LearnedSimulator.load(run, species, box, log=lambda m: None)
    k = simulator.k
    state = simulator.run(simulator.start(positions, velocities), k)
    jax.block_until_ready(state.positions)
    began = time.perf_counter()
    state = simulator.run(state, k * predictions)
    jax.block_until_ready(state.positions)
    return (time.perf_counter() - began) / predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="trained LJ run directories or shipped model names")
    parser.add_argument("--copies", type=int, default=3, help="replicas per side of the 265-atom box (default 3)")
    parser.add_argument("--predictions", type=int, default=20, help="timed predictions (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per run, alternating (default 3)")
    args = parser.parse_args()
    atoms = replicated(args.copies)
    times = {run: [] for run in args.runs}
    for _ in range(args.repeats):
        for run in args.runs:
            times[run].append(seconds_per_prediction(run, atoms, args.predictions))
    print(f"N = {len(atoms[2])}, {args.predictions} predictions per measurement, {args.repeats} repeats")
    print("| run | ms per prediction (median) | spread |")
    print("|---|---|---|")
    for run, values in times.items():
        print(f"| {run} | {1e3 * np.median(values):.1f} | {1e3 * min(values):.1f}-{1e3 * max(values):.1f} |")


if __name__ == "__main__":
    main()
