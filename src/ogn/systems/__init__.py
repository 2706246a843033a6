"""System presets: species, masses, charges, box, temperature, timestep, cutoffs and the potential.

`get_system(name, ...)` builds a preset, optionally scaled to another number of atoms at the same number
density, with any value overridden. The presets follow the paper's Methods (section 4.1).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ogn.periodic import box_sides
from ogn.units import LJ, METAL, UNITS, Units


class Potential(Protocol):
    """What every interatomic model provides (see lennard_jones.py for the simplest one)."""

    cutoff: float  # largest interaction range
    neighbor_format: str  # name of the jax_md.partition.NeighborListFormat energy_fn expects ("OrderedSparse")

    def energy_fn(self, displacement_fn, species): ...  # -> energy(positions, neighbor_idx) -> scalar

    def lammps_commands(self, workdir: Path) -> list[str]: ...  # pair_style/pair_coeff; LAMMPS type = species + 1


@dataclass(frozen=True)
class System:
    name: str
    units: Units
    species_names: tuple[str, ...]  # species index s <-> LAMMPS atom type s + 1
    masses: tuple[float, ...]  # per species
    charges: tuple[float, ...]  # per species (zero where uncharged)
    counts: tuple[int, ...]  # atoms per species
    box: tuple[float, float, float]  # orthorhombic box sides (a number is a cube's side); `sides` as an array
    temperature: float
    dt: float
    skin: float  # of the potential's neighbor list: r_c = potential.cutoff + skin
    min_distance: float  # closest approach allowed by random placement
    potential: Potential | None  # None for a system known only from its trajectories (no energies, no MD)
    # a learned model's graph cutoff unless its config sets one: None for r_c (a preset's, the paper's
    # choice); a system known only from its trajectories has no r_c and sets it (`ogn dataset --cutoff`)
    graph_cutoff: float | None = None

    def __post_init__(self):
        n = len(self.species_names)
        for field in ("masses", "charges", "counts"):
            if len(getattr(self, field)) != n:
                raise ValueError(f"{field} has {len(getattr(self, field))} entries for {n} species")
        object.__setattr__(self, "box", tuple(float(b) for b in box_sides(self.box, f"system {self.name}")))
        for field in ("temperature", "dt", "min_distance"):
            if not getattr(self, field) > 0:
                raise ValueError(f"{field} must be positive, got {getattr(self, field)}")
        if self.skin < 0:
            raise ValueError(f"skin must be >= 0, got {self.skin}")
        # a box too small for the potential's r_c is refused where the potential is used (make_force_field):
        # a learned rollout needs only twice the model's graph cutoff

    @property
    def n_atoms(self) -> int:
        return int(sum(self.counts))

    @property
    def n_species(self) -> int:
        return len(self.species_names)

    @property
    def sides(self) -> np.ndarray:
        """(3,) float64 | the box sides, for arithmetic"""
        return np.asarray(self.box, dtype=np.float64)

    @property
    def volume(self) -> float:
        return float(np.prod(self.box))

    @property
    def potential_cutoff(self) -> float:
        return 0.0 if self.potential is None else self.potential.cutoff

    @property
    def neighbor_cutoff(self) -> float:
        return self.potential_cutoff + self.skin

    @property
    def default_graph_cutoff(self) -> float:
        return self.neighbor_cutoff if self.graph_cutoff is None else self.graph_cutoff

    @property
    def number_density(self) -> float:
        return self.n_atoms / self.volume

    def species(self) -> np.ndarray:
        """(N,) int | species of each atom, grouped in preset order."""
        return np.repeat(np.arange(self.n_species), self.counts).astype(np.int32)

    def atom_masses(self, species) -> np.ndarray:
        return np.asarray(self.masses, dtype=np.float64)[np.asarray(species)]

    def scaled(self, n_atoms: int) -> System:
        """The same system with n_atoms atoms at the same number density, composition and box shape."""
        if n_atoms < 2:
            raise ValueError(f"n_atoms must be >= 2, got {n_atoms}")
        if n_atoms == self.n_atoms:
            return self
        fractions = np.asarray(self.counts, dtype=float) / self.n_atoms
        counts = np.floor(fractions * n_atoms).astype(int)
        # hand the remainder to the species with the largest fractional parts
        remainder = n_atoms - counts.sum()
        order = np.argsort(-(fractions * n_atoms - counts), kind="stable")
        counts[order[:remainder]] += 1
        box = self.sides * (n_atoms / self.n_atoms) ** (1.0 / 3.0)
        return dataclasses.replace(self, counts=tuple(int(c) for c in counts), box=tuple(box))

    def describe(self) -> dict:
        """JSON-able summary for file metadata."""
        return {
            "name": self.name,
            "units": self.units.name,
            "species": list(self.species_names),
            "masses": list(self.masses),
            "charges": list(self.charges),
            "counts": list(self.counts),
            "box": list(self.box),
            "temperature": self.temperature,
            "dt": self.dt,
            "potential_cutoff": self.potential_cutoff,
            "neighbor_cutoff": self.neighbor_cutoff,
            "potential": repr(self.potential),
        } | ({} if self.graph_cutoff is None else {"graph_cutoff": self.graph_cutoff})


def _lj(form: str) -> System:
    from ogn.systems.lennard_jones import LennardJones

    return System(
        name="lj" if form == "paper" else "lj-ka",
        units=LJ,
        species_names=("A", "B"),
        masses=(1.0, 1.0),
        charges=(0.0, 0.0),
        counts=(212, 53),
        box=6.038,
        temperature=3.0,
        dt=0.005,
        skin=0.5,
        min_distance=0.7,
        potential=LennardJones.kob_andersen(form),
    )


def _silica() -> System:
    from ogn.systems.silica import BuckinghamDSF

    return System(
        name="silica",
        units=METAL,
        species_names=("Si", "O"),
        masses=(28.0855, 15.9994),
        charges=(2.094, -1.047),
        counts=(121, 242),
        box=17.6,
        temperature=3600.0,
        dt=0.001,
        skin=0.8,
        # the paper's O-O terms leave a spurious 10.7 eV well at 1.1 A behind a barrier at ~1.45 A; placing
        # no pair closer than 1.6 A keeps minimisation from pulling O-O pairs into it
        min_distance=1.6,
        potential=BuckinghamDSF.paper(),
    )


def _silicon() -> System:
    from ogn.systems.stillinger_weber import StillingerWeber

    return System(
        name="silicon",
        units=METAL,
        species_names=("Si",),
        masses=(28.0855,),
        charges=(0.0,),
        counts=(128,),
        box=13.45,
        temperature=2000.0,
        dt=0.001,
        skin=1.05,
        min_distance=2.0,
        potential=StillingerWeber.paper(),
    )


def _cuzr(potential_file: str | Path | None = None) -> System:
    from ogn.systems.eam import FinnisSinclair, default_cuzr_file

    path = Path(potential_file) if potential_file is not None else default_cuzr_file()
    potential = FinnisSinclair.from_file(path)
    species = ("Cu", "Zr")
    missing = [s for s in species if s not in potential.elements]
    if missing:
        raise ValueError(f"{path} has elements {potential.elements}, missing {missing} for the cuzr preset")
    potential = potential.select(species)
    return System(
        name="cuzr",
        units=METAL,
        species_names=species,
        masses=tuple(potential.masses),
        charges=(0.0, 0.0),
        counts=(158, 87),
        box=16.0,
        temperature=1500.0,
        dt=0.001,
        skin=0.4,
        min_distance=2.0,
        potential=potential,
    )


PRESETS = {
    "lj": lambda **kw: _lj("paper"),
    "lj-ka": lambda **kw: _lj("ka"),
    "silica": lambda **kw: _silica(),
    "silicon": lambda **kw: _silicon(),
    "cuzr": lambda potential_file=None, **kw: _cuzr(potential_file),
}


def get_system(
    name: str,
    n_atoms: int | None = None,
    potential_file: str | Path | None = None,
    **overrides,
) -> System:
    """A preset by name, scaled to n_atoms at the preset's density, with field overrides applied."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    if potential_file is not None and name != "cuzr":
        raise ValueError(f"--potential applies to the cuzr preset only, not {name!r}")
    system = PRESETS[name](potential_file=potential_file)
    if n_atoms is not None:
        system = system.scaled(n_atoms)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(overrides) - {f.name for f in dataclasses.fields(System)}
    if unknown:
        raise ValueError(f"unknown system fields {sorted(unknown)}")
    return dataclasses.replace(system, **overrides) if overrides else system


