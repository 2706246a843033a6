"""LAMMPS text dumps (`dump custom`) read into an `ObservedTrajectory`: the form every trajectory observed
elsewhere takes in ogn (see `ogn.io.trajectories`).

An ObservedTrajectory holds unwrapped positions relative to the box's lower corner, velocities, MD steps,
the fixed orthorhombic box, and per atom a label (an element name, or a LAMMPS type number as text), the
type number where the file has one, and the mass where the file has one. Atoms are in id order. Every
problem is a `TrajectoryFileError` naming the file and the line or frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ogn.io.lammps_data import DataFileError, text_lines
from ogn.periodic import box_sides, minimum_image


class TrajectoryFileError(DataFileError):
    pass


@dataclass
class ObservedTrajectory:
    source: str
    positions: np.ndarray  # (F, N, 3) float64 | unwrapped, relative to the box's lower corner
    velocities: np.ndarray  # (F, N, 3) float64 | length / time of the file's units
    steps: np.ndarray | None  # (F,) int | MD step of each frame, where the file says
    box: np.ndarray  # (3,) float64 | orthorhombic sides, the same in every frame
    labels: np.ndarray  # (N,) str | element name, or LAMMPS type number as text
    types: np.ndarray | None  # (N,) int | LAMMPS type, where the file has one
    masses: np.ndarray | None  # (N,) float64 | where the file has them
    times: np.ndarray | None = None  # (F,) | simulated time of each frame, where the file says (ITEM: TIME)
    velocity_unit: str = "file"  # "file": the trajectory's units; "ase": ASE's (from extxyz momenta)
    units: str | None = None  # the unit style the file declares (ogn H5MD), where it does

    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def n_atoms(self) -> int:
        return self.positions.shape[1]


_POSITION_STYLES = (("xu", "yu", "zu"), ("x", "y", "z"), ("xsu", "ysu", "zsu"), ("xs", "ys", "zs"))


def read_lammps_dump(path: str | Path) -> ObservedTrajectory:
    """`dump custom` text: `id type` and positions as x/xu/xs/xsu (with ix iy iz where present), vx vy vz,
    optional `element` and `mass`, in any column order; atoms sorted by id."""
    path = Path(path)
    lines = text_lines(path)
    frames, steps, times, boxes, k = [], [], [], [], 0
    columns = n = ids = units = None
    while k < len(lines):
        frame = len(frames)
        item, at = {}, {}  # the header items of this frame, in any order (LAMMPS writes UNITS and TIME first)
        while k < len(lines) and not lines[k].startswith("ITEM: ATOMS"):
            line = lines[k]
            if not line.strip():
                k += 1
                continue
            name = next((n for n in ("TIMESTEP", "TIME", "UNITS", "NUMBER OF ATOMS", "BOX BOUNDS")
                         if line.startswith(f"ITEM: {n}") and (n != "TIME" or line.strip() == "ITEM: TIME")), None)
            if name is None or name in item:
                raise TrajectoryFileError(f"{path}:{k + 1}: unexpected {line[:60]!r} in the header of frame {frame}")
            if name == "BOX BOUNDS":
                item[name], k = _dump_box(path, lines, k, frame, item.get("TIMESTEP"))
                continue
            if k + 1 >= len(lines):
                raise TrajectoryFileError(f"{path}:{k + 1}: the file ends inside the header of frame {frame}")
            value = lines[k + 1].strip()
            if name in ("TIMESTEP", "NUMBER OF ATOMS"):
                value = _dump_int(path, lines, k + 1)
            elif name == "TIME":
                try:
                    value = float(value.split()[0])
                except (IndexError, ValueError):
                    raise TrajectoryFileError(f"{path}:{k + 2}: expected the time of frame {frame}") from None
            item[name], at[name] = value, k + 2  # at: 1-based line of the value
            k += 2
        if not item and k >= len(lines):
            break
        missing = [n for n in ("TIMESTEP", "NUMBER OF ATOMS", "BOX BOUNDS") if n not in item]
        if missing or k >= len(lines):
            what = ", ".join(f"'ITEM: {n}'" for n in missing) or "'ITEM: ATOMS'"
            raise TrajectoryFileError(f"{path}:{min(k, len(lines))}: frame {frame} has no {what}")
        step, count, box = item["TIMESTEP"], item["NUMBER OF ATOMS"], item["BOX BOUNDS"]
        if "TIME" in item:
            times.append(item["TIME"])
        if "UNITS" in item:
            units = item["UNITS"]
        if count < 2:
            raise TrajectoryFileError(f"{path}: frame {frame} (timestep {step}) has {count} atoms; a trajectory"
                                      " to learn from needs at least 2")
        if n is not None and count != n:
            raise TrajectoryFileError(f"{path}:{at['NUMBER OF ATOMS']}: frame {frame} (timestep {step}) has {count}"
                                      f" atoms, frame 0 has {n}: ogn needs a fixed set of atoms")
        n = count
        names = lines[k].split()[2:]
        if columns is not None and names != list(columns):
            raise TrajectoryFileError(f"{path}:{k + 1}: frame {frame} has columns {names}, frame 0 has {list(columns)}")
        columns = {name: c for c, name in enumerate(names)}
        for need in ("id", "type", "vx", "vy", "vz"):
            if need not in columns:
                raise TrajectoryFileError(f"{path}:{k + 1}: no {need!r} column (the columns are {names}); ogn needs"
                                          " `dump custom` with id type, positions and vx vy vz")
        if not any(all(c in columns for c in style) for style in _POSITION_STYLES):
            raise TrajectoryFileError(f"{path}:{k + 1}: no position columns: need x y z, xu yu zu, xs ys zs or"
                                      f" xsu ysu zsu; the columns are {names}")
        rows = [line.split() for line in lines[k + 1 : k + 1 + n]]
        if len(rows) < n:
            raise TrajectoryFileError(f"{path}: frame {frame} (timestep {step}) is truncated: {len(rows)} of {n}"
                                      " atom rows before the end of the file")
        bad = next((i for i, r in enumerate(rows) if len(r) != len(names)), None)
        if bad is not None:
            raise TrajectoryFileError(f"{path}:{k + 2 + bad}: {len(rows[bad])} values for the {len(names)} columns"
                                      f" {names}")
        table = np.array(rows)
        frame_ids = _numeric(path, table, columns, "id", k, int)
        order = np.argsort(frame_ids, kind="stable")
        if ids is None:
            ids = frame_ids[order]
            if len(np.unique(ids)) != n:
                raise TrajectoryFileError(f"{path}: frame 0 has duplicate atom ids")
        elif not np.array_equal(frame_ids[order], ids):
            raise TrajectoryFileError(f"{path}: frame {frame} (timestep {step}) has other atom ids than frame 0")
        table = table[order]
        for name in ("type", "element", "mass"):  # what an atom is may not change along the trajectory
            if frames and name in columns and not np.array_equal(table[:, columns[name]], frames[0][0][:, columns[name]]):
                atom = int(np.argmax(table[:, columns[name]] != frames[0][0][:, columns[name]]))
                raise TrajectoryFileError(f"{path}: frame {frame} (timestep {step}) gives atom id {ids[atom]} another"
                                          f" {name} ({table[atom, columns[name]]}) than frame 0"
                                          f" ({frames[0][0][atom, columns[name]]})")
        frames.append((table, k))
        steps.append(step)
        boxes.append(box)
        k += 1 + n
    if not frames:
        raise TrajectoryFileError(f"{path}: no frames")
    box_lo, box_hi = boxes[0]
    for f, (lo, hi) in enumerate(boxes):
        if not (np.allclose(lo, box_lo, rtol=0, atol=1e-9 * np.abs(box_hi).max())
                and np.allclose(hi, box_hi, rtol=0, atol=1e-9 * np.abs(box_hi).max())):
            raise TrajectoryFileError(f"{path}: the box changes at frame {f} (timestep {steps[f]}): {lo.tolist()} -"
                                      f" {hi.tolist()}, frame 0 has {box_lo.tolist()} - {box_hi.tolist()}; ogn needs"
                                      " a fixed box (NVE or NVT, not NPT)")
    sides = box_sides(box_hi - box_lo, f"{path}: box")

    style = next(s for s in _POSITION_STYLES if all(c in columns for c in s))
    positions = np.stack([np.stack([_numeric(path, t, columns, c, k) for c in style], -1) for t, k in frames])
    if style[0].startswith("xs"):
        positions = positions * sides
    else:
        positions = positions - box_lo
    velocities = np.stack([np.stack([_numeric(path, t, columns, c, k) for c in ("vx", "vy", "vz")], -1)
                           for t, k in frames])
    if style in (("x", "y", "z"), ("xs", "ys", "zs")):
        if all(c in columns for c in ("ix", "iy", "iz")):
            images = np.stack([np.stack([_numeric(path, t, columns, c, k, int) for c in ("ix", "iy", "iz")], -1)
                               for t, k in frames])
            positions = positions + images * sides
        else:
            positions = unwrap_by_continuity(positions, sides)
    first = frames[0][0]
    types = _numeric(path, first, columns, "type", frames[0][1], int)
    labels = first[:, columns["element"]] if "element" in columns else types.astype(str)
    masses = _numeric(path, first, columns, "mass", frames[0][1]) if "mass" in columns else None
    return ObservedTrajectory(str(path), positions, velocities, np.asarray(steps, dtype=np.int64), sides,
                              np.asarray(labels), types, masses,
                              times=np.asarray(times) if len(times) == len(frames) else None, units=units)


def _dump_int(path: Path, lines: list[str], k: int) -> int:
    try:
        return int(lines[k].split()[0])
    except (IndexError, ValueError):
        text = lines[k][:60] if k < len(lines) else "the end of the file"
        raise TrajectoryFileError(f"{path}:{k + 1}: expected an integer, got {text!r}") from None


def _dump_box(path: Path, lines: list[str], k: int, frame: int, step: int):
    if k >= len(lines) or not lines[k].startswith("ITEM: BOX BOUNDS"):
        raise TrajectoryFileError(f"{path}:{k + 1}: frame {frame} (timestep {step}) has no 'ITEM: BOX BOUNDS'")
    words = lines[k].split()
    tilted = "xy" in words
    flags = [w for w in words[3:] if w not in ("xy", "xz", "yz")]
    if flags and any(f != "pp" for f in flags):
        raise TrajectoryFileError(f"{path}:{k + 1}: frame {frame}: boundaries {' '.join(flags)}; ogn needs a periodic"
                                  " box (pp pp pp)")
    try:
        values = np.array([[float(x) for x in lines[k + 1 + a].split()] for a in range(3)])
    except (IndexError, ValueError):
        raise TrajectoryFileError(f"{path}:{k + 2}: frame {frame}: malformed box bounds") from None
    if values.shape[1] != (3 if tilted else 2) or not np.isfinite(values).all():
        raise TrajectoryFileError(f"{path}:{k + 2}: frame {frame}: malformed box bounds")
    if tilted and np.any(values[:, 2] != 0):
        raise TrajectoryFileError(f"{path}:{k + 1}: frame {frame}: a triclinic box (tilts {values[:, 2].tolist()});"
                                  " ogn supports orthorhombic boxes only")
    return (values[:, 0], values[:, 1]), k + 4


def _numeric(path: Path, table: np.ndarray, columns: dict, name: str, k: int, dtype=float) -> np.ndarray:
    """Column `name` of one frame's rows (header at line k + 1) as numbers; a bad value names its line."""
    text = table[:, columns[name]]
    try:
        values = text.astype(np.float64)
    except ValueError:
        for value in text:
            try:
                float(value)
            except ValueError:
                raise TrajectoryFileError(f"{path}: column {name!r} has the non-number '{value}' (a row of the frame"
                                          f" whose ATOMS line is {k + 1})") from None
        raise
    if not np.isfinite(values).all():
        raise TrajectoryFileError(f"{path}: column {name!r} has a non-finite value in the frame whose ATOMS line is"
                                  f" {k + 1}")
    if dtype is int:
        if np.any(values != np.round(values)):
            raise TrajectoryFileError(f"{path}: column {name!r} has a non-integer value (frame at line {k + 1})")
        return values.astype(np.int64)
    return values


def unwrap_by_continuity(positions: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(F, N, 3) wrapped positions -> unwrapped, each frame-to-frame move taken by minimum image (right when
    no atom moves half a box side between frames)."""
    moves = minimum_image(np.diff(positions, axis=0), box)
    return np.concatenate([positions[:1], positions[:1] + np.cumsum(moves, axis=0)])
