"""The two forms an atomic configuration takes in ogn, whatever file it came from: a `Structure` (one
configuration, perhaps with velocities) and an `ObservedTrajectory` (frames of the same atoms in a fixed
box, as read from a trajectory someone else wrote)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ogn.periodic import box_sides


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
    # the file held wrapped positions without image flags, unwrapped here by continuity: right only while no
    # atom moves half a box side between frames (checked against the velocities once the timestep is known)
    unwrapped_by_continuity: bool = False

    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def n_atoms(self) -> int:
        return self.positions.shape[1]
