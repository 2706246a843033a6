"""Datasets from trajectories observed elsewhere (`ogn dataset --from`): a system known only from its
trajectories, no preset and no potential.

Each file is one independent trajectory; the `--test-from` files give the test pairs and never feed
training. The files are read (`ogn.io.trajectories`), checked against each other (species, masses, box,
frame stride), and written as an ordinary dataset directory (`ogn.data.dataset`): DIR/train/traj-NNN.h5,
DIR/test/traj-NNN.h5 and DIR/dataset.json, which records the system, the units, the stride and where
each trajectory came from. The directory is built under DIR.partial and renamed when complete.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ogn import __version__
from ogn.data.dataset import DATASET_FILE, DatasetError
from ogn.io.files import atomic_write_text
from ogn.io.h5md import TrajectoryWriter
from ogn.io.trajectories import read_observed
from ogn.io.types import ObservedTrajectory
from ogn.periodic import box_text
from ogn.quantity import kinetic_energy, kinetic_temperature
from ogn.systems import System
from ogn.units import UNITS


@dataclass(frozen=True)
class ImportSpec:
    units: str  # LAMMPS unit style of the files: lj, metal or real
    dt: float  # MD timestep, in the units' time unit
    cutoff: float  # graph cutoff, in the units' length unit
    k_max: int | None = None  # largest k (MD steps) to serve; default: the shortest trajectory's span
    type_map: dict[int, str] = field(default_factory=dict)  # LAMMPS type -> species name
    masses: dict[str, float] = field(default_factory=dict)  # species name -> mass, where files give none
    frame_stride: int | None = None  # MD steps between frames, for files that give no steps
    name: str = "imported"  # the system's name in runs and reports

    def __post_init__(self):
        if self.units not in UNITS:
            raise ValueError(f"--units {self.units!r}: choose one of {sorted(UNITS)}")
        for name in ("dt", "cutoff"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"--{name} must be positive and finite, got {getattr(self, name)}")
        if self.k_max is not None and self.k_max < 1:
            raise ValueError(f"--k-max must be >= 1, got {self.k_max}")
        if self.frame_stride is not None and self.frame_stride < 1:
            raise ValueError(f"--frame-stride must be >= 1, got {self.frame_stride}")
        for name, mass in self.masses.items():
            if not (np.isfinite(mass) and mass > 0):
                raise ValueError(f"--masses {name}={mass}: a mass must be positive and finite")


def species_names_of(t: ObservedTrajectory, type_map: dict[int, str]) -> np.ndarray:
    """(N,) species name of each atom: the file's element names, else the type map's, else the type number."""
    from_elements = t.types is None or not np.array_equal(t.labels, t.types.astype(str))
    if from_elements and type_map and t.types is not None:
        for typ, name in type_map.items():
            named = set(t.labels[t.types == typ].tolist())
            if named and named != {name}:
                raise DatasetError(f"{t.source}: its element column names type {typ} {sorted(named)}, --type-map"
                                   f" says {name}")
    if from_elements or not type_map:
        return np.asarray(t.labels)
    missing = sorted(set(t.types.tolist()) - set(type_map))
    if missing:
        raise DatasetError(f"{t.source}: atom types {missing} are not in --type-map {type_map}")
    return np.asarray([type_map[int(x)] for x in t.types])


def species_order(trajectories: list[ObservedTrajectory], names: list[np.ndarray]) -> list[str]:
    """Species in LAMMPS type-number order where the files have types; else by atomic number (elements),
    then alphabetically."""
    from ase.data import atomic_numbers

    first_type: dict[str, int] = {}
    for t, n in zip(trajectories, names):
        if t.types is not None:
            for name, typ in zip(n, t.types):
                first_type[name] = min(first_type.get(name, typ), typ)
    every = sorted({str(x) for n in names for x in n})
    key = lambda s: ((0, first_type[s], "") if s in first_type else
                     (1, atomic_numbers[s], "") if s in atomic_numbers else (2, 0, s))
    return sorted(every, key=key)


def species_masses(species: list[str], trajectories, per_atom: list[np.ndarray], given: dict[str, float]) -> list[float]:
    """Mass of each species: the files' mass column (which must agree between atoms and files), else
    --masses, else the element's standard atomic mass (ASE)."""
    from ase.data import atomic_masses, atomic_numbers

    masses = []
    for s in species:
        seen = {}
        for t, codes in zip(trajectories, per_atom):
            if t.masses is not None:
                values = t.masses[codes == species.index(s)]
                if len(values) and not np.allclose(values, values[0], rtol=1e-6):
                    raise DatasetError(f"{t.source}: atoms of species {s} have different masses {sorted(set(values))}")
                if len(values):
                    seen[t.source] = float(values[0])
        if seen:
            first = next(iter(seen.values()))
            if not np.allclose(list(seen.values()), first, rtol=1e-6):
                raise DatasetError(f"the files disagree on the mass of {s}: {seen}")
            if s in given and not np.isclose(given[s], first, rtol=1e-6):
                raise DatasetError(f"--masses {s}={given[s]} disagrees with the mass column of the files ({first})")
            masses.append(first)
        elif s in given:
            masses.append(float(given[s]))
        elif s in atomic_numbers:
            masses.append(float(atomic_masses[atomic_numbers[s]]))
        else:
            raise DatasetError(f"no mass for species {s!r}: the files have no mass column and {s!r} is not an"
                               f" element; give --masses {s}=M (or --type-map to name the types by element)")
    return masses


