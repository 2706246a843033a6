"""LAMMPS data files (atom_style atomic or charge), read and written without unit conversion.

Atoms are returned in atom-id order; atom type t is species t - 1. Velocities are read when the file has a
Velocities section. Errors name the file, the line and what is wrong.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ogn.io.files import atomic_write_text
from ogn.io.types import Structure

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


def text_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file; an empty or binary file is a DataFileError naming it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data = path.read_bytes()
    if not data:
        raise DataFileError(f"{path}: empty file (0 bytes)")
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (Windows editors write one) is not part of the text
    except UnicodeDecodeError as err:
        bad = err.start
    else:
        bad = data.find(b"\0")  # valid UTF-8, but no text file holds NUL bytes
    if bad >= 0:
        line = data.count(b"\n", 0, bad) + 1
        raise DataFileError(f"{path}:{line}: not a text file (byte {data[bad]:#04x} at offset {bad})")
    return text.splitlines()


def read_lammps_data(path: str | Path, n_species: int | None = None) -> Structure:
    """The structure of a LAMMPS data file (atom_style atomic or charge, orthorhombic box), atoms in id
    order; `n_species`: the system's, for a clear error on an unknown atom type."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    f = _DataFile(path, text_lines(path))
    f.scan_header()
    origin, box = f.box()
    ids, types, positions, charges = f.atoms(box, n_species)
    order = np.argsort(ids)
    return Structure(
        positions=(positions - origin)[order],
        species=(types[order] - 1).astype(np.int32),
        box=box,
        velocities=f.velocities(ids[order]) if "Velocities" in f.sections else None,
        charges=None if charges is None else charges[order],
        type_masses=f.masses() if "Masses" in f.sections else None,
    )


