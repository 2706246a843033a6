"""The jax MD engine: force fields on jax-md neighbor lists, velocity-Verlet NVE, chunked scans.

State keeps positions wrapped into the box plus integer image counts, so unwrapped positions are exact
(position + image * box, formed on the host in float64) while the dynamics never sees large coordinates.
A chunk of steps runs as one compiled `lax.scan`; afterwards the host checks the neighbor-list overflow
flag and, if it is set, reallocates a larger list and redoes the chunk from its starting state, so a run
never continues on a truncated list. NaNs and runaway temperatures stop the run with `SimulationError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np
from jax_md import dataclasses as jdc
from jax_md import partition, space

from ogn.periodic import box_text
from ogn.precision import float_dtype
from ogn.quantity import kinetic_energy, temperature_of
from ogn.systems import System


class SimulationError(RuntimeError):
    """The dynamics went wrong (NaN, runaway temperature): the message says where."""


@jdc.dataclass
class MDState:
    positions: jnp.ndarray  # (N, 3) | wrapped into [0, box)
    image: jnp.ndarray  # (N, 3) int32 | box crossings, unwrapped = positions + image * box
    velocities: jnp.ndarray  # (N, 3) | length / time
    forces: jnp.ndarray  # (N, 3) | energy / length
    potential_energy: jnp.ndarray  # () | energy


@dataclass(frozen=True, eq=False)  # hashed by identity: a static argument of jitted chunks
class ForceField:
    """A system's potential bound to species and box: energy, forces and the neighbor list builder."""

    system: System
    species: jnp.ndarray  # (N,) int32
    masses: jnp.ndarray  # (N,) per-atom mass
    displacement_fn: Callable
    shift_fn: Callable
    energy_fn: Callable  # (positions, neighbor_idx) -> energy
    neighbor_fn: partition.NeighborListFns

    @property
    def dtype(self):
        """The arithmetic of everything computed with this force field."""
        return self.masses.dtype

    def energy_and_forces(self, positions, neighbor_idx):
        energy, grad = jax.value_and_grad(self.energy_fn)(positions, neighbor_idx)
        return energy, -grad

    def allocate(self, positions, extra_capacity: int = 0) -> partition.NeighborList:
        """A neighbor list for `positions`, in the force field's dtype whatever the caller's arrays are."""
        return self.neighbor_fn.allocate(jnp.asarray(positions, self.dtype), extra_capacity=extra_capacity)


def make_force_field(system: System, species, capacity_multiplier: float = 1.25, precision: str = "float32"
                     ) -> ForceField:
    """`system`'s potential for atoms of (N,) `species`, computing in `precision` ("float64" needs JAX's
    64-bit mode, `ogn.precision`)."""
    species = np.asarray(species, dtype=np.int32)
    if species.min() < 0 or species.max() >= system.n_species:
        bad = species[(species < 0) | (species >= system.n_species)][0]
        raise ValueError(f"unknown species index {bad}: preset {system.name!r} has {system.n_species} species")
    if system.potential is None:
        raise ValueError(f"{system.name!r} has no potential ogn knows: no MD or energies for it")
    if min(system.box) < 2 * system.neighbor_cutoff * (1 - 1e-12):  # tolerate rounding of a density-derived box
        raise ValueError(f"box {box_text(system.box)} has a side smaller than twice the neighbor cutoff r_c ="
                         f" {system.neighbor_cutoff:.6g} of {system.name}'s potential (needs >="
                         f" {2 * system.neighbor_cutoff:.6g}): minimum-image pairs would be wrong; use more atoms")
    return _force_field(system, species.tobytes(), capacity_multiplier, float_dtype(precision).name)


@lru_cache(maxsize=16)
def _force_field(system: System, species_bytes: bytes, capacity_multiplier: float, dtype: str) -> ForceField:
    """Cached: the compiled steps take the force field as a static argument, so handing back the same object
    for the same system lets a second trajectory (a dataset, a test) reuse the first one's compilation."""
    species = np.frombuffer(species_bytes, dtype=np.int32)
    box = jnp.asarray(system.sides, dtype=dtype)
    displacement_fn, shift_fn = space.periodic(box)
    neighbor_fn = partition.neighbor_list(
        displacement_fn,
        box,
        system.potential.cutoff,
        dr_threshold=system.skin,
        capacity_multiplier=capacity_multiplier,
        format=getattr(partition.NeighborListFormat, system.potential.neighbor_format),
    )
    energy_fn = system.potential.energy_fn(displacement_fn, jnp.asarray(species))
    masses = jnp.asarray(system.atom_masses(species), dtype=dtype)
    return ForceField(system, jnp.asarray(species), masses, displacement_fn, shift_fn, energy_fn, neighbor_fn)


def init_state(ff: ForceField, positions, velocities, neighbor) -> MDState:
    box = ff.system.sides
    dtype = ff.dtype
    positions = np.asarray(positions, dtype=np.float64)
    image = np.floor(positions / box)
    wrapped = positions - image * box
    wrapped = np.where(wrapped >= box, wrapped - box, wrapped)  # rounding guard
    R = jnp.asarray(wrapped, dtype=dtype)
    energy, forces = ff.energy_and_forces(R, neighbor.idx)
    return MDState(R, jnp.asarray(image, dtype=jnp.int32), jnp.asarray(velocities, dtype=dtype), forces, energy)


