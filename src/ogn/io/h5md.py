"""Trajectories in the H5MD layout, streamed to disk chunk by chunk.

particles/all/position|velocity/{value,step,time}   (F, N, 3), positions unwrapped
particles/all/species                                (N,) int, species index
particles/all/box/edges                              (3,) orthorhombic sides, attributes dimension=3, boundary=periodic
observables/{potential,kinetic,total}_energy/{value,step,time}
parameters/ogn                                       attributes: JSON metadata (system, engine, seed, ...)

The writer fills a fresh temporary file beside PATH (`ogn.io.files.PartialFile`) and renames it to PATH
when it completes and reads back, so PATH is never half a file. A run that fails or is interrupted (NaN,
runaway, Ctrl-C, SIGTERM, a full disk) never replaces PATH: its file is closed with the frames written so
far and `status` saying why, under `failed_path(PATH)` (STEM.failed.SUFFIX).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ogn import __version__
from ogn.io.files import PartialFile, check_room, naming
from ogn.periodic import box_sides

CHUNK_BYTES = 1 << 20  # a time series' chunk (frames x atoms x 3): at most 1 MiB


class TrajectoryWriter:
    def __init__(self, path: str | Path, species, box, dt: float, metadata: dict, units: str,
                 dtype: str = "float64"):
        """`dtype`: of the stored positions and velocities (energies and times stay float64)."""
        self.path = Path(path)
        self.partial = PartialFile(self.path)
        self.tmp = self.partial.tmp
        self.n_atoms = len(species)
        self.dt = dt
        self.n_frames = 0
        f = h5py.File(self.tmp, "w")
        self.file = f
        h5 = f.create_group("h5md")
        h5.attrs["version"] = np.array([1, 1])
        h5.create_group("author").attrs["name"] = "ogn"
        creator = h5.create_group("creator")
        creator.attrs["name"] = "ogn"
        creator.attrs["version"] = __version__
        particles = f.create_group("particles/all")
        particles.create_dataset("species", data=np.asarray(species, dtype=np.int32))
        box_group = particles.create_group("box")
        box_group.attrs["dimension"] = 3
        box_group.attrs["boundary"] = np.array([b"periodic"] * 3)
        box_group.create_dataset("edges", data=box_sides(box, str(self.path)))
        self._series = {}
        for name in ("position", "velocity"):
            self._series[name] = self._time_series(particles, name, (self.n_atoms, 3), np.dtype(dtype))
        for name in ("potential_energy", "kinetic_energy", "total_energy"):
            self._series[name] = self._time_series(f.require_group("observables"), name, ())
        params = f.create_group("parameters/ogn")
        params.attrs["metadata"] = json.dumps(metadata)
        params.attrs["units"] = units
        params.attrs["status"] = "running"

    @staticmethod
    def _time_series(parent, name, shape, dtype: np.dtype | None = None):
        dtype = np.dtype(np.float64) if dtype is None else dtype
        g = parent.create_group(name)
        chunk_frames = max(1, min(256, CHUNK_BYTES // (dtype.itemsize * max(1, int(np.prod(shape))))))
        g.create_dataset("value", shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
                         chunks=(chunk_frames, *shape))
        g.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
        g.create_dataset("time", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(1024,))
        return g

    def append(self, steps, positions, velocities, potential_energy, kinetic_energy) -> None:
        steps = np.asarray(steps, dtype=np.int64)
        k = len(steps)
        values = {
            "position": positions,
            "velocity": velocities,
            "potential_energy": potential_energy,
            "kinetic_energy": kinetic_energy,
            "total_energy": np.asarray(potential_energy) + np.asarray(kinetic_energy),
        }
        frame_bytes = sum(np.asarray(v).nbytes for v in values.values()) + 3 * 8 * k * len(values)
        check_room(self.path, self.tmp, frame_bytes + 2 * CHUNK_BYTES + (1 << 16))  # chunks are allocated whole
        with naming(self.path):
            for name, g in self._series.items():
                for key, data in (("value", values[name]), ("step", steps), ("time", steps * self.dt)):
                    d = g[key]
                    d.resize(self.n_frames + k, axis=0)
                    d[self.n_frames :] = data
            self.file.flush()
        self.n_frames += k

    def close(self, status: str = "complete") -> Path:
        """Rename the file to PATH when complete, else to failed_path(PATH); returns where it went."""
        self.file["parameters/ogn"].attrs["status"] = status
        self.file.close()
        return self.partial.finish(status == "complete", check=lambda tmp: _check_frames(tmp, self.n_frames))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.file.id.valid:
            if exc_type is None:
                self.close()
            else:
                reason = f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__
                self.close(status=f"failed: {reason}")
        return False


H5MD_SUFFIXES = (".h5", ".hdf5", ".h5md")


def check_h5md_name(path: str | Path) -> Path:
    """`path` if its extension says HDF5; never an H5MD file under another format's name (.extxyz, .dump)."""
    path = Path(path)
    if path.suffix.lower() not in H5MD_SUFFIXES:
        raise ValueError(f"{path}: this writes H5MD, so the name must end in {', '.join(H5MD_SUFFIXES)}; export other"
                         " formats from it with `ogn convert`")
    return path


