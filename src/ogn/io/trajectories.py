"""Trajectories observed elsewhere, for `ogn dataset --from`: LAMMPS text dumps, extended XYZ and H5MD
(ours and other writers'), each read into an `ObservedTrajectory` (`ogn.io.lammps_dump`). Which species a
label is, and its mass, is decided later for all files together (`ogn.data.imported`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ogn.io.lammps_dump import TrajectoryFileError, read_lammps_dump, unwrap_by_continuity
from ogn.io.structures import ase_velocities, file_format, read_extxyz_frames, sorted_by_id
from ogn.io.types import ObservedTrajectory
from ogn.periodic import box_sides


def read_observed(path: str | Path) -> ObservedTrajectory:
    """A LAMMPS dump, extxyz or H5MD trajectory, told apart by content (HDF5 signature, `ITEM:` header) and
    then by extension."""
    path = Path(path)
    kind = file_format(path, TrajectoryFileError)
    if kind == "h5md":
        t = read_h5md_observed(path)
    elif kind == "dump":
        t = read_lammps_dump(path)
    elif kind == "extxyz":
        t = read_extxyz_observed(path)
    else:
        raise TrajectoryFileError(f"{path}: not a LAMMPS text dump (no 'ITEM:' header), extxyz (.xyz/.extxyz) or"
                                  " H5MD file")
    for name, values in (("positions", t.positions), ("velocities", t.velocities)):
        bad = ~np.isfinite(values).all(axis=(1, 2))
        if bad.any():
            f = int(np.argmax(bad))
            atom = int(np.argmax(~np.isfinite(values[f]).all(axis=1)))
            raise TrajectoryFileError(f"{path}: non-finite {name} in frame {f}, atom {atom + 1} (in id order)")
    return t


def read_extxyz_observed(path: str | Path) -> ObservedTrajectory:
    """Every frame of an extxyz file (`ogn.io.structures.read_extxyz_frames`), which must hold the same atoms
    in a fixed box; the MD step from `Step=` where every frame has one. Positions are unwrapped by
    continuity."""
    frames = [sorted_by_id(f) for f in read_extxyz_frames(path)]
    first = frames[0]
    velocity_unit = "file"
    for i, f in enumerate(frames):
        if f.ids is not None and not np.array_equal(f.ids, first.ids):
            raise TrajectoryFileError(f"{path}:{f.line}: frame {i} has other atom ids than frame 0")
        if f.velocities is None and f.momenta is not None:  # ASE writes momenta: velocities in ASE's units
            f.velocities, velocity_unit = ase_velocities(path, f, TrajectoryFileError), "ase"
        if f.velocities is None:
            raise TrajectoryFileError(f"{path}:{f.line}: frame {i} has no velocity column (vel, or ASE's momenta);"
                                      " ogn learns from positions and velocities")
        if not np.array_equal(f.labels, first.labels):
            raise TrajectoryFileError(f"{path}:{f.line}: frame {i} has other atoms ({len(f.labels)}) than frame 0"
                                      f" ({len(first.labels)}), or in another order")
        if not np.allclose(f.box, first.box, rtol=1e-9):
            raise TrajectoryFileError(f"{path}:{f.line}: the box changes at frame {i}; ogn needs a fixed box (NVE or"
                                      " NVT, not NPT)")
    steps = None if any(f.step is None for f in frames) else np.asarray([f.step for f in frames], dtype=np.int64)
    positions = unwrap_by_continuity(np.stack([f.positions for f in frames]), first.box)
    return ObservedTrajectory(str(path), positions, np.stack([f.velocities for f in frames]), steps, first.box,
                              first.labels, None, first.masses, velocity_unit=velocity_unit,
                              unwrapped_by_continuity=True)


# ----------------------------------------------------------------------------------------------------------
# H5MD

def read_h5md_observed(path: str | Path) -> ObservedTrajectory:
    """H5MD from ogn or another writer (LAMMPS `dump h5md`, MDAnalysis): the first particle group's
    position and velocity time series, its species (names from ogn's metadata, else the numbers as text),
    a fixed box (a time series must not change), and image flags where present. Positions from another
    writer without image flags are unwrapped by continuity; ogn's own are unwrapped already."""
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            group = _particle_group(path, f)
            positions = np.asarray(group["position/value"], dtype=np.float64)
            velocities = np.asarray(group["velocity/value"], dtype=np.float64)
            if positions.ndim != 3 or velocities.shape != positions.shape:
                raise TrajectoryFileError(f"{path}: position {positions.shape} and velocity {velocities.shape} are"
                                          " not two (frames, atoms, 3) series of one shape")
            steps, times = _h5md_clock(group, len(positions))
            box = _h5md_box(path, group, len(positions))
            species = group.get("species")
            if isinstance(species, h5py.Group):
                species = species["value"][0]
            species = np.zeros(positions.shape[1], int) if species is None else np.asarray(species).astype(int)
            has_images = "image" in group
            if has_images:
                positions = positions + np.asarray(group["image/value"], dtype=np.float64) * box
            metadata, units, ours = {}, None, "parameters/ogn" in f
            if ours:
                metadata = json.loads(f["parameters/ogn"].attrs.get("metadata", "{}"))
                units = str(f["parameters/ogn"].attrs.get("units", "")) or None
    except KeyError as err:
        raise TrajectoryFileError(f"{path}: not the H5MD layout ogn reads (particles/<group>/position/value,"
                                  f" velocity/value, box/edges): {err}") from err
    except OSError as err:
        raise TrajectoryFileError(f"{path}: not a readable HDF5 file ({err})") from err
    names = metadata.get("system", {}).get("species")
    labels, types = (np.asarray(names)[species], None) if names else (species.astype(str), species)
    by_continuity = not (has_images or ours)
    if by_continuity:
        positions = unwrap_by_continuity(positions, box)
    return ObservedTrajectory(str(path), positions, velocities, steps, box, labels, types, None, units=units,
                              times=times, unwrapped_by_continuity=by_continuity)


def _particle_group(path: Path, f):
    if "particles" not in f or not len(f["particles"]):
        raise TrajectoryFileError(f"{path}: no particles group; not an H5MD trajectory")
    name = next(iter(f["particles"]))
    group = f["particles"][name]
    for need in ("position", "velocity", "box"):
        if need not in group:
            raise TrajectoryFileError(f"{path}: particles/{name} has no {need!r}; ogn needs positions, velocities and"
                                      " the box")
    return group


def _h5md_clock(group, n_frames: int):
    """(steps, times) of the position series, None where absent; H5MD's scalar (fixed interval) form expanded."""
    steps = np.asarray(group["position/step"], dtype=np.int64) if "step" in group["position"] else None
    times = np.asarray(group["position/time"], dtype=np.float64) if "time" in group["position"] else None
    if steps is not None and steps.ndim == 0:
        steps = int(group["position/step"].attrs.get("offset", 0)) + steps * np.arange(n_frames)
    if times is not None and times.ndim == 0:
        times = float(group["position/time"].attrs.get("offset", 0.0)) + times * np.arange(n_frames)
    return steps, times


def _h5md_box(path: Path, group, n_frames: int) -> np.ndarray:
    import h5py

    edges = group["box/edges"]
    edges = np.asarray(edges["value"] if isinstance(edges, h5py.Group) else edges, dtype=np.float64)
    if edges.ndim in (2, 3) and edges.shape[0] == n_frames and edges.shape[1:] in ((3,), (3, 3)):
        if not np.allclose(edges, edges[0], rtol=1e-9):
            raise TrajectoryFileError(f"{path}: the box changes with time; ogn needs a fixed box (NVE or NVT, not NPT)")
        edges = edges[0]
    return box_sides(edges, f"{path}: box/edges")