def stride_of(t: ObservedTrajectory, given: int | None) -> int:
    """MD steps between the frames of `t`: from its steps (constant, else an error naming the frame), or
    `given` for a file without steps."""
    if t.n_frames < 2:
        raise DatasetError(f"{t.source}: one frame; a trajectory needs at least two")
    if t.steps is None:
        if given is None:
            raise DatasetError(f"{t.source}: its frames carry no MD step (extxyz Step=, H5MD position/step); give"
                               " --frame-stride, the MD steps between frames")
        return given
    gaps = np.diff(t.steps)
    if gaps[0] < 1:
        raise DatasetError(f"{t.source}: timesteps {t.steps[0]} then {t.steps[1]} do not increase")
    changed = np.flatnonzero(gaps != gaps[0])
    if len(changed):
        f = int(changed[0]) + 1
        raise DatasetError(f"{t.source}: the frame stride changes at frame {f} (timestep {t.steps[f]}): {gaps[0]}"
                           f" MD steps before, {gaps[f - 1]} after; ogn needs frames at one fixed stride")
    if given is not None and given != gaps[0]:
        raise DatasetError(f"{t.source}: its timesteps give a stride of {gaps[0]}, not --frame-stride {given}")
    return int(gaps[0])


def import_dataset(train_files: list[str | Path], test_files: list[str | Path], out_dir: str | Path,
                   spec: ImportSpec, log: Callable[[str], None] = print) -> dict:
    """Read, check and write the dataset; returns its metadata (dataset.json)."""
    out_dir = Path(out_dir)
    partial = check_request(train_files, test_files, out_dir)
    observed = {"train": read_all(train_files, spec, log), "test": read_all(test_files, spec, log)}
    every = observed["train"] + observed["test"]
    check_independent(every)
    species, codes = species_of(every, spec)
    stride = common_stride(every, spec)
    masses = species_masses(species, every, codes, spec.masses)
    if 2 * spec.cutoff > every[0].box.min():
        raise DatasetError(f"--cutoff {spec.cutoff} is more than half the smallest box side {every[0].box.min():.6g}")
    for t in every:
        check_timestep(t, stride * spec.dt, spec)
        check_continuity(t, stride * spec.dt)
    n_frames, k_max = lengths(observed, stride, spec, log)
    system = imported_system(spec, species, masses, codes[0], every[0].box, observed["train"])
    meta = {
        "format": "ogn-dataset-1",
        "system": system.describe(),
        "spec": {"source": "imported", "stride": stride, "k_max": k_max, "units": spec.units, "dt": spec.dt,
                 "cutoff": spec.cutoff, "type_map": {str(k): v for k, v in spec.type_map.items()},
                 "masses": dict(zip(species, masses)), "test_pairs": 100},
        "ogn_version": __version__,
        "precision": "float64",
        "train": [], "test": [],
    }
    try:
        _write(partial, observed, n_frames, stride, codes[0], np.asarray(masses)[codes[0]], system, spec, meta)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # ours: checked absent above
        raise
    if out_dir.exists():
        out_dir.rmdir()  # empty, checked above
    os.replace(partial, out_dir)
    units = system.units
    log(f"{len(observed['train'])} training and {len(observed['test'])} test trajectories of {system.n_atoms} atoms"
        f" ({', '.join(f'{c} {s}' for s, c in zip(species, system.counts))}), box {box_text(every[0].box)}"
        f" {units.length}, a frame every {stride} MD steps of {spec.dt} {units.time}, mean T {system.temperature:.4g}"
        f" {units.temperature}, k <= {k_max}")
    return meta