def system_from_description(d: dict) -> System:
    """The System a `describe()` dictionary was written from (dataset and run metadata): a preset's with its
    potential, or, for a system known only from its trajectories (potential None), one without."""
    if d.get("potential") in (None, "None"):
        return System(name=d["name"], units=UNITS[d["units"]], species_names=tuple(d["species"]),
                      masses=tuple(d["masses"]), charges=tuple(d.get("charges") or [0.0] * len(d["species"])),
                      counts=tuple(d["counts"]), box=d["box"], temperature=d["temperature"], dt=d["dt"],
                      skin=0.0, min_distance=d.get("min_distance", 1e-6), potential=None,
                      # datasets imported before graph_cutoff existed kept it as neighbor_cutoff
                      graph_cutoff=d.get("graph_cutoff", d["neighbor_cutoff"]))
    system = get_system(d["name"], temperature=d["temperature"], dt=d["dt"],
                        skin=d["neighbor_cutoff"] - d["potential_cutoff"])
    return dataclasses.replace(system, counts=tuple(d["counts"]), box=d["box"])


def check_same_system(model_system: dict, other: dict, model_source: str, other_source: str) -> None:
    """Refuse data of another system than a model was trained on: species names, masses and units (from
    `describe()` dictionaries) must agree; the atom count, box and temperature may differ."""
    for key in ("units", "species"):
        if model_system.get(key) != other.get(key):
            raise ValueError(f"{other_source} has {key} {other.get(key)!r}; {model_source} has {key}"
                             f" {model_system.get(key)!r}")
    if not np.allclose(model_system["masses"], other["masses"], rtol=1e-4):
        raise ValueError(f"{other_source} has masses {other['masses']}; {model_source} has masses"
                         f" {model_system['masses']}")
