"""Structures in and out: H5MD frames, LAMMPS data, extended XYZ and LAMMPS dump (OVITO reads all three).

extxyz and dump are read and written here rather than through ASE because ASE insists on chemical
element symbols (the LJ species are A and B) and converts velocities to its own units; ogn keeps the
trajectory's units (LJ reduced, or metal: A and A/ps) and names species as the preset does.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ogn.io.files import PartialFile, atomic_write_text, naming
from ogn.io.lammps_data import DataFileError, read_lammps_data, text_lines
from ogn.io.lammps_dump import read_lammps_dump
from ogn.io.types import Structure
from ogn.periodic import box_sides


def file_format(path: Path, error: type[DataFileError] = DataFileError) -> str | None:
    """"h5md", "dump" or "extxyz", told by content (the HDF5 signature, an `ITEM:` header) and then by
    extension; None for any other text (a LAMMPS data file, where one may be given). A missing file is a
    FileNotFoundError; a directory, an empty or a gzip-compressed file an `error` naming it."""
    if path.is_dir():
        raise error(f"{path}: a directory, not a file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(64)
    if not head:
        raise error(f"{path}: empty file (0 bytes)")
    if head.startswith(b"\x1f\x8b"):
        raise error(f"{path}: gzip-compressed; decompress it first (gunzip -k {path.name})")
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "h5md"
    if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"ITEM:"):  # after a byte-order mark
        return "dump"
    return "extxyz" if path.suffix in (".xyz", ".extxyz") else None


def read_structure(path: str | Path, species_names: tuple[str, ...], frame: int = -1, units: str | None = None
                   ) -> Structure:
    """A structure from an H5MD trajectory (one frame), a LAMMPS data file, an extxyz file, or a LAMMPS dump
    (one frame; species by its element column, else type t is species t - 1). `units` (LAMMPS style):
    those of the system, for files whose velocities are in another tool's units (ASE's momenta)."""
    path = Path(path)
    kind = file_format(path)
    if kind == "h5md":
        from ogn.io.h5md import read_trajectory

        t = read_trajectory(path, frames=frame)
        s = Structure(t.positions, t.species.astype(np.int32), t.box, t.velocities, step=int(t.steps))
    elif kind == "extxyz":
        s = read_extxyz(path, species_names, frame=frame, units=units)
    elif kind == "dump":
        s = _dump_frame(path, species_names, frame)
    else:
        s = read_lammps_data(path, n_species=len(species_names))
    if s.species.max() >= len(species_names):
        raise ValueError(f"{path}: species index {s.species.max()} (LAMMPS type {s.species.max() + 1}) unknown; the"
                         f" system's species are {species_names} (types 1..{len(species_names)} in that order)")
    return s


def _dump_frame(path: Path, species_names: tuple[str, ...], frame: int) -> Structure:
    t = read_lammps_dump(path)
    if not -t.n_frames <= frame < t.n_frames:
        raise DataFileError(f"{path}: frame {frame} does not exist; the file has {t.n_frames} frames")
    if np.array_equal(t.labels, t.types.astype(str)):
        species = t.types - 1
    else:
        unknown = sorted(set(t.labels.tolist()) - set(species_names))
        if unknown:
            raise DataFileError(f"{path}: unknown species {unknown}; the model's species are {list(species_names)}")
        species = np.array([species_names.index(x) for x in t.labels])
    type_masses = None
    if t.masses is not None:  # per species, for the caller's check against the model's masses
        type_masses = np.full(int(species.max()) + 1, np.nan)
        type_masses[species] = t.masses
    return Structure(t.positions[frame], species.astype(np.int32), t.box, t.velocities[frame],
                     type_masses=type_masses, step=int(t.steps[frame]))


_KEYVAL = re.compile(r'(\w+)=("[^"]*"|\S+)')
VELOCITY_COLUMNS = ("vel", "velo", "velocities")


@dataclass
class ExtxyzFrame:
    labels: np.ndarray  # (N,) str | `species_name` where present (ogn's non-element species), else `species`
    positions: np.ndarray  # (N, 3)
    velocities: np.ndarray | None  # (N, 3) from vel/velo/velocities, in the trajectory's own units
    box: np.ndarray  # (3,) orthorhombic sides
    step: int | None  # from Step= or timestep=
    masses: np.ndarray | None  # (N,) from a `masses` column
    line: int  # 1-based line of the frame's atom count
    ids: np.ndarray | None = None  # (N,) int from an `id` column (OVITO and LAMMPS exports)
    momenta: np.ndarray | None = None  # (N, 3) ASE's `momenta` (amu A per ASE time unit), where no velocities


def read_extxyz_frames(path: str | Path) -> list[ExtxyzFrame]:
    """Every frame of an extended XYZ file with an orthorhombic Lattice; a problem names the file and line."""
    path = Path(path)
    lines = text_lines(path)
    starts, k = [], 0
    while k < len(lines):
        if not lines[k].strip():
            k += 1
            continue
        try:
            n = int(lines[k].split()[0])
        except (ValueError, IndexError):
            raise DataFileError(f"{path}:{k + 1}: expected an atom count, got {lines[k]!r}") from None
        if n < 1:
            raise DataFileError(f"{path}:{k + 1}: frame {len(starts)} has atom count {n}")
        if k + n + 2 > len(lines):
            raise DataFileError(f"{path}:{k + 1}: frame {len(starts)} is truncated: its atom count is {n}, "
                                f"but the file ends after {max(len(lines) - k - 2, 0)} rows")
        starts.append(k)
        k += n + 2
    if not starts:
        raise DataFileError(f"{path}: empty extxyz file")
    return [_extxyz_frame(path, lines, start) for start in starts]


def _extxyz_frame(path: Path, lines: list[str], start: int) -> ExtxyzFrame:
    n = int(lines[start].split()[0])
    where = f"{path}:{start + 2}"
    header = {m.group(1): m.group(2).strip("\"") for m in _KEYVAL.finditer(lines[start + 1])}
    box = _extxyz_box(where, header)
    columns, col = _extxyz_columns(where, header.get("Properties", "species:S:1:pos:R:3"))
    rows = [lines[start + 2 + a].split() for a in range(n)]
    short = next((a for a, r in enumerate(rows) if len(r) != col), None)
    if short is not None:
        raise DataFileError(f"{path}:{start + 3 + short}: {len(rows[short])} columns, but Properties on line"
                            f" {start + 2} declares {col} ({header.get('Properties', 'species:S:1:pos:R:3')})")

    def block(name):
        c, w = columns[name]
        try:
            values = np.array([[float(x) for x in r[c : c + w]] for r in rows])
        except ValueError:
            raise DataFileError(f"{path}: non-numeric value in column {name!r} (frame at line {start + 1})") from None
        bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
        if len(bad):
            raise DataFileError(f"{path}:{start + 3 + bad[0]}: non-finite value in column {name!r}")
        return values

    label_column = "species_name" if "species_name" in columns else "species"
    velocity = next((c for c in VELOCITY_COLUMNS if c in columns), None)
    step = header.get("Step", header.get("timestep"))
    try:
        step = None if step is None else int(float(step))
    except ValueError:
        raise DataFileError(f"{path}:{start + 2}: Step={step!r} is not a number") from None
    return ExtxyzFrame(np.asarray([r[columns[label_column][0]] for r in rows]), block("pos"),
                       block(velocity) if velocity else None, box, step,
                       block("masses")[:, 0] if "masses" in columns else None, start + 1,
                       ids=block("id")[:, 0].astype(np.int64) if "id" in columns else None,
                       momenta=block("momenta") if "momenta" in columns and not velocity else None)


def _extxyz_box(where: str, header: dict) -> np.ndarray:
    """The orthorhombic sides of a frame's Lattice (nine numbers); a periodic box on all three axes."""
    if "Lattice" not in header:
        raise DataFileError(f"{where}: comment line has no Lattice=")
    try:
        lattice = np.array(header["Lattice"].split(), dtype=float)
    except ValueError:
        raise DataFileError(f"{where}: Lattice=\"{header['Lattice']}\" is not nine numbers") from None
    if lattice.size != 9:
        raise DataFileError(f"{where}: Lattice has {lattice.size} numbers, expected nine (three cell vectors)")
    pbc = header.get("pbc", "T T T").split()
    if [p.upper() in ("T", "TRUE", "1") for p in pbc] != [True] * 3:
        raise DataFileError(f"{where}: pbc=\"{header['pbc']}\": ogn simulates periodic boxes only (pbc=\"T T T\")")
    try:
        return box_sides(lattice.reshape(3, 3), f"{where}: Lattice")
    except ValueError as err:
        raise DataFileError(str(err)) from None


