"""What each knob of the jax MD engine does to its CPU speed (issue 2): skin (how often the neighbor list
is rebuilt against how many pairs it holds) and neighbor-list capacity (padding). One liquid state per
preset from LAMMPS, us/atom-step of a compiled chunk after compilation, median of 3.

    .venv/bin/python studies/md_speed_study.py [N]      # writes the `md speed study` section of BENCHMARKS.md
"""

import dataclasses
import datetime
import sys
from pathlib import Path

import numpy as np

from ogn.bench import machine_description, prepare_liquid, replace_section, time_jax
from ogn.systems import get_system

n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
steps = max(20, 1_000_000 // n)
lines = [
    "## jax MD engine: what each setting does on this CPU (`studies/md_speed_study.py`)",
    "",
    f"- date: {datetime.date.today().isoformat()}; machine: {machine_description()}",
    (f"- command: `.venv/bin/python studies/md_speed_study.py {n}`; float32; {steps} steps per timed chunk,"
    " median of 3 chunks after compilation"),
    "",
    "| preset | atoms | setting | us/atom-step | vs preset setting |",
    "|---|---|---|---|---|",
]
for preset in ("lj", "silicon", "cuzr"):
    base = get_system(preset).scaled(n)
    structure = prepare_liquid(base)
    variants = {f"preset (skin {base.skin:g}, capacity x1.25)": (base, 1.25)}
    for factor in (0.5, 1.5):
        variants[f"skin {base.skin * factor:g}"] = (dataclasses.replace(base, skin=base.skin * factor), 1.25)
    for cap in (1.05, 2.0):
        variants[f"capacity x{cap}"] = (base, cap)
    ref = None
    for name, (system, cap) in variants.items():
        t = float(np.median([time_jax(system, structure, steps, cap) for _ in range(3)]))
        ref = ref or t
        print(preset, name, f"{t:.3f}", flush=True)
        lines.append(f"| {preset} | {system.n_atoms} | {name} | {t:.3f} | {t / ref:.2f} |")
replace_section(Path("BENCHMARKS.md"), "md speed study", "\n".join(lines))
