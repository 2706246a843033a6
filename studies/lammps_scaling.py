"""Strong scaling of `ogn lammps` (issue 20): the LJ example replicated to ~1e5 atoms, time per MD step on
1 and 2 MPI ranks, against `ogn rollout`'s simulator on the same atoms and LAMMPS with the true potential
(OpenMP, velocity Verlet at dt). Each is measured `--repeats` times, alternating, after a warm-up run
that compiles; the table gives the median and the spread.

    .venv/bin/python studies/lammps_scaling.py --copies 7 --predictions 10 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODEL = "lj-fast-k5"

SCALING_INPUT = """\
units lj
atom_style atomic
boundary p p p
read_data start.data
replicate {copies} {copies} {copies}
thermo {predictions}
run 1
run {predictions}
"""


def loop_time(log: str) -> float:
    """Seconds of the last `run` in a LAMMPS log."""
    return float(re.findall(r"Loop time of ([0-9.eE+-]+) on", log)[-1])


def ogn_lammps(work: Path, ranks: int, copies: int, predictions: int, one_thread: bool = False) -> float:
    """Under mpirun ogn gives each rank one XLA thread; `one_thread` does so for one rank too (the
    baseline of the parallel efficiency of the domain decomposition, apart from XLA's own threads)."""
    (work / "in.scaling").write_text(SCALING_INPUT.format(copies=copies, predictions=predictions))
    command = [str(BIN / "ogn"), "lammps", MODEL, "--in", "in.scaling", "--quiet"]
    if ranks > 1:
        command = [str(BIN / "mpirun"), "-np", str(ranks)] + command
    env = dict(os.environ)
    if one_thread:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    subprocess.run(command, cwd=work, check=True, capture_output=True, env=env)
    return loop_time((work / "log.lammps").read_text()) / (5 * predictions)


def big_start(work: Path, copies: int) -> Path:
    from ogn.io.lammps_module import import_lammps

    lmp = import_lammps().lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    lmp.commands_list(["units lj", "atom_style atomic", "boundary p p p", f"read_data {work / 'start.data'}",
                       f"replicate {copies} {copies} {copies}", f"write_data {work / 'big.data'}"])
    lmp.close()
    # the preset's pair style (lj/charmm/coul/charmm, with zero charges) needs atom_style charge
    from ogn.io.lammps_data import read_lammps_data, write_lammps_data
    from ogn.systems import get_system

    system = get_system("lj")
    write_lammps_data(work / "big-charge.data", read_lammps_data(work / "big.data"), system.masses, system.charges)
    return work / "big.data"


def ogn_rollout(big: Path, predictions: int) -> float:
    """The simulator `ogn rollout` runs, on the same atoms (one warm-up prediction compiles)."""
    import jax

    from ogn.io.lammps_data import read_lammps_data
    from ogn.simulator import LearnedSimulator

    s = read_lammps_data(big)
    simulator = LearnedSimulator.load(MODEL, s.species, s.box, log=lambda m: None)
    state = simulator.run(simulator.start(s.positions, s.velocities), 5)
    jax.block_until_ready(state.positions)
    began = time.perf_counter()
    state = simulator.run(state, 5 * predictions)
    jax.block_until_ready(state.positions)
    return (time.perf_counter() - began) / (5 * predictions)


def lammps_md(work: Path, predictions: int, threads: int) -> float:
    """LAMMPS with the true potential, OpenMP, velocity Verlet at dt, the neighbor settings of the preset."""
    from ogn.systems import get_system

    system = get_system("lj")
    text = "\n".join(["units lj", "atom_style charge", "boundary p p p", "read_data big-charge.data",
                      *system.potential.lammps_commands(work), f"neighbor {system.skin!r} bin",
                      "neigh_modify every 1 delay 0 check yes", f"timestep {system.dt!r}", "fix 1 all nve",
                      f"thermo {5 * predictions}", "run 10", f"run {5 * predictions}"]) + "\n"
    (work / "in.md").write_text(text)
    subprocess.run([str(BIN / "lmp"), "-in", "in.md", "-sf", "omp", "-pk", "omp", str(threads)], cwd=work, check=True,
                   capture_output=True)
    return loop_time((work / "log.lammps").read_text()) / (5 * predictions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=7, help="replicas per side of the 265-atom box (default 7)")
    parser.add_argument("--predictions", type=int, default=10, help="timed predictions per run (default 10)")
    parser.add_argument("--repeats", type=int, default=2, help="measurements of each, alternating (default 2)")
    parser.add_argument("--only", nargs="+", help="measure only the engines whose names contain one of these"
                                                  " (default: all)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ogn-scaling-"))
    (work / "start.data").write_text((ROOT / "examples" / "lj-lammps" / "start.data").read_text())
    big = big_start(work, args.copies)
    runs = {"ogn lammps, 1 rank": lambda: ogn_lammps(work, 1, args.copies, args.predictions),
            "ogn lammps, 1 rank, 1 XLA thread": lambda: ogn_lammps(work, 1, args.copies, args.predictions, True),
            "ogn lammps, 2 ranks": lambda: ogn_lammps(work, 2, args.copies, args.predictions),
            "ogn rollout (1 process)": lambda: ogn_rollout(big, args.predictions),
            "LAMMPS, true potential, 2 OpenMP threads, dt": lambda: lammps_md(work, args.predictions, 2)}
    if args.only:
        runs = {name: run for name, run in runs.items() if any(part in name for part in args.only)}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(args.repeats):
        for name, run in runs.items():
            times[name].append(run())
            print(f"repeat {repeat + 1}: {name}: {1e3 * times[name][-1]:.1f} ms per MD step", flush=True)
    n = 265 * args.copies ** 3
    print(f"\nN = {n}, {args.predictions} predictions (k = 5) per measurement, {args.repeats} repeats\n")
    print("| engine | ms per MD step (median) | spread | ns per atom per MD step |")
    print("|---|---|---|---|")
    for name, values in times.items():
        median = float(np.median(values))
        print(f"| {name} | {1e3 * median:.1f} | {1e3 * min(values):.1f}-{1e3 * max(values):.1f} |"
              f" {1e9 * median / n:.0f} |")


if __name__ == "__main__":
    main()
