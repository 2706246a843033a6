"""Scale of `ogn rollout` (issue 11): a shipped model's start tiled R x R x R times, rolled out as a user
would, with wall time and peak memory per atom. Run from the repository root:

    .venv/bin/python studies/scale_rollout.py cuzr-fast-k20 START.h5 R [R ...]

START.h5: an H5MD state of the model's system (e.g. `ogn md cuzr --steps 20 --out START.h5`). For each R it
writes a LAMMPS data file of R^3 copies, runs `/usr/bin/time -v ogn rollout MODEL --init DATA --steps S
--out OUT.h5 --every 10` for S = 2k and 4k... (k: the model's), and prints one Markdown row: atoms, steady
seconds per MD step ((t(4 x) - t(2 x)) / (2 x)), microseconds per atom-step, start-up seconds, peak RSS and
peak RSS per atom.
"""

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ogn.io.h5md import read_trajectory
from ogn.io.lammps_data import write_lammps_data
from ogn.io.types import Structure
from ogn.model.checkpoint import load_run


def timed(command: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode:
        sys.exit(done.stderr[-2000:])
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return wall, peak_kb


def main(model: str, start_file: str, reps: list[int]) -> None:
    _, info, _ = load_run(model)
    k = int(info["k"])
    start = read_trajectory(start_file, frames=-1)
    print("| atoms | s per MD step | us per atom-step | start-up (s) | peak RSS (MiB) | peak RSS per atom (kB) |")
    print("|---|---|---|---|---|---|")
    for r in reps:
        structure = Structure(start.positions, start.species, start.box, start.velocities).tiled(r)
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "start.data"
            write_lammps_data(data, structure, info["system"]["masses"])
            wall, peak = {}, 0
            for steps in (20 * k, 40 * k):
                command = [sys.executable, "-m", "ogn.cli", "rollout", model, "--init", str(data), "--steps",
                           str(steps), "--out", str(Path(tmp) / "out.h5"), "--every", "10"]
                timed(command)  # warms the compilation cache
                wall[steps], kb = timed(command)
                peak = max(peak, kb)
        per_step = (wall[40 * k] - wall[20 * k]) / (20 * k)
        n = structure.n_atoms
        print(f"| {n} | {per_step:.4g} | {1e6 * per_step / n:.3g} | {wall[20 * k] - 20 * k * per_step:.3g} |"
              f" {peak / 1024:.0f} | {peak / n:.3g} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3:]])
