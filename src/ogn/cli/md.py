"""`ogn md` and `ogn energy`: ground-truth MD of a preset, and the energy of one structure."""

from __future__ import annotations

import json
import sys

from ogn.cli.common import add_system_args, build_system, console, logger, progress_bar, wrote


def add_md_parser(sub) -> None:
    p = sub.add_parser("md", help="ground-truth MD: prepare by the paper's protocol, write NVE production (H5MD)")
    add_system_args(p)
    p.add_argument("--steps", type=int, default=1000, help="production (NVE) steps (default 1000)")
    p.add_argument("--every", type=int, default=1, help="write a frame every E steps (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of placement and velocities (default 0)")
    p.add_argument("--engine", choices=["jax", "lammps"], default="jax", help="MD engine (default jax)")
    p.add_argument("--precision", choices=["float32", "float64"], default="float32",
                   help="arithmetic of the jax engine (default float32; LAMMPS computes in double)")
    p.add_argument("--glass", action="store_true", help="quench to --glass-temperature under NVT before production")
    p.add_argument("--glass-temperature", type=float, default=0.5,
                   help="in the preset's temperature unit: LJ epsilon/k_B, metal presets K (default 0.5, the LJ"
                        " glass; give one in K for a metal preset)")
    p.add_argument("--quench-steps", type=int, default=10_000, help="MD steps of the quench (default 10000)")
    p.add_argument("--init", help="start from this structure with velocities (H5MD, LAMMPS data, extxyz, dump;"
                                  " default: prepare one by the paper's protocol)")
    p.add_argument("--frame", type=int, help="frame of a trajectory --init file (H5MD, dump, extxyz; default: its"
                                             " last)")
    p.add_argument("--out", required=True, help="output trajectory, FILE.h5")
    p.set_defaults(func=run_md_command, needs_x64=lambda args: args.precision == "float64")


def run_md_command(args) -> int:
    from ogn.io.files import check_distinct, check_writable, failed_path
    from ogn.io.h5md import check_h5md_name
    from ogn.md.config import MDConfig
    from ogn.md.run import run_md

    check_h5md_name(args.out)
    out = check_writable(args.out)
    if args.init is not None:
        check_distinct(args.init, out)
    system = build_system(args)
    config = MDConfig(steps=args.steps, every=args.every, seed=args.seed, engine=args.engine, glass=args.glass,
                      glass_temperature=args.glass_temperature, quench_steps=args.quench_steps, init=args.init,
                      frame=args.frame, precision=args.precision)
    replaces = out.exists()
    try:
        summary = run_md(system, config, out, log=logger(), progress_factory=progress_bar)
    except BaseException:
        if failed_path(out).exists():
            console().print(f"the frames written before it stopped are in {failed_path(out)}; {out} was left untouched")
        raise
    console().print(wrote(out, replaces))
    for line in summary.lines():
        console().print("  " + line)
    return 0


def add_energy_parser(sub) -> None:
    p = sub.add_parser("energy", help="potential energy and forces of a structure, in float64")
    add_system_args(p)
    p.add_argument("structure", help="LAMMPS data file (atomic or charge) or extxyz")
    p.add_argument("--json", action="store_true", help='print {"energy": E, "forces": [[fx, fy, fz], ...]}')
    p.set_defaults(func=run_energy, needs_x64=lambda args: True)


def run_energy(args) -> int:
    from ogn.md.simulate import structure_energy_and_forces

    system = build_system(args)
    energy, forces = structure_energy_and_forces(system, args.structure)
    if args.json:
        json.dump({"energy": energy, "forces": forces.tolist()}, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"potential energy: {energy!r} {system.units.energy}")
        print(f"forces ({system.units.energy}/{system.units.length}), atoms in id order:")
        for a, f in enumerate(forces.tolist()):
            print(f"{a + 1} {f[0]!r} {f[1]!r} {f[2]!r}")
    return 0