def _extxyz_columns(where: str, properties: str) -> tuple[dict[str, tuple[int, int]], int]:
    """{name: (first column, width)} and the row width of a Properties= declaration."""
    props = properties.split(":")
    if len(props) % 3:
        raise DataFileError(f"{where}: Properties={properties} is not NAME:TYPE:WIDTH triples")
    columns, col = {}, 0
    for name, kind, width in zip(props[::3], props[1::3], props[2::3]):
        if kind not in ("S", "R", "I", "L") or not width.isdigit() or int(width) < 1:
            raise DataFileError(f"{where}: Properties: {name}:{kind}:{width} is not NAME:TYPE:WIDTH (TYPE S, R, I or L)")
        columns[name] = (col, int(width))
        col += int(width)
    for need in ("species", "pos"):
        if need not in columns:
            raise DataFileError(f"{where}: Properties has no {need!r} column")
    for name in ("pos", *VELOCITY_COLUMNS, "momenta"):
        if name in columns and columns[name][1] != 3:
            raise DataFileError(f"{where}: Properties: {name!r} has {columns[name][1]} components; ogn reads 3-D"
                                " systems (width 3)")
    return columns, col


def read_extxyz(path: str | Path, species_names: tuple[str, ...], frame: int = -1, units: str | None = None
                ) -> Structure:
    """One frame of an extended XYZ file with an orthorhombic Lattice, species and `pos`, and velocities
    (`vel`, or ASE's `momenta` converted to LAMMPS `units`) if present; atoms in the order of an `id`
    column where there is one."""
    frames = read_extxyz_frames(path)
    if not -len(frames) <= frame < len(frames):
        raise DataFileError(f"{path}: frame {frame} does not exist; the file has {len(frames)} frames")
    f = sorted_by_id(frames[frame])
    unknown = sorted(set(f.labels.tolist()) - set(species_names))
    if unknown:
        raise DataFileError(f"{path}: unknown species {unknown}; this system has {list(species_names)}")
    species = np.array([species_names.index(s) for s in f.labels], dtype=np.int32)
    velocities = f.velocities
    if velocities is None and f.momenta is not None:
        from ogn.units import ase_time_unit

        if units not in ("metal", "real"):
            raise DataFileError(f"{path}: ASE momenta have no meaning in {units} units (ASE works in A, eV, amu)")
        velocities = ase_velocities(path, f) * ase_time_unit(units)
    return Structure(f.positions, species, f.box, velocities, step=f.step or 0)


