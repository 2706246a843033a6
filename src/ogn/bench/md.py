"""`ogn bench md`: microseconds per atom-step of the jax engine and of LAMMPS, per preset and size.

Both engines start from the same liquid state (prepared by LAMMPS: random placement, minimisation, 200
rescaled steps at the preset temperature) and run the same NVE; the jax engine is timed on its second
chunk (after compilation), LAMMPS on a `run` after setup. Results replace the `bench md` section of
BENCHMARKS.md, with the machine, the command and the date.
"""

from __future__ import annotations

import datetime
import shlex
import sys
from pathlib import Path

from ogn.bench.common import machine_description, prepare_liquid, replace_section, steps_for, time_jax, time_lammps


def bench_md(sizes, presets, steps=None, out="BENCHMARKS.md", engines=("jax", "lammps"), log=print) -> list[dict]:
    import jax

    from ogn.io.lammps_module import import_lammps
    from ogn.systems import get_system

    rows = []
    for preset in presets:
        for n in sizes:
            system = get_system(preset)
            if n > system.n_atoms:  # "N ~ 300" means the paper's own size where its box needs more atoms
                system = system.scaled(n)
            n_steps = steps or steps_for(system.n_atoms)
            structure = prepare_liquid(system)
            row = {"preset": preset, "n_atoms": system.n_atoms, "steps": n_steps}
            if "lammps" in engines:
                row["lammps"] = time_lammps(system, structure, n_steps)
            if "jax" in engines:
                row["jax"] = time_jax(system, structure, n_steps)
            log(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
            rows.append(row)
    lmp_version = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none"]).version()
    header = [
        "## MD engines: us/atom-step (`ogn bench md`)",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {machine_description()}",
        f"- command: `ogn bench md {' '.join(shlex.quote(a) for a in sys.argv[3:])}`".replace("  ", " "),
        f"- jax {jax.__version__} on {jax.devices()[0].platform}, float32; LAMMPS {lmp_version}, 1 thread, double",
        "- same liquid start for both engines; jax timed after compilation; us = microseconds per atom per step",
        "",
        "| preset | atoms | steps | jax (us/atom-step) | LAMMPS 1 thread (us/atom-step) | jax / LAMMPS |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        jx, lm = r.get("jax"), r.get("lammps")
        ratio = f"{jx / lm:.1f}" if jx and lm else "-"
        header.append(
            f"| {r['preset']} | {r['n_atoms']} | {r['steps']} | {jx:.3f} | {lm:.3f} | {ratio} |".replace("None", "-")
            if jx and lm else f"| {r['preset']} | {r['n_atoms']} | {r['steps']} | {jx or '-'} | {lm or '-'} | - |"
        )
    replace_section(Path(out), "bench md", "\n".join(header))
    return rows
