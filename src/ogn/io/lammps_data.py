"""LAMMPS data files (atom_style atomic or charge), read and written without unit conversion.

Atoms are returned in atom-id order; atom type t is species t - 1. Velocities are read when the file has a
Velocities section. Errors name the file, the line and what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ogn.io.files import atomic_write_text
from ogn.periodic import box_sides

_HEADER = {
    "atoms": re.compile(r"^\s*(\d+)\s+atoms\s*$"),
    "atom types": re.compile(r"^\s*(\d+)\s+atom\s+types\s*$"),
}
_BOUNDS = re.compile(r"^\s*(\S+)\s+(\S+)\s+(x|y|z)lo\s+(x|y|z)hi\s*$")
_TILT = re.compile(r"^\s*\S+\s+\S+\s+\S+\s+xy\s+xz\s+yz\s*$")
# every section keyword LAMMPS knows: a section's rows end where the next section begins
_SECTIONS = {
    "Atoms", "Velocities", "Masses", "Bonds", "Angles", "Dihedrals", "Impropers", "Pair Coeffs",
    "PairIJ Coeffs", "Bond Coeffs", "Angle Coeffs", "Dihedral Coeffs", "Improper Coeffs",
    "Ellipsoids", "Lines", "Triangles", "Bodies", "BondBond Coeffs", "BondAngle Coeffs",
    "MiddleBondTorsion Coeffs", "EndBondTorsion Coeffs", "AngleTorsion Coeffs", "AngleAngleTorsion Coeffs",
    "BondBond13 Coeffs", "AngleAngle Coeffs",
}


class DataFileError(ValueError):
    """A LAMMPS data file that cannot be read; the message names the file and line."""


@dataclass
class Structure:
    """An atomic configuration in an orthorhombic periodic box whose lower corner is the origin."""

    positions: np.ndarray  # (N, 3) float64 | positions, possibly unwrapped
    species: np.ndarray  # (N,) int32 | species index 0..S-1
    box: np.ndarray  # (3,) float64 | box sides
    velocities: np.ndarray | None = None  # (N, 3) float64 | velocities, length/time
    charges: np.ndarray | None = None  # (N,) float64 | charges where the file had them
    type_masses: np.ndarray | None = None  # (T,) float64 | mass of atom type t + 1, where the file had Masses
    step: int = 0  # MD step of this configuration, where the file says (H5MD, dump, extxyz Step=)

    def __post_init__(self):
        self.box = box_sides(self.box)

    @property
    def n_atoms(self) -> int:
        return len(self.species)

    def tiled(self, reps: int) -> Structure:
        """`reps`^3 copies side by side in a box `reps` times larger (a periodic state of that box), each
        atom wrapped into its copy; velocities copied along."""
        shifts = np.stack(np.meshgrid(*[np.arange(reps)] * 3, indexing="ij"), -1).reshape(-1, 3) * self.box
        positions = (np.mod(self.positions, self.box)[None] + shifts[:, None]).reshape(-1, 3)
        velocities = None if self.velocities is None else np.tile(self.velocities, (len(shifts), 1))
        return Structure(positions, np.tile(self.species, len(shifts)).astype(np.int32), self.box * reps, velocities)


def text_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file; an empty or binary file is a DataFileError naming it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data = path.read_bytes()
    if not data:
        raise DataFileError(f"{path}: empty file (0 bytes)")
    try:
        text = data.decode()
    except UnicodeDecodeError as err:
        bad = err.start
    else:
        bad = data.find(b"\0")  # valid UTF-8, but no text file holds NUL bytes
    if bad >= 0:
        line = data.count(b"\n", 0, bad) + 1
        raise DataFileError(f"{path}:{line}: not a text file (byte {data[bad]:#04x} at offset {bad})")
    return text.splitlines()


def read_lammps_data(path: str | Path, n_species: int | None = None) -> Structure:
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    lines = text_lines(path)

    def fail(lineno: int, what: str):
        raise DataFileError(f"{path}:{lineno + 1}: {what}")

    counts: dict[str, int] = {}
    bounds: dict[str, tuple[float, float]] = {}
    sections: dict[str, tuple[int, str]] = {}  # name -> (line of header, style comment)
    k = 1  # the first line is a comment by definition
    while k < len(lines):
        raw = lines[k]
        text = raw.split("#", 1)[0].strip()
        name = text
        if name in _SECTIONS:
            style = raw.split("#", 1)[1].strip() if "#" in raw else ""
            sections[name] = (k, style)
            k += 1
            continue
        if not sections and text:
            matched = False
            for key, rx in _HEADER.items():
                m = rx.match(text)
                if m:
                    counts[key] = int(m.group(1))
                    matched = True
            m = _BOUNDS.match(text)
            if m:
                if m.group(3) != m.group(4):
                    fail(k, f"malformed box bounds line {raw!r}")
                try:
                    bounds[m.group(3)] = (float(m.group(1)), float(m.group(2)))
                except ValueError:
                    fail(k, f"malformed box bounds line {raw!r}")
                if not np.isfinite(bounds[m.group(3)]).all():
                    fail(k, f"non-finite box bounds {raw!r}")
                matched = True
            if _TILT.match(text):
                try:
                    tilts = [float(x) for x in text.split()[:3]]
                except ValueError:
                    fail(k, f"malformed tilt line {raw!r}")
                if any(tilts):
                    fail(k, f"a triclinic box (tilts {tilts}); ogn supports orthorhombic boxes only")
                matched = True
            if not matched and not re.match(r"^\s*\d+\s+\w+(\s+\w+)?\s*$", text):
                fail(k, f"unrecognised header line {raw!r}")
        k += 1

    if "atoms" not in counts:
        raise DataFileError(f"{path}: header has no 'N atoms' line")
    if "Atoms" not in sections:
        raise DataFileError(f"{path}: no Atoms section")
    n = counts["atoms"]
    if n == 0:
        raise DataFileError(f"{path}: header says 0 atoms")
    n_types = counts.get("atom types")
    for axis in "xyz":
        if axis not in bounds:
            raise DataFileError(f"{path}: header has no '{axis}lo {axis}hi' line")
    sides = {a: hi - lo for a, (lo, hi) in bounds.items()}
    if min(sides.values()) <= 0:
        raise DataFileError(f"{path}: box bounds {bounds} are empty")
    origin = np.array([bounds[a][0] for a in "xyz"])
    box = np.array([sides[a] for a in "xyz"])

    def rows(section: str) -> list[tuple[int, list[str]]]:
        start, _ = sections[section]
        out = []
        for k in range(start + 1, len(lines)):
            text = lines[k].split("#", 1)[0].strip()
            if text in _SECTIONS:
                break
            if text:
                out.append((k, text.split()))
        if len(out) != n:
            fail(start, f"{section} section has {len(out)} rows, header says {n} atoms")
        return out

    atom_line, style = sections["Atoms"]
    atom_rows = rows("Atoms")
    width = len(atom_rows[0][1])
    if not style:
        # No style comment: guess from the column count (with or without 3 image flags) only where no other
        # common style has that count. 6 and 9 fit charge (id type q x y z) but also molecular, bond and
        # angle (id mol type x y z), which would be read without complaint, with molecule ids as types.
        style = {5: "atomic", 8: "atomic"}.get(width, "")
        if not style:
            fail(atom_line, f"Atoms section has no style comment, and its {width} columns do not say which "
                            "atom style it is: add one, 'Atoms # atomic' or 'Atoms # charge'")
    if style not in ("atomic", "charge"):
        fail(atom_line, f"Atoms section style {style or '(unknown)'!r}: ogn reads 'atomic' or 'charge'")
    ncol = 5 if style == "atomic" else 6
    ids = np.empty(n, dtype=np.int64)
    types = np.empty(n, dtype=np.int64)
    pos = np.empty((n, 3))
    images = np.zeros((n, 3))
    charges = np.zeros(n) if style == "charge" else None
    for a, (lineno, cols) in enumerate(atom_rows):
        if len(cols) not in (ncol, ncol + 3):
            fail(lineno, f"expected {ncol} or {ncol + 3} columns for atom_style {style}, got {len(cols)}")
        try:
            ids[a] = int(cols[0])
            types[a] = int(cols[1])
            if style == "charge":
                charges[a] = float(cols[2])
            pos[a] = [float(x) for x in cols[ncol - 3 : ncol]]
            if len(cols) == ncol + 3:
                images[a] = [int(x) for x in cols[ncol:]]
        except ValueError:
            fail(lineno, f"malformed Atoms line {lines[lineno]!r}")
        if not np.isfinite(pos[a]).all() or (charges is not None and not np.isfinite(charges[a])):
            fail(lineno, f"non-finite value in Atoms line {lines[lineno]!r}")
        limit = n_types if n_types is not None else n_species
        if types[a] < 1 or (limit is not None and types[a] > limit):
            fail(lineno, f"atom type {types[a]} outside 1..{limit}")
        if n_species is not None and types[a] > n_species:
            fail(lineno, f"unknown atom type {types[a]}: this preset has {n_species} species (types 1..{n_species})")
    if len(np.unique(ids)) != n:
        raise DataFileError(f"{path}: duplicate atom ids in the Atoms section")
    order = np.argsort(ids)
    positions = (pos + images * box - origin)[order]

    velocities = None
    if "Velocities" in sections:
        vel = {}
        for lineno, cols in rows("Velocities"):
            if len(cols) != 4:
                fail(lineno, f"expected 4 columns in Velocities, got {len(cols)}")
            try:
                v = [float(x) for x in cols[1:]]
                vel[int(cols[0])] = v
            except ValueError:
                fail(lineno, f"malformed Velocities line {lines[lineno]!r}")
            if not np.isfinite(v).all():
                fail(lineno, f"non-finite value in Velocities line {lines[lineno]!r}")
        if set(vel) != set(ids.tolist()):
            raise DataFileError(f"{path}: Velocities atom ids do not match the Atoms section")
        velocities = np.array([vel[i] for i in ids[order]])

    type_masses = None
    if "Masses" in sections:
        given = {}
        for k in range(sections["Masses"][0] + 1, len(lines)):
            text = lines[k].split("#", 1)[0].strip()
            if text in _SECTIONS:
                break
            if not text:
                continue
            try:
                t, m = text.split()[:2]
                given[int(t)] = float(m)
            except ValueError:
                fail(k, f"malformed Masses line {lines[k]!r}")
            if not (np.isfinite(given[int(t)]) and given[int(t)] > 0):
                fail(k, f"mass must be positive and finite: {lines[k]!r}")
        n_mass = max(given, default=0)
        type_masses = np.array([given.get(t, np.nan) for t in range(1, n_mass + 1)])

    return Structure(
        positions=positions,
        species=(types[order] - 1).astype(np.int32),
        box=box,
        velocities=velocities,
        charges=None if charges is None else charges[order],
        type_masses=type_masses,
    )


def write_lammps_data(
    path: str | Path,
    structure: Structure,
    masses,
    charges=None,
    comment: str = "written by ogn",
) -> None:
    """Write atom_style charge when charges are given (per species), atomic otherwise. Atomic write."""
    s = structure
    n_types = len(masses)
    wrapped = np.mod(s.positions, s.box)
    wrapped = np.where(wrapped >= s.box, 0.0, wrapped)  # mod can round up to exactly box
    crossings = np.rint((s.positions - wrapped) / s.box)
    # a non-finite coordinate is written as it is (the readers refuse it, naming the line), image 0
    images = np.where(np.isfinite(crossings), crossings, 0).astype(int)
    out = [f"# {comment}", "", f"{s.n_atoms} atoms", f"{n_types} atom types", ""]
    out += [f"0.0 {float(side)!r} {a}lo {a}hi" for a, side in zip("xyz", s.box)]
    out += ["", "Masses", ""] + [f"{t + 1} {m!r}" for t, m in enumerate(masses)]
    style = "charge" if charges is not None else "atomic"
    out += ["", f"Atoms # {style}", ""]
    for a in range(s.n_atoms):
        q = f" {float(charges[s.species[a]])!r}" if charges is not None else ""
        x, y, z = (float(c) for c in wrapped[a])
        ix, iy, iz = images[a]
        out.append(f"{a + 1} {s.species[a] + 1}{q} {x!r} {y!r} {z!r} {ix} {iy} {iz}")
    if s.velocities is not None:
        out += ["", "Velocities", ""]
        out += [f"{a + 1} " + " ".join(repr(float(v)) for v in s.velocities[a]) for a in range(s.n_atoms)]
    atomic_write_text(path, "\n".join(out) + "\n")