def sorted_by_id(f: ExtxyzFrame) -> ExtxyzFrame:
    """The frame with its atoms in the order of its `id` column (OVITO and LAMMPS exports list them in any
    order), or as it is without one."""
    if f.ids is None:
        return f
    order = np.argsort(f.ids, kind="stable")
    return dataclasses.replace(f, **{name: getattr(f, name)[order] for name in
                                     ("labels", "positions", "velocities", "masses", "ids", "momenta")
                                     if getattr(f, name) is not None})


def ase_velocities(path: Path, f: ExtxyzFrame, error: type[DataFileError] = DataFileError) -> np.ndarray:
    """ASE's momenta over the masses (a `masses` column, else the elements' standard masses): velocities in
    A per ASE time unit."""
    from ase.data import atomic_masses, atomic_numbers

    masses = f.masses
    if masses is None:
        unknown = sorted(set(f.labels.tolist()) - set(atomic_numbers))
        if unknown:
            raise error(f"{path}: momenta but no masses column, and {unknown} are not elements")
        masses = np.array([atomic_masses[atomic_numbers[s]] for s in f.labels])
    return f.momenta / masses[:, None]


@dataclass(frozen=True)
class AseColumns:
    """ASE's own `momenta` (amu A per ASE time unit) and `masses` columns, written beside `vel` so that
    `ase.io.read` gets the momenta (and the temperature) right: metal and real units only."""

    to_ase_velocity: float  # a velocity in the trajectory's units times this is ASE's
    masses: np.ndarray  # (N,) amu

    @classmethod
    def of(cls, units: str, masses) -> AseColumns | None:
        """The columns for LAMMPS `units` (None for LJ reduced units, which ASE has no place for)."""
        from ogn.units import ase_time_unit

        if units not in ("metal", "real") or masses is None:
            return None
        return cls(1.0 / ase_time_unit(units), np.asarray(masses, np.float64))


def _extxyz_header(n_atoms: int, box, props: str, step=None, time=None, time_unit=None, energy=None) -> list[str]:
    lx, ly, lz = (float(b) for b in box_sides(box))
    extra = "" if step is None else f" Step={int(step)}"
    if time is not None:
        extra += f" Time={float(time)!r}" + (f" TimeUnit={time_unit}" if time_unit else "")
    if energy is not None and np.isfinite(energy):
        extra += f" energy={float(energy)!r}"
    return [str(n_atoms), f'Lattice="{lx!r} 0.0 0.0 0.0 {ly!r} 0.0 0.0 0.0 {lz!r}" Properties={props} pbc="T T T"{extra}']