def velocity_verlet_step(ff: ForceField, dt: float) -> Callable:
    """(state, neighbor) -> (state, neighbor): one NVE step; the list is refreshed when atoms moved > skin/2."""
    box = jnp.asarray(ff.system.sides, ff.dtype)
    ftm2v = ff.system.units.ftm2v
    inv_mass = (ftm2v / ff.masses)[:, None]

    def step(state: MDState, neighbor):
        v_half = state.velocities + 0.5 * dt * state.forces * inv_mass
        moved = state.positions + dt * v_half
        crossing = jnp.floor(moved / box)
        positions = moved - crossing * box
        neighbor = neighbor.update(positions)
        energy, forces = ff.energy_and_forces(positions, neighbor.idx)
        velocities = v_half + 0.5 * dt * forces * inv_mass
        image = state.image + crossing.astype(jnp.int32)
        return MDState(positions, image, velocities, forces, energy), neighbor

    return step


@dataclass
class FrameBlock:
    """Host copies of the frames a chunk produced."""

    steps: np.ndarray  # (F,) int
    positions: np.ndarray  # (F, N, 3) float64 | unwrapped
    velocities: np.ndarray  # (F, N, 3) float64
    potential_energy: np.ndarray  # (F,)
    kinetic_energy: np.ndarray  # (F,)


@partial(jax.jit, static_argnums=(0, 1, 4, 5))
def _nve_chunk(ff: ForceField, dt: float, state: MDState, neighbor, n_frames: int, every: int):
    step = velocity_verlet_step(ff, dt)
    mvv2e = ff.system.units.mvv2e

    def frame(carry, _):
        state, neighbor = jax.lax.fori_loop(0, every, lambda _, c: step(*c), carry)
        ke = kinetic_energy(state.velocities, ff.masses, mvv2e)
        out = (state.positions, state.image, state.velocities, state.potential_energy, ke)
        return (state, neighbor), out

    (state, neighbor), out = jax.lax.scan(frame, (state, neighbor), None, length=n_frames)
    return state, neighbor, out


def grow_neighbor_list(ff: ForceField, positions, neighbor, log=None):
    """A list for `positions` with at least 25 % (and 8 slots) more capacity than the one that overflowed.

    Capacity is per atom for Dense lists and total for sparse ones; either way the new list is strictly
    larger, so repeated overflows grow it geometrically and a chunk is never run on a truncated list.
    """
    old = _capacity(neighbor)
    fresh = ff.allocate(positions)
    wanted = old + max(8, old // 4)
    if _capacity(fresh) < wanted:
        fresh = ff.allocate(positions, extra_capacity=wanted - _capacity(fresh))
    if log is not None:
        log(f"neighbor list overflowed at capacity {old}; reallocated with {_capacity(fresh)} and redoing the chunk")
    return fresh


def redo_until_fits(run: Callable, overflowed: Callable, ff: ForceField, positions, neighbor, log=None):
    """`run(neighbor)`, redone with a larger list (grown for `positions`) for as long as `overflowed(result)`
    says its list overflowed: nothing is ever computed on a truncated list. The one regrow-and-redo loop of
    the MD engine, its protocols and the energies of frames. Returns (result, the list it ran with)."""
    while True:
        result = run(neighbor)
        if not bool(overflowed(result)):
            return result, neighbor
        neighbor = grow_neighbor_list(ff, positions, neighbor, log)


def _capacity(neighbor) -> int:
    return int(neighbor.idx.shape[-1])


def check_state(ff: ForceField, state: MDState, step: int, max_temperature: float | None):
    v = np.asarray(state.velocities)
    r = np.asarray(state.positions)
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(r)) and np.isfinite(float(state.potential_energy))):
        raise SimulationError(f"non-finite positions, velocities or energy by step {step}")
    if max_temperature is not None:
        units = ff.system.units
        t = float(temperature_of(kinetic_energy(state.velocities, ff.masses, units.mvv2e), len(v), units.boltzmann))
        if t > max_temperature:
            raise SimulationError(
                f"runaway temperature {t:.4g} > {max_temperature:.4g} by step {step} (timestep too large?)"
            )