@dataclass
class Trajectory:
    """A trajectory read back into memory (or a slice of its frames)."""

    positions: np.ndarray  # (F, N, 3) unwrapped
    velocities: np.ndarray  # (F, N, 3)
    species: np.ndarray  # (N,)
    box: np.ndarray  # (3,) orthorhombic sides
    steps: np.ndarray  # (F,)
    times: np.ndarray  # (F,)
    potential_energy: np.ndarray  # (F,)
    kinetic_energy: np.ndarray  # (F,)
    metadata: dict
    units: str
    status: str

    @property
    def total_energy(self) -> np.ndarray:
        return self.potential_energy + self.kinetic_energy


def read_trajectory(path: str | Path, frames: slice | int | None = None) -> Trajectory:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such trajectory file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (0 bytes), not an H5MD trajectory")
    sel = slice(None) if frames is None else frames
    try:
        with h5py.File(path, "r") as f:
            p = f["particles/all"]
            if isinstance(sel, (int, np.integer)):
                count = p["position/value"].shape[0]
                if not -count <= sel < count:
                    raise ValueError(f"{path}: frame {sel} does not exist; the file has {count} frames")
            if isinstance(p["box/edges"], h5py.Group):  # H5MD's time-dependent box
                raise ValueError(f"{path}: the box changes with time (box/edges/value); ogn needs a fixed box"  # noqa: TRY004
                                 " (NVE or NVT, not NPT)")
            edges = box_sides(p["box/edges"][()], f"{path}: box/edges")
            obs = f["observables"]
            params = f["parameters/ogn"].attrs if "parameters/ogn" in f else {}
            def series(g):
                return np.atleast_1d(g["value"][sel]) if isinstance(sel, slice) else g["value"][sel]
            out = Trajectory(
                positions=np.asarray(p["position/value"][sel]),
                velocities=np.asarray(p["velocity/value"][sel]),
                species=np.asarray(p["species"][()]),
                box=edges,
                steps=np.asarray(p["position/step"][sel]),
                times=np.asarray(p["position/time"][sel]),
                potential_energy=np.asarray(series(obs["potential_energy"])),
                kinetic_energy=np.asarray(series(obs["kinetic_energy"])),
                metadata=json.loads(params.get("metadata", "{}")),
                units=str(params.get("units", "")),
                status=str(params.get("status", "")),
            )
    except (OSError, KeyError) as err:
        raise ValueError(f"{path}: not an ogn/H5MD trajectory ({err})") from err
    return out


def n_frames(path: str | Path) -> int:
    with h5py.File(path, "r") as f:
        return int(f["particles/all/position/value"].shape[0])


def _check_frames(path: Path, frames: int) -> None:
    """A written trajectory must read back with the frames that were written (a second writer, a full disk)."""
    try:
        with h5py.File(path, "r") as f:
            found = int(f["particles/all/position/value"].shape[0])
    except (OSError, KeyError) as err:
        raise OSError(f"{path}: the trajectory just written does not read back ({err})") from err
    if found != frames:
        raise OSError(f"{path}: the trajectory just written holds {found} frames, not the {frames} written")