class _DataFile:
    """A data file being read: its lines, the header's counts and bounds, and where each section starts.
    Every error names the file and the line."""

    def __init__(self, path: Path, lines: list[str]):
        self.path, self.lines = path, lines
        self.counts: dict[str, int] = {}
        self.bounds: dict[str, tuple[float, float]] = {}
        self.sections: dict[str, tuple[int, str]] = {}  # name -> (line of header, style comment)

    def fail(self, lineno: int, what: str):
        raise DataFileError(f"{self.path}:{lineno + 1}: {what}")

    def scan_header(self) -> None:
        for k in range(1, len(self.lines)):  # the first line is a comment by definition
            raw = self.lines[k]
            text = raw.split("#", 1)[0].strip()
            if text in _SECTIONS:
                self.sections[text] = (k, raw.split("#", 1)[1].strip() if "#" in raw else "")
            elif not self.sections and text:
                self._header_line(k, raw, text)

    def _header_line(self, k: int, raw: str, text: str) -> None:
        matched = False
        for key, rx in _HEADER.items():
            m = rx.match(text)
            if m:
                self.counts[key], matched = int(m.group(1)), True
        m = _BOUNDS.match(text)
        if m:
            if m.group(3) != m.group(4):
                self.fail(k, f"malformed box bounds line {raw!r}")
            try:
                self.bounds[m.group(3)] = (float(m.group(1)), float(m.group(2)))
            except ValueError:
                self.fail(k, f"malformed box bounds line {raw!r}")
            if not np.isfinite(self.bounds[m.group(3)]).all():
                self.fail(k, f"non-finite box bounds {raw!r}")
            matched = True
        if _TILT.match(text):
            try:
                tilts = [float(x) for x in text.split()[:3]]
            except ValueError:
                self.fail(k, f"malformed tilt line {raw!r}")
            if any(tilts):
                self.fail(k, f"a triclinic box (tilts {tilts}); ogn supports orthorhombic boxes only")
            matched = True
        if not matched and not re.match(r"^\s*\d+\s+\w+(\s+\w+)?\s*$", text):
            self.fail(k, f"unrecognised header line {raw!r}")

    @property
    def n_atoms(self) -> int:
        return self.counts["atoms"]

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """(origin, sides) of the box, after the header's own checks."""
        path = self.path
        if "atoms" not in self.counts:
            raise DataFileError(f"{path}: header has no 'N atoms' line")
        if "Atoms" not in self.sections:
            raise DataFileError(f"{path}: no Atoms section")
        if self.n_atoms == 0:
            raise DataFileError(f"{path}: header says 0 atoms")
        for axis in "xyz":
            if axis not in self.bounds:
                raise DataFileError(f"{path}: header has no '{axis}lo {axis}hi' line")
        sides = np.array([self.bounds[a][1] - self.bounds[a][0] for a in "xyz"])
        if sides.min() <= 0:
            raise DataFileError(f"{path}: box bounds {self.bounds} are empty")
        return np.array([self.bounds[a][0] for a in "xyz"]), sides

    def rows(self, section: str) -> list[tuple[int, list[str]]]:
        """(line, columns) of every row of `section`, which must have one per atom."""
        start, _ = self.sections[section]
        out = []
        for k in range(start + 1, len(self.lines)):
            text = self.lines[k].split("#", 1)[0].strip()
            if text in _SECTIONS:
                break
            if text:
                out.append((k, text.split()))
        if len(out) != self.n_atoms:
            self.fail(start, f"{section} section has {len(out)} rows, header says {self.n_atoms} atoms")
        return out

    def atom_style(self, width: int) -> str:
        atom_line, style = self.sections["Atoms"]
        if not style:
            # No style comment: guess from the column count (with or without 3 image flags) only where no other
            # common style has that count. 6 and 9 fit charge (id type q x y z) but also molecular, bond and
            # angle (id mol type x y z), which would be read without complaint, with molecule ids as types.
            style = {5: "atomic", 8: "atomic"}.get(width, "")
            if not style:
                self.fail(atom_line, f"Atoms section has no style comment, and its {width} columns do not say which "
                                     "atom style it is: add one, 'Atoms # atomic' or 'Atoms # charge'")
        if style not in ("atomic", "charge"):
            self.fail(atom_line, f"Atoms section style {style or '(unknown)'!r}: ogn reads 'atomic' or 'charge'")
        return style

    def atoms(self, box: np.ndarray, n_species: int | None):
        """(ids, types, unwrapped positions, charges or None), in file order."""
        atom_rows = self.rows("Atoms")
        style = self.atom_style(len(atom_rows[0][1]))
        ncol, n = (5 if style == "atomic" else 6), self.n_atoms
        ids, types = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        pos, images = np.empty((n, 3)), np.zeros((n, 3))
        charges = np.zeros(n) if style == "charge" else None
        for a, (lineno, cols) in enumerate(atom_rows):
            if len(cols) not in (ncol, ncol + 3):
                self.fail(lineno, f"expected {ncol} or {ncol + 3} columns for atom_style {style}, got {len(cols)}")
            try:
                ids[a], types[a] = int(cols[0]), int(cols[1])
                if charges is not None:
                    charges[a] = float(cols[2])
                pos[a] = [float(x) for x in cols[ncol - 3 : ncol]]
                if len(cols) == ncol + 3:
                    images[a] = [int(x) for x in cols[ncol:]]
            except ValueError:
                self.fail(lineno, f"malformed Atoms line {self.lines[lineno]!r}")
            if not np.isfinite(pos[a]).all() or (charges is not None and not np.isfinite(charges[a])):
                self.fail(lineno, f"non-finite value in Atoms line {self.lines[lineno]!r}")
            self._check_type(lineno, types[a], n_species)
        if len(np.unique(ids)) != n:
            raise DataFileError(f"{self.path}: duplicate atom ids in the Atoms section")
        return ids, types, pos + images * box, charges

    def _check_type(self, lineno: int, atom_type: int, n_species: int | None) -> None:
        n_types = self.counts.get("atom types")
        limit = n_types if n_types is not None else n_species
        if atom_type < 1 or (limit is not None and atom_type > limit):
            self.fail(lineno, f"atom type {atom_type} outside 1..{limit}")
        if n_species is not None and atom_type > n_species:
            self.fail(lineno, f"unknown atom type {atom_type}: this preset has {n_species} species (types 1..{n_species})")

    def velocities(self, ids_in_order: np.ndarray) -> np.ndarray:
        vel = {}
        for lineno, cols in self.rows("Velocities"):
            if len(cols) != 4:
                self.fail(lineno, f"expected 4 columns in Velocities, got {len(cols)}")
            try:
                v = [float(x) for x in cols[1:]]
                vel[int(cols[0])] = v
            except ValueError:
                self.fail(lineno, f"malformed Velocities line {self.lines[lineno]!r}")
            if not np.isfinite(v).all():
                self.fail(lineno, f"non-finite value in Velocities line {self.lines[lineno]!r}")
        if set(vel) != set(ids_in_order.tolist()):
            raise DataFileError(f"{self.path}: Velocities atom ids do not match the Atoms section")
        return np.array([vel[i] for i in ids_in_order])

    def masses(self) -> np.ndarray:
        """(T,) the mass of each type 1..T listed (NaN for a type the section skips)."""
        given = {}
        for k in range(self.sections["Masses"][0] + 1, len(self.lines)):
            text = self.lines[k].split("#", 1)[0].strip()
            if text in _SECTIONS:
                break
            if not text:
                continue
            try:
                t, m = text.split()[:2]
                given[int(t)] = float(m)
            except ValueError:
                self.fail(k, f"malformed Masses line {self.lines[k]!r}")
            if not (np.isfinite(given[int(t)]) and given[int(t)] > 0):
                self.fail(k, f"mass must be positive and finite: {self.lines[k]!r}")
        return np.array([given.get(t, np.nan) for t in range(1, max(given, default=0) + 1)])


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