def run_nve(
    ff: ForceField,
    state: MDState,
    neighbor,
    n_steps: int,
    every: int,
    on_frames: Callable[[FrameBlock], None] | None = None,
    chunk_steps: int = 1000,
    max_temperature: float | None = None,
    log: Callable[[str], None] | None = None,
    progress: Callable[[int], None] | None = None,
):
    """Run n_steps of NVE, handing a `FrameBlock` every `every` steps to on_frames, one chunk at a time.

    Returns (state, neighbor). Raises SimulationError on NaN or runaway; frames of completed chunks have
    already been handed over by then. The arithmetic is the force field's.
    """
    if n_steps % every:
        raise ValueError(f"steps ({n_steps}) must be a multiple of every ({every})")
    box = ff.system.sides
    dt = ff.system.dt
    frames_left = n_steps // every
    frames_per_chunk = max(1, chunk_steps // every)
    step = 0
    while frames_left:
        n_frames = min(frames_per_chunk, frames_left)
        (new_state, new_neighbor, out), neighbor = redo_until_fits(
            lambda nb: _nve_chunk(ff, dt, state, nb, n_frames, every),  # noqa: B023 (called at once)
            lambda result: result[1].did_buffer_overflow, ff, state.positions, neighbor, log)
        check_state(ff, new_state, step + n_frames * every, max_temperature)
        state, neighbor = new_state, new_neighbor
        if on_frames is not None:
            positions, image, velocities, pe, ke = (np.asarray(x) for x in out)
            on_frames(
                FrameBlock(
                    steps=step + every * np.arange(1, n_frames + 1),
                    positions=positions.astype(np.float64) + image.astype(np.float64) * box,
                    velocities=velocities.astype(np.float64),
                    potential_energy=pe.astype(np.float64),
                    kinetic_energy=ke.astype(np.float64),
                )
            )
        step += n_frames * every
        frames_left -= n_frames
        if progress is not None:
            progress(n_frames * every)
    return state, neighbor


def make_frame_energies(system: System, species: np.ndarray, precision: str = "float32") -> Callable:
    """A function (F, N, 3) positions, velocities -> (F,) potential and kinetic energy with the true
    potential (in `precision`), and (F, 3) total momentum. The potentials come from one compiled
    scan over the frames, its neighbor list refreshed as atoms move, reallocated (and the scan redone) if it
    overflows, and carried from one call to the next (a rollout written chunk by chunk)."""
    ff = make_force_field(system, species, precision=precision)
    masses = np.asarray(ff.masses)
    neighbor = None

    @jax.jit
    def potentials(frames, neighbor):
        def one(neighbor, r):
            neighbor = neighbor.update(r)
            return neighbor, (ff.energy_fn(r, neighbor.idx), neighbor.did_buffer_overflow)

        neighbor, (energy, overflow) = jax.lax.scan(one, neighbor, frames)
        return energy, overflow.any(), neighbor

    def energies(positions: np.ndarray, velocities: np.ndarray):
        nonlocal neighbor
        wrapped = jnp.asarray(np.mod(positions, system.sides), ff.dtype)
        if neighbor is None:
            neighbor = ff.allocate(wrapped[0])
        (potential, _, neighbor), _ = redo_until_fits(lambda nb: potentials(wrapped, nb), lambda result: result[1],
                                                      ff, wrapped[0], neighbor)
        kinetic = np.asarray(kinetic_energy(jnp.asarray(velocities, ff.dtype), ff.masses, system.units.mvv2e),
                             dtype=float)
        momentum = np.einsum("n,fnk->fk", masses, velocities)
        return np.asarray(potential, dtype=float), kinetic, momentum

    return energies


def frame_energies(system: System, species: np.ndarray, positions: np.ndarray, velocities: np.ndarray,
                   precision: str = "float32"):
    """make_frame_energies(system, species, precision)(positions, velocities), for one set of frames."""
    return make_frame_energies(system, species, precision)(positions, velocities)


def closest_pair(positions: np.ndarray, box) -> tuple[int, int, float]:
    """(i, j, distance) of the closest pair by minimum image, in row blocks (no N x N array at large N)."""
    from ogn.periodic import minimum_image

    best = (0, 1, np.inf)
    for start in range(0, len(positions), 512):
        block = minimum_image(positions[start:start + 512, None, :] - positions[None, :, :], box)
        distance = np.sqrt(np.sum(block**2, -1))
        rows = np.arange(distance.shape[0])
        distance[rows, start + rows] = np.inf
        i, j = np.unravel_index(np.argmin(distance), distance.shape)
        if distance[i, j] < best[2]:
            best = (int(start + i), int(j), float(distance[i, j]))
    return best


def structure_energy_and_forces(system: System, path) -> tuple[float, np.ndarray]:
    """`ogn energy`: the potential energy and (N, 3) forces of a structure file in float64 (atoms in id
    order; needs JAX's 64-bit mode), the system reshaped to the file's atom count and box. A non-finite
    result is an error that names the closest pair of atoms (two atoms on one site give an infinite or NaN
    energy)."""
    import dataclasses

    from ogn.io.structures import read_structure

    structure = read_structure(path, system.species_names)
    counts = tuple(int(np.sum(structure.species == k)) for k in range(system.n_species))
    system = dataclasses.replace(system, counts=counts, box=structure.box)
    ff = make_force_field(system, structure.species, precision="float64")
    positions = np.mod(structure.positions, system.sides)
    energy, forces = ff.energy_and_forces(positions, ff.allocate(positions).idx)
    energy, forces = float(energy), np.asarray(forces, np.float64)
    if not (np.isfinite(energy) and np.isfinite(forces).all()):
        i, j, distance = closest_pair(positions, system.sides)
        raise ValueError(f"{path}: the energy is not finite; atoms {i + 1} and {j + 1} (in id order) are"
                         f" {distance:.3g} {system.units.length} apart")
    return energy, forces
