"""Datasets of k-step configuration pairs (paper 4.4 i).

A dataset directory holds independent MD trajectories that store every MD step, so that pairs for any
k <= k_max can be built from it:

    DIR/dataset.json        what is needed to regenerate it (preset, units, dt, box, species, cutoff,
                            engine, seeds, code version); written last, so its presence means complete
    DIR/train/traj-000.h5   H5MD, one frame per MD step
    DIR/test/traj-000.h5    independent trajectories (own seeds) for the test pairs

A pair: input = positions, velocities, species at step t; target = [dr, dv] between t and t + k, with dr
through the periodic displacement (right for wrapped and unwrapped files alike, for |dr| < box / 2).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ogn import __version__
from ogn.io.files import atomic_write_text
from ogn.io.h5md import n_frames, read_trajectory
from ogn.periodic import box_sides, minimum_image
from ogn.precision import PRECISIONS
from ogn.quantity import GLASS_TEMPERATURE
from ogn.systems import System

DATASET_FILE = "dataset.json"
TEST_SEED_OFFSET = 10_000  # test trajectories' seeds: independent of every training seed


class DatasetError(ValueError):
    pass


@dataclass(frozen=True)
class DatasetSpec:
    trajectories: int = 10  # training trajectories (paper: 10)
    test_trajectories: int = 2  # independent trajectories the test pairs come from
    steps: int = 1000  # pairs per trajectory for every k <= k_max (paper: 1000-step trajectories)
    k_max: int = 20
    test_pairs: int = 100  # paper: 100
    glass: bool = False
    engine: str = "jax"
    seed: int = 0
    precision: str = "float32"  # of the jax engine's MD ("float64" needs JAX's 64-bit mode)

    def __post_init__(self):
        for name in ("trajectories", "test_trajectories", "steps", "k_max", "test_pairs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    def seeds(self, split: str) -> list[int]:
        if split == "train":
            return [self.seed + i for i in range(self.trajectories)]
        return [self.seed + TEST_SEED_OFFSET + i for i in range(self.test_trajectories)]


def make_dataset(
    system: System,
    spec: DatasetSpec,
    out_dir: str | Path,
    log: Callable[[str], None] = print,
    progress_factory=None,
) -> dict:
    """Run the trajectories (skipping complete ones already there from the same spec) and write the
    metadata. Returns the metadata."""
    from ogn.md.config import MDConfig
    from ogn.md.run import run_md

    if spec.glass and system.units.name != "lj":
        raise DatasetError(f"--glass quenches to T = {GLASS_TEMPERATURE} in LJ units; preset {system.name!r} is in {system.units.name}"
                           " units (use `ogn md --glass --glass-temperature` for its own glass)")
    out_dir = Path(out_dir)
    meta_path = out_dir / DATASET_FILE
    meta = {
        "format": "ogn-dataset-1",
        "system": system.describe(),
        "spec": dataclasses.asdict(spec),
        "ogn_version": __version__,
        "frames_per_trajectory": spec.steps + spec.k_max,
        "precision": spec.precision if spec.engine == "jax" else "float64",  # of the MD that made the trajectories
        "train": [], "test": [],
    }
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        if old.get("spec") != meta["spec"] or old.get("system") != meta["system"]:
            raise DatasetError(f"{out_dir} holds a different dataset ({meta_path}); choose another --out")
    for split in ("train", "test"):
        (out_dir / split).mkdir(parents=True, exist_ok=True)
        for i, seed in enumerate(spec.seeds(split)):
            path = out_dir / split / f"traj-{i:03d}.h5"
            meta[split].append({"file": str(path.relative_to(out_dir)), "seed": seed})
            config = MDConfig(steps=meta["frames_per_trajectory"], every=1, seed=seed, engine=spec.engine,
                              glass=spec.glass, precision=spec.precision)
            if path.exists() and _complete(path, system, config, meta["frames_per_trajectory"]):
                log(f"{path}: already there, kept")
                continue
            if path.exists():
                log(f"{path}: incomplete or made with other settings, redone")
            log(f"{split} trajectory {i + 1}/{len(spec.seeds(split))} (seed {seed}) -> {path}")
            run_md(system, config, path, log=log, progress_factory=progress_factory)
    atomic_write_text(meta_path, json.dumps(meta, indent=2) + "\n")
    return meta


def _complete(path: Path, system: System, config, frames: int) -> bool:
    """Whether `path` is a finished trajectory of exactly this system and MD configuration (an interrupted
    dataset may be resumed, never mixed with trajectories made with other settings)."""
    try:
        t = read_trajectory(path, frames=slice(0, 1))
    except (OSError, ValueError, KeyError):  # an unreadable file is redone
        return False
    as_written = lambda d: json.loads(json.dumps(d))
    same = (t.metadata.get("system") == as_written(system.describe())
            and t.metadata.get("config") == as_written(dataclasses.asdict(config)))
    return t.status == "complete" and same and n_frames(path) == frames


def read_metadata(data_dir: str | Path) -> dict:
    path = Path(data_dir) / DATASET_FILE
    if not path.is_file():
        raise DatasetError(f"{data_dir}: no {DATASET_FILE}; not a dataset, or its generation did not finish")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: not valid JSON, truncated or corrupt ({err})") from None
    if not isinstance(meta, dict) or "system" not in meta:
        raise DatasetError(f"{path}: not an ogn dataset description (no 'system')")
    return meta


@dataclass
class SplitFrames:
    """Every frame of a split in memory: (T, F, N, 3) positions and velocities, a frame every `stride` MD
    steps. Every k below counts MD steps and must be a multiple of the stride."""

    positions: np.ndarray
    velocities: np.ndarray
    species: np.ndarray  # (N,)
    box: np.ndarray  # (3,) orthorhombic sides
    stride: int = 1  # MD steps between frames

    def __post_init__(self):
        self.box = box_sides(self.box)

    @property
    def n_trajectories(self) -> int:
        return self.positions.shape[0]

    @property
    def n_frames(self) -> int:
        return self.positions.shape[1]

    def frames_for(self, k: int) -> int:
        """Frames spanned by k MD steps."""
        if k < 1 or k % self.stride:
            raise DatasetError(f"k = {k} MD steps is not a multiple of the dataset's frame stride {self.stride};"
                               f" possible k: {self.stride}, {2 * self.stride}, {3 * self.stride}, ...")
        if k // self.stride >= self.n_frames:
            raise DatasetError(f"k = {k} MD steps needs trajectories of more than {k // self.stride} frames;"
                               f" these have {self.n_frames}")
        return k // self.stride

    def pair_starts(self, k: int) -> np.ndarray:
        """(P, 2) (trajectory, frame) of every pair with a target k MD steps later."""
        span = self.frames_for(k)
        t, f = np.meshgrid(np.arange(self.n_trajectories), np.arange(self.n_frames - span), indexing="ij")
        return np.stack([t.ravel(), f.ravel()], -1)

    def spread_starts(self, k: int, count: int) -> np.ndarray:
        """`count` pairs spread evenly over the trajectories (the test set)."""
        starts = self.pair_starts(k)
        return starts[np.linspace(0, len(starts) - 1, min(count, len(starts))).round().astype(int)]

    def targets(self, starts: np.ndarray, k: int) -> np.ndarray:
        """(P, N, 6) [dr, dv] over k MD steps, dr by minimum image."""
        t, f, span = starts[:, 0], starts[:, 1], self.frames_for(k)
        dr = self.positions[t, f + span] - self.positions[t, f]
        dr = minimum_image(dr, self.box)
        return np.concatenate([dr, self.velocities[t, f + span] - self.velocities[t, f]], -1)


def load_frames(data_dir: str | Path, split: str) -> SplitFrames:
    data_dir = Path(data_dir)
    meta = read_metadata(data_dir)
    if not meta[split]:
        raise DatasetError(f"{data_dir}: no {split} trajectories")
    positions, velocities = [], []
    species = box = None
    for entry in meta[split]:
        t = read_trajectory(data_dir / entry["file"])
        if t.status != "complete":
            raise DatasetError(f"{data_dir / entry['file']}: trajectory status {t.status!r}, not complete")
        if species is not None and (not np.array_equal(t.species, species) or not np.allclose(t.box, box, rtol=1e-9)):
            raise DatasetError(f"{data_dir / entry['file']}: species or box differ from the other trajectories")
        species, box = t.species, t.box
        positions.append(t.positions)
        velocities.append(t.velocities)
    n_frames = {len(p) for p in positions}
    if len(n_frames) != 1:
        raise DatasetError(f"{data_dir}/{split}: trajectories of different lengths {sorted(n_frames)}")
    return SplitFrames(np.stack(positions), np.stack(velocities), np.asarray(species), box, frame_stride(meta))


def frame_stride(meta: dict) -> int:
    """MD steps between stored frames (1 for datasets `ogn` simulated itself)."""
    return int(meta.get("spec", {}).get("stride", 1))