def check_request(train_files, test_files, out_dir: Path) -> Path:
    """The directory the dataset is built in (renamed to `out_dir` when complete), after the checks that
    need no file read."""
    if not train_files or not test_files:
        raise DatasetError("need at least one --from (training) and one --test-from (test) trajectory")
    shared = {Path(p).resolve() for p in train_files} & {Path(p).resolve() for p in test_files}
    if shared:
        raise DatasetError(f"{sorted(map(str, shared))} given both as training and as test trajectories: the test"
                           " set must be independent")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise DatasetError(f"{out_dir} exists and is not empty; choose another --out")
    partial = out_dir.with_name(out_dir.name + ".partial")
    if partial.exists() or partial.is_symlink():
        raise DatasetError(f"{partial} exists (an interrupted import, or yours): remove it or choose another --out")
    return partial


def read_all(files, spec: ImportSpec, log: Callable[[str], None]) -> list[ObservedTrajectory]:
    """Each file read, its units checked, ASE's velocities converted to the units' own."""
    out = []
    for path in files:
        log(f"reading {path}")
        t = read_observed(path)
        check_units(t, spec)
        if t.velocity_unit == "ase":  # ASE's momenta / mass: A per ASE time unit -> A per the units' time unit
            from ogn.units import ase_time_unit

            t.velocities = t.velocities * ase_time_unit(spec.units)
        out.append(t)
    return out


def check_independent(every: list[ObservedTrajectory]) -> None:
    for i, t in enumerate(every):
        for u in every[:i]:
            if t.positions.shape == u.positions.shape and np.array_equal(t.positions[0], u.positions[0]):
                raise DatasetError(f"{t.source} starts from the very configuration of {u.source}: the same trajectory"
                                   " twice (a test trajectory must be independent of the training ones)")


def species_of(every: list[ObservedTrajectory], spec: ImportSpec) -> tuple[list[str], list[np.ndarray]]:
    """(species names in order, each file's (N,) species codes): every file must hold the same atoms in
    the same box."""
    names = [species_names_of(t, spec.type_map) for t in every]
    species = species_order(every, names)
    codes = [np.asarray([species.index(str(x)) for x in n], dtype=np.int32) for n in names]
    first = every[0]
    if first.n_atoms < 2:
        raise DatasetError(f"{first.source}: {first.n_atoms} atom; a system to learn from needs at least 2")
    unknown = sorted(set(spec.masses) - set(species))
    if unknown:
        raise DatasetError(f"--masses names {unknown}, not species of these files ({species})")
    composition = lambda c: ", ".join(f"{np.sum(c == s)} {name}" for s, name in enumerate(species) if np.any(c == s))
    for t, c in zip(every, codes):
        if not np.array_equal(c, codes[0]):
            raise DatasetError(f"{t.source}: its atoms ({composition(c)}) are not those of {first.source}"
                               f" ({composition(codes[0])}) in id order; every trajectory must hold the same atoms")
        if not np.allclose(t.box, first.box, rtol=1e-9):
            raise DatasetError(f"{t.source}: box {box_text(t.box)}, but {first.source} has {box_text(first.box)}")
    return species, codes


def common_stride(every: list[ObservedTrajectory], spec: ImportSpec) -> int:
    strides = {t.source: stride_of(t, spec.frame_stride) for t in every}
    if len(set(strides.values())) > 1:
        raise DatasetError(f"the files have different frame strides (MD steps between frames): {strides}")
    return strides[every[0].source]


def check_timestep(t: ObservedTrajectory, frame_time: float, spec: ImportSpec) -> None:
    """An atom cannot on average move further between frames than its velocity carries it in that time
    (RMS displacement <= RMS velocity x time), and in a liquid or glass it moves at least a vibration's
    share of it. A ratio far outside [1e-4, 2] means --dt (or --units) is not the trajectory's."""
    if t.n_frames < 2:
        return
    moved = float(np.sqrt(np.mean(np.diff(t.positions[:2], axis=0) ** 2)))
    carried = float(np.sqrt(np.mean(t.velocities[:2] ** 2))) * frame_time
    if moved == 0 or carried == 0:
        return
    if not 1e-4 <= moved / carried <= 2:
        raise DatasetError(f"{t.source}: atoms move {moved:.3g} (RMS, one component) between its first two frames, but"
                           f" their velocities carry them {carried:.3g} in the {frame_time:.3g} between frames"
                           f" (--dt {spec.dt} {spec.units} time units x the frame stride): --dt or --units is not the"
                           " trajectory's")


