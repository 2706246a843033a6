"""`ogn rollout` as a whole command with and without a given `--skin`, against LAMMPS (2 OpenMP threads) in the
same loop, two rounds (BENCHMARKS.md, "The skin"): the steady time per 100 MD steps and start-up of
`ogn.bench.time_ogn_command` at N = 10 000. "Default" is the default of the day: the BENCHMARKS numbers were
measured when it was 0.1 x the graph cutoff, before `rollout.default_skin`.

    .venv/bin/python studies/command_skin.py PRESET SHIPPED_MODEL SKIN   # e.g. silicon silicon-fast-k10 0.754
"""

import sys

from ogn.bench import prepare_liquid, time_lammps, time_ogn_command
from ogn.model.checkpoint import SHIPPED_MODELS
from ogn.systems import get_system

preset, model, skin = sys.argv[1:4]
system = get_system(preset).scaled(10000)
structure = prepare_liquid(system)
run = SHIPPED_MODELS / model
for options in [(), ("--skin", skin)] * 2:
    lammps = time_lammps(system, structure, 100, 2) * 1e-6 * 100 * system.n_atoms
    command, start_up = time_ogn_command(run, system, structure, 100, options)
    print(f"{run.name} {' '.join(options) or 'default skin'}: ogn rollout {command:.3f} s per 100 MD steps,"
          f" LAMMPS 2 threads {lammps:.3f} s: {command / lammps:.2f}x; start-up {start_up:.1f} s", flush=True)
