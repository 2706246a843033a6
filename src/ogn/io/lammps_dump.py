"""LAMMPS text dumps (`dump custom`) read into an `ObservedTrajectory`: the form every trajectory observed
elsewhere takes in ogn (see `ogn.io.trajectories`).

An ObservedTrajectory holds unwrapped positions relative to the box's lower corner, velocities, MD steps,
the fixed orthorhombic box, and per atom a label (an element name, or a LAMMPS type number as text), the
type number where the file has one, and the mass where the file has one. Atoms are in id order. Every
problem is a `TrajectoryFileError` naming the file and the line or frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ogn.io.lammps_data import DataFileError, text_lines
from ogn.io.types import ObservedTrajectory
from ogn.periodic import box_sides, minimum_image


class TrajectoryFileError(DataFileError):
    pass


_POSITION_STYLES = (("xu", "yu", "zu"), ("x", "y", "z"), ("xsu", "ysu", "zsu"), ("xs", "ys", "zs"))


def read_lammps_dump(path: str | Path) -> ObservedTrajectory:
    """`dump custom` text: `id type` and positions as x/xu/xs/xsu (with ix iy iz where present), vx vy vz,
    optional `element` and `mass`, in any column order; atoms sorted by id."""
    reader = _DumpReader(Path(path))
    reader.read_frames()
    return reader.trajectory()


class _DumpReader:
    """A dump being read frame by frame: every error names the file and the line or frame."""

    def __init__(self, path: Path):
        self.path, self.lines = path, text_lines(path)
        self.frames: list[tuple[np.ndarray, int]] = []  # (rows sorted by id, line of the ATOMS item)
        self.steps, self.times, self.boxes = [], [], []
        self.columns = self.n = self.ids = self.units = None

    def fail(self, where: str, what: str):
        raise TrajectoryFileError(f"{self.path}{where}: {what}")

    def read_frames(self) -> None:
        k = 0
        while k < len(self.lines):
            item, at, k = self._header(k)
            if item is None:
                break
            k = self._atoms(item, at, k)
        if not self.frames:
            self.fail("", "no frames")

    def _header(self, k: int):
        """The header items of one frame, in any order (LAMMPS writes UNITS and TIME first), the 1-based line
        of each value, and the line of its ATOMS item; (None, None, k) at the end of the file."""
        frame, lines = len(self.frames), self.lines
        item, at = {}, {}
        while k < len(lines) and not lines[k].startswith("ITEM: ATOMS"):
            line = lines[k]
            if not line.strip():
                k += 1
                continue
            name = next((n for n in ("TIMESTEP", "TIME", "UNITS", "NUMBER OF ATOMS", "BOX BOUNDS")
                         if line.startswith(f"ITEM: {n}") and (n != "TIME" or line.strip() == "ITEM: TIME")), None)
            if name is None or name in item:
                self.fail(f":{k + 1}", f"unexpected {line[:60]!r} in the header of frame {frame}")
            if name == "BOX BOUNDS":
                item[name], k = _dump_box(self.path, lines, k, frame, item.get("TIMESTEP"))
                continue
            if k + 1 >= len(lines):
                self.fail(f":{k + 1}", f"the file ends inside the header of frame {frame}")
            item[name], at[name] = self._header_value(name, k, frame), k + 2  # at: 1-based line of the value
            k += 2
        if not item and k >= len(lines):
            return None, None, k
        missing = [n for n in ("TIMESTEP", "NUMBER OF ATOMS", "BOX BOUNDS") if n not in item]
        if missing or k >= len(lines):
            what = ", ".join(f"'ITEM: {n}'" for n in missing) or "'ITEM: ATOMS'"
            self.fail(f":{min(k, len(lines))}", f"frame {frame} has no {what}")
        return item, at, k

    def _header_value(self, name: str, k: int, frame: int):
        value = self.lines[k + 1].strip()
        if name in ("TIMESTEP", "NUMBER OF ATOMS"):
            return _dump_int(self.path, self.lines, k + 1)
        if name == "TIME":
            try:
                return float(value.split()[0])
            except (IndexError, ValueError):
                self.fail(f":{k + 2}", f"expected the time of frame {frame}")
        return value

    def _atoms(self, item: dict, at: dict, k: int) -> int:
        """The ATOMS block of one frame at line k; the line after it."""
        frame, step, count = len(self.frames), item["TIMESTEP"], item["NUMBER OF ATOMS"]
        if "TIME" in item:
            self.times.append(item["TIME"])
        self.units = item.get("UNITS", self.units)
        if count < 2:
            self.fail("", f"frame {frame} (timestep {step}) has {count} atoms; a trajectory to learn from needs at least 2")
        if self.n is not None and count != self.n:
            self.fail(f":{at['NUMBER OF ATOMS']}", f"frame {frame} (timestep {step}) has {count} atoms, frame 0 has"
                                                   f" {self.n}: ogn needs a fixed set of atoms")
        self.n = count
        names = self._columns(k, frame)
        rows = [line.split() for line in self.lines[k + 1 : k + 1 + count]]
        short = next((i for i, line in enumerate(self.lines[k + 1 : k + 1 + count]) if line.startswith("ITEM:")), None)
        if short is not None or len(rows) < count:
            found = len(rows) if short is None else short
            where = "the end of the file" if short is None else f"the next 'ITEM:' line ({k + 2 + short})"
            self.fail("", f"frame {frame} (timestep {step}, ATOMS at line {k + 1}) has {found} of its {count} atom rows"
                          f" before {where}")
        bad = next((i for i, r in enumerate(rows) if len(r) != len(names)), None)
        if bad is not None:
            self.fail(f":{k + 2 + bad}", f"{len(rows[bad])} values for the {len(names)} columns {names}")
        self._keep(np.array(rows), k, frame, step)
        self.boxes.append(item["BOX BOUNDS"])
        return k + 1 + count

    def _columns(self, k: int, frame: int) -> list[str]:
        names = self.lines[k].split()[2:]
        if self.columns is not None and names != list(self.columns):
            self.fail(f":{k + 1}", f"frame {frame} has columns {names}, frame 0 has {list(self.columns)}")
        self.columns = {name: c for c, name in enumerate(names)}
        for need in ("id", "type", "vx", "vy", "vz"):
            if need not in self.columns:
                self.fail(f":{k + 1}", f"no {need!r} column (the columns are {names}); ogn needs `dump custom` with id"
                                       " type, positions and vx vy vz")
        if not any(all(c in self.columns for c in style) for style in _POSITION_STYLES):
            self.fail(f":{k + 1}", f"no position columns: need x y z, xu yu zu, xs ys zs or xsu ysu zsu; the columns"
                                   f" are {names}")
        return names

    def _keep(self, table: np.ndarray, k: int, frame: int, step: int) -> None:
        """One frame's rows in id order, checked against frame 0 (the same atoms, the same types)."""
        columns = self.columns
        frame_ids = _numeric(self.path, table, columns, "id", k, int)
        order = np.argsort(frame_ids, kind="stable")
        if self.ids is None:
            self.ids = frame_ids[order]
            if len(np.unique(self.ids)) != self.n:
                self.fail("", "frame 0 has duplicate atom ids")
        elif not np.array_equal(frame_ids[order], self.ids):
            self.fail("", f"frame {frame} (timestep {step}) has other atom ids than frame 0")
        table = table[order]
        for name in ("type", "element", "mass"):  # what an atom is may not change along the trajectory
            if self.frames and name in columns:
                first = self.frames[0][0][:, columns[name]]
                if not np.array_equal(table[:, columns[name]], first):
                    atom = int(np.argmax(table[:, columns[name]] != first))
                    self.fail("", f"frame {frame} (timestep {step}) gives atom id {self.ids[atom]} another {name}"
                                  f" ({table[atom, columns[name]]}) than frame 0 ({first[atom]})")
        self.frames.append((table, k))
        self.steps.append(step)

    def sides(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower corner, sides) of the box, which must be the same in every frame."""
        box_lo, box_hi = self.boxes[0]
        scale = 1e-9 * np.abs(box_hi).max()
        for f, (lo, hi) in enumerate(self.boxes):
            if not (np.allclose(lo, box_lo, rtol=0, atol=scale) and np.allclose(hi, box_hi, rtol=0, atol=scale)):
                self.fail("", f"the box changes at frame {f} (timestep {self.steps[f]}): {lo.tolist()} - {hi.tolist()},"
                              f" frame 0 has {box_lo.tolist()} - {box_hi.tolist()}; ogn needs a fixed box (NVE or NVT,"
                              " not NPT)")
        return box_lo, box_sides(box_hi - box_lo, f"{self.path}: box")

    def column_block(self, names, dtype=float) -> np.ndarray:
        """(F, N, len(names)) of these columns of every frame."""
        return np.stack([np.stack([_numeric(self.path, t, self.columns, c, k, dtype) for c in names], -1)
                         for t, k in self.frames])

    def trajectory(self) -> ObservedTrajectory:
        box_lo, sides = self.sides()
        columns = self.columns
        style = next(s for s in _POSITION_STYLES if all(c in columns for c in s))
        positions = self.column_block(style)
        positions = positions * sides if style[0].startswith("xs") else positions - box_lo
        wrapped = style in (("x", "y", "z"), ("xs", "ys", "zs"))
        if wrapped and all(c in columns for c in ("ix", "iy", "iz")):
            positions, wrapped = positions + self.column_block(("ix", "iy", "iz"), int) * sides, False
        elif wrapped:
            positions = unwrap_by_continuity(positions, sides)
        first, at = self.frames[0]
        types = _numeric(self.path, first, columns, "type", at, int)
        labels = first[:, columns["element"]] if "element" in columns else types.astype(str)
        masses = _numeric(self.path, first, columns, "mass", at) if "mass" in columns else None
        if masses is not None and np.any(masses <= 0):
            atom = int(np.argmax(masses <= 0))
            self.fail("", f"atom id {self.ids[atom]} has mass {masses[atom]:g}; masses must be positive")
        return ObservedTrajectory(str(self.path), positions, self.column_block(("vx", "vy", "vz")),
                                  np.asarray(self.steps, dtype=np.int64), sides, np.asarray(labels), types, masses,
                                  times=np.asarray(self.times) if len(self.times) == len(self.frames) else None,
                                  units=self.units, unwrapped_by_continuity=wrapped)


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