def check_continuity(t: ObservedTrajectory, frame_time: float) -> None:
    """Positions unwrapped by continuity are right only while no atom moves half a box side between
    frames. The velocities say how far each atom moved (v times the time between frames, for the mean of
    the two frames' velocities); an unwrapped move that differs from it by half a box side or more
    took the wrong periodic image, and the trajectory cannot be unwrapped."""
    if not t.unwrapped_by_continuity or t.n_frames < 2:
        return
    moves = np.diff(t.positions, axis=0)
    expected = 0.5 * (t.velocities[1:] + t.velocities[:-1]) * frame_time
    off = np.abs(moves - expected) / t.box
    if off.max() >= 0.5:
        f, atom, axis = np.unravel_index(int(np.argmax(off)), off.shape)
        raise DatasetError(f"{t.source}: its positions are wrapped into the box with no image flags, and between frames"
                           f" {f} and {f + 1} atom {atom + 1} (in id order) moves {expected[f, atom, axis]:.3g} along"
                           f" {'xyz'[axis]} by its velocity, more than the unwrapping by the nearest image can follow"
                           f" (box side {t.box[axis]:.4g}); write unwrapped positions (dump xu yu zu) or image flags"
                           " (ix iy iz), or frames closer together")


def lengths(observed: dict, stride: int, spec: ImportSpec, log) -> tuple[dict[str, int], int]:
    """(frames kept per split, k_max): a split's trajectories are stacked, so cut to its shortest."""
    n_frames = {split: min(t.n_frames for t in ts) for split, ts in observed.items()}
    span = (min(n_frames.values()) - 1) * stride
    k_max = spec.k_max or span
    if k_max > span or k_max % stride or k_max < stride:
        raise DatasetError(f"--k-max {k_max}: must be a multiple of the frame stride {stride} and at most {span}, the"
                           " span of the shortest trajectory")
    for split, ts in observed.items():
        for t in ts:
            if t.n_frames > n_frames[split]:
                log(f"{t.source}: using its first {n_frames[split]} of {t.n_frames} frames (the shortest {split}"
                    " trajectory's length; the trajectories of a split are stacked)")
    return n_frames, k_max


def imported_system(spec: ImportSpec, species: list[str], masses: list[float], codes: np.ndarray, box,
                    train: list[ObservedTrajectory]) -> System:
    """The system of the files: no potential, its temperature the training trajectories' mean."""
    units = UNITS[spec.units]
    atom_masses = np.asarray(masses)[codes]
    temperature = float(np.mean(kinetic_temperature(np.concatenate([t.velocities for t in train]), atom_masses, units)))
    return System(name=spec.name, units=units, species_names=tuple(species), masses=tuple(masses),
                  charges=(0.0,) * len(species), counts=tuple(int(x) for x in np.bincount(codes, minlength=len(species))),
                  box=tuple(box), temperature=temperature, dt=spec.dt, skin=0.0,
                  min_distance=1e-3 * spec.cutoff, potential=None, graph_cutoff=spec.cutoff)


def check_units(t: ObservedTrajectory, spec: ImportSpec) -> None:
    """Refuse a file that declares other units, or whose frame times say another timestep than --dt."""
    if t.units is not None and t.units != spec.units:
        raise DatasetError(f"{t.source} is in {t.units} units, not --units {spec.units}")
    if t.times is not None and t.steps is not None and len(t.steps) > 1:
        dt = (t.times[-1] - t.times[0]) / (t.steps[-1] - t.steps[0])
        if not np.isclose(dt, spec.dt, rtol=1e-4):
            raise DatasetError(f"{t.source}: its frame times give a timestep of {dt:.6g}, not --dt {spec.dt}")


def _write(partial: Path, observed: dict, n_frames: dict, stride: int, species, atom_masses, system: System,
           spec: ImportSpec, meta: dict) -> None:
    """The dataset's files under `partial`, and its dataset.json last."""
    units = system.units
    for split, ts in observed.items():
        (partial / split).mkdir(parents=True)
        for i, t in enumerate(ts):
            f = n_frames[split]
            name = f"{split}/traj-{i:03d}.h5"
            steps = t.steps[:f] if t.steps is not None else stride * np.arange(f)
            kinetic = kinetic_energy(t.velocities[:f], atom_masses, units.mvv2e)
            with TrajectoryWriter(partial / name, species, t.box, spec.dt,
                                  {"system": system.describe(), "source": str(Path(t.source).resolve())},
                                  spec.units) as writer:
                writer.append(steps, t.positions[:f], t.velocities[:f], np.full(f, np.nan), kinetic)
            meta[split].append({"file": name, "source": str(Path(t.source).resolve()), "frames": f,
                                "first_step": int(steps[0]), "stride": stride})
    atomic_write_text(partial / DATASET_FILE, json.dumps(meta, indent=2) + "\n")
