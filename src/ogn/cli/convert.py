"""`ogn convert`: frames of an H5MD trajectory to extxyz (OVITO, ASE) or a LAMMPS dump."""

from __future__ import annotations

from pathlib import Path

from ogn.cli.common import console

FORMATS = (".xyz", ".extxyz", ".dump", ".lammpstrj")


def add_parser(sub) -> None:
    p = sub.add_parser("convert", help="export an H5MD trajectory to extxyz or LAMMPS dump")
    p.add_argument("input", help="trajectory FILE.h5")
    p.add_argument("output", help="OUT.extxyz / OUT.xyz or OUT.dump / OUT.lammpstrj")
    p.add_argument("--frames", metavar="START:STOP",
                   help="python-style slice of frames, e.g. 0:100 or -10: (default: all)")
    p.set_defaults(func=run, needs_x64=lambda args: False)


def run(args) -> int:
    from ogn.io.files import check_distinct, check_writable
    from ogn.io.h5md import read_trajectory
    from ogn.io.structures import AseColumns, write_extxyz, write_lammps_dump
    from ogn.units import UNITS

    sel = parse_frames(args.frames)
    out = Path(args.output)
    if out.suffix not in FORMATS:
        raise ValueError(f"{out}: unknown output format {out.suffix!r}; use .extxyz/.xyz or .dump/.lammpstrj")
    check_writable(out)
    check_distinct(args.input, out)
    t = read_trajectory(args.input, frames=sel)
    frames = list(zip(t.positions, t.velocities))
    if not frames:
        raise ValueError(f"--frames {args.frames}: selects none of the frames of {args.input}")
    if t.status != "complete":
        console().print(f"[bold yellow]warning:[/bold yellow] {args.input} did not complete (status {t.status!r})")
    system = t.metadata.get("system", {})
    if out.suffix in (".xyz", ".extxyz"):
        names = system.get("species") or [str(k) for k in range(t.species.max() + 1)]
        masses = None if "masses" not in system else [system["masses"][s] for s in t.species]
        write_extxyz(out, frames, t.species, names, t.box, steps=t.steps, times=t.times,
                     time_unit=UNITS[t.units].time if t.units in UNITS else None, ase=AseColumns.of(t.units, masses))
    else:
        write_lammps_dump(out, frames, t.species, t.box, t.steps)
    console().print(f"wrote {len(frames)} frames to {out}")
    return 0


def parse_frames(text: str | None) -> slice:
    """`START:STOP` (either may be empty, Python's slice rules) -> slice; a clear error otherwise."""
    if not text:
        return slice(None)
    start, colon, stop = text.partition(":")
    try:
        if not colon:
            raise ValueError
        return slice(int(start) if start.strip() else None, int(stop) if stop.strip() else None)
    except ValueError:
        raise ValueError(f"--frames {text!r}: expected START:STOP with integers, e.g. 0:100 or -10:") from None