def extxyz_text(frames, species, species_names, box, steps=None, times=None, time_unit: str | None = None,
                ase: AseColumns | None = None, energies=None) -> str:
    """frames: iterable of (positions, velocities); positions as given (unwrapped stays unwrapped),
    velocities in the trajectory's units (column `vel`), and with `ase` also as ASE's `momenta` (with a
    `masses` column). `energies`: each frame's potential energy (`energy=`, the system's energy unit).

    Where every species is a chemical element, `species` holds the symbols (ASE and OVITO read them as
    elements). Otherwise (the LJ species A and B) `species` is X, ASE's "no element", and the names go in a
    per-atom `species_name` column, which OVITO shows as a property and `ogn` reads back as the species.
    `Step=` is the MD step, `Time=` the time in `time_unit` (given as `TimeUnit=`)."""
    from ase.data import atomic_numbers

    elements = all(name in atomic_numbers and name != "X" for name in species_names)
    labels = np.asarray([species_names[s] if elements else "X" for s in species])
    out = []
    for f, (positions, velocities) in enumerate(frames):
        props, columns = "species:S:1:pos:R:3", [positions]
        if velocities is not None:
            props, columns = props + ":vel:R:3", columns + [velocities]
            if ase is not None:
                momenta = np.asarray(velocities, np.float64) * ase.to_ase_velocity * ase.masses[:, None]
                props, columns = props + ":momenta:R:3:masses:R:1", columns + [momenta, ase.masses[:, None]]
        if not elements:
            props += ":species_name:S:1"
        out += _extxyz_header(len(species), box, props, None if steps is None else steps[f],
                              None if times is None else times[f], time_unit,
                              None if energies is None else energies[f])
        numbers = np.concatenate([np.asarray(c, np.float64).reshape(len(species), -1) for c in columns], -1)
        for a, row in enumerate(numbers):
            cells = [labels[a], *map(repr, row.tolist())]
            out.append(" ".join(cells if elements else [*cells, species_names[species[a]]]))
    return "\n".join(out) + "\n"


def write_extxyz(path: str | Path, frames, species, species_names, box, steps=None, times=None,
                 time_unit: str | None = None, ase: AseColumns | None = None) -> None:
    """All `frames` to `path` at once (written to a temporary name, then renamed); see extxyz_text."""
    atomic_write_text(path, extxyz_text(frames, species, species_names, box, steps, times, time_unit, ase))


class ExtxyzWriter:
    """An extxyz trajectory written frame block by frame block, as TrajectoryWriter writes H5MD: to a
    temporary file beside PATH, renamed to PATH when complete, or to PATH's failed_path when the run failed.
    `units` (a `Units`) and `masses` add ASE's momenta (metal, real)."""

    def __init__(self, path: str | Path, species, species_names, box, dt: float, units, masses=None):
        self.partial = PartialFile(path)
        self.species, self.species_names, self.box = species, species_names, box
        self.dt, self.time_unit = dt, units.time
        self.ase = AseColumns.of(units.name, masses)
        self.file = open(self.partial.tmp, "w")  # noqa: SIM115 (closed in __exit__, renamed there)

    def append(self, steps, positions, velocities, potential_energy=None) -> None:
        steps = np.asarray(steps)
        text = extxyz_text(zip(positions, velocities), self.species, self.species_names, self.box, steps=steps,
                           times=steps * self.dt, time_unit=self.time_unit, ase=self.ase, energies=potential_energy)
        with naming(self.partial.path):
            self.file.write(text)
            self.file.flush()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.file.close()
        except OSError:  # the buffered rest of a failed write fails again: the file is kept as failed
            if exc_type is None:
                self.partial.finish(False)
                raise
        self.partial.finish(exc_type is None)
        return False


def write_lammps_dump(path: str | Path, frames, species, box, steps) -> None:
    """LAMMPS text dump with unwrapped coordinates: id type xu yu zu vx vy vz (type = species + 1)."""
    out = []
    for f, (positions, velocities) in enumerate(frames):
        out += ["ITEM: TIMESTEP", str(int(steps[f])), "ITEM: NUMBER OF ATOMS", str(len(species))]
        out += ["ITEM: BOX BOUNDS pp pp pp"] + [f"0.0 {float(side)!r}" for side in box_sides(box)]
        out.append("ITEM: ATOMS id type xu yu zu vx vy vz")
        for a in range(len(species)):
            vals = list(positions[a]) + list(velocities[a])
            out.append(f"{a + 1} {species[a] + 1} " + " ".join(repr(float(x)) for x in vals))
    atomic_write_text(path, "\n".join(out) + "\n")

