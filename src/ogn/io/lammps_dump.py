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
    frames, steps, boxes, k = [], [], [], 0
    columns = n = ids = None
    while k < len(lines):
        if not lines[k].strip():
            k += 1
            continue
        if not lines[k].startswith("ITEM: TIMESTEP"):
            raise TrajectoryFileError(f"{path}:{k + 1}: expected 'ITEM: TIMESTEP', got {lines[k][:60]!r}")
        frame = len(frames)
        step, k = _dump_int(path, lines, k + 1), k + 2
        if k < len(lines) and lines[k].startswith("ITEM: TIME"):
            k += 2
        if k >= len(lines) or not lines[k].startswith("ITEM: NUMBER OF ATOMS"):
            raise TrajectoryFileError(f"{path}:{k + 1}: frame {frame} (timestep {step}) has no 'ITEM: NUMBER OF ATOMS'")
        count, k = _dump_int(path, lines, k + 1), k + 2
        if n is not None and count != n:
            raise TrajectoryFileError(f"{path}:{k}: frame {frame} (timestep {step}) has {count} atoms,"
                                      f" frame 0 has {n}: ogn needs a fixed set of atoms")
        n = count
        box, k = _dump_box(path, lines, k, frame, step)
        if k >= len(lines) or not lines[k].startswith("ITEM: ATOMS"):
            raise TrajectoryFileError(f"{path}:{k + 1}: frame {frame} (timestep {step}) has no 'ITEM: ATOMS' line")
        names = lines[k].split()[2:]
        if columns is not None and names != list(columns):
            raise TrajectoryFileError(f"{path}:{k + 1}: frame {frame} has columns {names}, frame 0 has {list(columns)}")
        columns = {name: c for c, name in enumerate(names)}
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
        frames.append((table[order], k))
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

    style = next((s for s in _POSITION_STYLES if all(c in columns for c in s)), None)
    if style is None:
        raise TrajectoryFileError(f"{path}: no position columns: need x y z, xu yu zu, xs ys zs or xsu ysu zsu;"
                                  f" the columns are {list(columns)}")
    for need in ("id", "type", "vx", "vy", "vz"):
        if need not in columns:
            raise TrajectoryFileError(f"{path}: no {need!r} column (the columns are {list(columns)}); ogn needs"
                                      " `dump custom` with id type, positions and vx vy vz")
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
                              np.asarray(labels), types, masses)


def _dump_int(path: Path, lines: list[str], k: int) -> int:
    try:
        return int(lines[k].split()[0])
    except (IndexError, ValueError):
        text = lines[k][:60] if k < len(lines) else "the end of the file"
        raise TrajectoryFileError(f"{path}:{k + 1}: expected an integer, got {text!r}") from None


def _dump_box(path: Path, lines: list[str], k: int, frame: int, step: int):
    if k >= len(lines) or not lines[k].startswith("ITEM: BOX BOUNDS"):
        raise TrajectoryFileError(f"{path}:{k + 1}: frame {frame} (timestep {step}) has no 'ITEM: BOX BOUNDS'")
    tilted = "xy" in lines[k].split()
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
        for row, value in enumerate(text):
            try:
                float(value)
            except ValueError:
                raise TrajectoryFileError(f"{path}: column {name!r} has the non-number {value!r} (a row of the frame"
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


# ----------------------------------------------------------------------------------------------------------
# extended XYZ
