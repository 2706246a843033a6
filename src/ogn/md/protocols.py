"""The paper's preparation protocols (Methods 4.1): placement, minimisation, thermalisation, quench.

Random placement without overlap -> energy minimisation -> Gaussian velocities at T with zero total
momentum -> velocities rescaled to T after every step until the kinetic energy stops drifting -> NVE.
The LJ glass: the equilibrated liquid is quenched linearly to T_glass in 10 000 Nose-Hoover steps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax_md import simulate

from ogn.md.simulate import (
    ForceField,
    MDState,
    SimulationError,
    check_state,
    init_state,
    redo_until_fits,
    velocity_verlet_step,
)
from ogn.quantity import degrees_of_freedom, kinetic_energy
from ogn.systems import System


def random_positions(system: System, rng: np.random.Generator, max_tries: int = 10_000) -> np.ndarray:
    """(N, 3) positions placed one by one uniformly in the box, none closer than system.min_distance.

    A cell grid (cells >= min_distance) keeps each insertion O(1), so 10 000 atoms take about a second.
    """
    box, dmin, n = system.sides, system.min_distance, system.n_atoms
    n_cells = np.maximum(1, (box // dmin).astype(int))  # per axis
    cell_size = box / n_cells
    cells: dict[tuple[int, int, int], list[np.ndarray]] = {}
    placed = np.empty((n, 3))
    offsets = list(itertools.product((-1, 0, 1), repeat=3)) if n_cells.min() >= 3 else None
    for a in range(n):
        for _ in range(max_tries):
            x = rng.uniform(0.0, box, 3)
            c = tuple((x // cell_size).astype(int) % n_cells)
            if offsets is None:
                nearby = [p for ps in cells.values() for p in ps]
            else:
                nearby = [p for o in offsets for p in cells.get(tuple((np.add(c, o)) % n_cells), ())]
            if nearby:
                d = np.asarray(nearby) - x
                d -= box * np.round(d / box)
                if np.min(np.einsum("ij,ij->i", d, d)) < dmin * dmin:
                    continue
            cells.setdefault(c, []).append(x)
            placed[a] = x
            break
        else:
            raise RuntimeError(
                f"random placement failed at atom {a + 1}/{n} after {max_tries} tries: box {box.tolist()} is too "
                f"crowded for min_distance {dmin}; lower min_distance"
            )
    return placed


def gaussian_velocities(system: System, species, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """(N, 3) Gaussian velocities, zero total momentum, scaled to exactly `temperature` (3N - 3 dof)."""
    units = system.units
    masses = system.atom_masses(species)
    v = rng.normal(size=(len(masses), 3)) * np.sqrt(units.boltzmann * temperature / (masses * units.mvv2e))[:, None]
    v -= (masses[:, None] * v).sum(0) / masses.sum()
    ke = kinetic_energy(v, masses, units.mvv2e)
    target = 0.5 * degrees_of_freedom(len(masses)) * units.boltzmann * temperature
    return v * np.sqrt(target / ke)


def minimize(
    ff: ForceField, positions, max_steps: int = 5000, force_tolerance: float | None = None, chunk: int = 250
) -> np.ndarray:
    """Steepest descent with an adaptive step and a displacement cap; returns wrapped positions.

    Random placement leaves near-contacts whose forces are 1e3-1e4 times the liquid's; FIRE (jax-md's has
    no displacement cap) overshoots on them and blew up in our tests. Here a step moves no atom further
    than dmax = 0.1 min_distance, grows by 1.2 after a downhill step and halves (the step is rejected)
    after an uphill one. Minimisation only removes the overlaps of random placement, so the default
    force_tolerance is loose (1e-2 energy/length) and the equilibration does the rest.
    """
    system = ff.system
    force_tolerance = 1e-2 if force_tolerance is None else force_tolerance
    dmax = 0.1 * system.min_distance
    R = jnp.asarray(np.mod(np.asarray(positions, np.float64), system.sides), dtype=ff.dtype)
    neighbor = ff.allocate(R)

    @partial(jax.jit, static_argnums=3)
    def run(R, neighbor, scale, n):
        def body(carry, _):
            R, neighbor, scale = carry
            energy, forces = ff.energy_and_forces(R, neighbor.idx)
            step = scale * dmax / jnp.max(jnp.abs(forces))
            trial = ff.shift_fn(R, step * forces)
            trial_neighbor = neighbor.update(trial)
            downhill = ff.energy_fn(trial, trial_neighbor.idx) < energy
            R = jnp.where(downhill, trial, R)
            neighbor = jax.tree_util.tree_map(lambda a, b: jnp.where(downhill, a, b), trial_neighbor, neighbor)
            scale = jnp.where(downhill, jnp.minimum(1.2 * scale, 1.0), 0.5 * scale)
            return (R, neighbor, scale), None

        (R, neighbor, scale), _ = jax.lax.scan(body, (R, neighbor, scale), None, length=n)
        return R, neighbor, scale

    scale = jnp.asarray(1.0, dtype=R.dtype)
    for _ in range(0, max_steps, chunk):
        (R, neighbor, scale), _ = redo_until_fits(lambda nb: run(R, nb, scale, chunk),  # noqa: B023 (called at once)
                                                  lambda result: result[1].did_buffer_overflow, ff, R, neighbor)
        forces = np.asarray(ff.energy_and_forces(R, neighbor.idx)[1])
        if not np.all(np.isfinite(forces)):
            raise SimulationError("minimisation produced non-finite forces")
        if np.abs(forces).max() < force_tolerance or float(scale) < 1e-6:
            break
    return np.asarray(R, dtype=np.float64)


def equilibrate_rescale(
    ff: ForceField,
    state: MDState,
    neighbor,
    temperature: float,
    block: int = 100,
    tolerance: float = 5e-3,
    min_steps: int = 1000,
    max_steps: int = 50_000,
    log: Callable[[str], None] | None = None,
    progress: Callable[[int], None] | None = None,
):
    """NVE with velocities rescaled to `temperature` after every step, until the kinetic energy converges.

    Converged: over a block of steps, the kinetic energy found before each rescale averages to the target
    within `tolerance` (relative), i.e. the potential energy no longer takes or gives heat.
    Returns (state, neighbor, steps run).
    """
    system = ff.system
    units = system.units
    target = 0.5 * degrees_of_freedom(system.n_atoms) * units.boltzmann * temperature
    step = velocity_verlet_step(ff, system.dt)

    @jax.jit
    def run_block(state, neighbor):
        def body(carry, _):
            state, neighbor = carry
            state, neighbor = step(state, neighbor)
            ke = kinetic_energy(state.velocities, ff.masses, units.mvv2e)
            state = state.set(velocities=state.velocities * jnp.sqrt(target / ke))
            return (state, neighbor), ke / target

        (state, neighbor), ratios = jax.lax.scan(body, (state, neighbor), None, length=block)
        return state, neighbor, jnp.mean(ratios)

    steps = 0
    while steps < max_steps:
        (new_state, new_neighbor, ratio), _ = redo_until_fits(
            lambda nb: run_block(state, nb),  # noqa: B023 (called at once)
            lambda result: result[1].did_buffer_overflow, ff, state.positions, neighbor)
        check_state(ff, new_state, steps + block, None)
        state, neighbor = new_state, new_neighbor
        steps += block
        if progress is not None:
            progress(block)
        if steps >= min_steps and abs(float(ratio) - 1.0) < tolerance:
            break
    else:
        if log is not None:
            log(f"equilibration stopped at max_steps={max_steps}; last block KE ratio {float(ratio):.4f}")
    return state, neighbor, steps


def floats_as(tree, dtype):
    """`tree` with every floating-point leaf cast to `dtype`."""
    return jax.tree.map(lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


def quench_nose_hoover(
    ff: ForceField,
    state: MDState,
    neighbor,
    t_start: float,
    t_end: float,
    n_steps: int,
    block: int = 500,
    progress: Callable[[int], None] | None = None,
):
    """Linear temperature ramp t_start -> t_end over n_steps of Nose-Hoover NVT (jax-md, chain of 5).

    jax-md's integrators know no unit conversion; feeding them forces times ftm2v and kT / mvv2e makes
    their accelerations and kinetic energies consistent in any unit system.
    Returns (state, neighbor) with positions wrapped and image counts reset.
    """
    system = ff.system
    units = system.units
    dt = system.dt

    def force_fn(R, neighbor, **unused):  # jax-md passes kT through to the force function
        return ff.energy_and_forces(R, neighbor.idx)[1] * units.ftm2v

    init_fn, apply_fn = simulate.nvt_nose_hoover(force_fn, ff.shift_fn, dt, kT=units.boltzmann * t_start / units.mvv2e)
    nvt = init_fn(jax.random.PRNGKey(0), state.positions, mass=ff.masses[:, None], neighbor=neighbor,
                  kT=units.boltzmann * t_start / units.mvv2e)
    # keep the thermalised velocities rather than jax-md's freshly drawn ones
    nvt = nvt.set(momentum=state.velocities * ff.masses[:, None])
    # jax-md builds the chain masses in float32 at init but recomputes them in the working precision each
    # step; a scan carry must keep one dtype, so cast every float leaf to the positions' dtype up front
    dtype = state.positions.dtype
    nvt = floats_as(nvt, dtype)

    @jax.jit
    def run_block(nvt, neighbor, first):
        def body(carry, i):
            nvt, neighbor = carry
            t = t_start + (t_end - t_start) * jnp.minimum((first + i + 1) / n_steps, 1.0)
            # in 64-bit mode jax-md computes the chain in float64 whatever its inputs: back to the working dtype
            kT = jnp.asarray(units.boltzmann * t / units.mvv2e, dtype)
            nvt = floats_as(apply_fn(nvt, neighbor=neighbor, kT=kT), dtype)
            neighbor = neighbor.update(nvt.position)
            return (nvt, neighbor), None

        (nvt, neighbor), _ = jax.lax.scan(body, (nvt, neighbor), jnp.arange(block))
        return nvt, neighbor

    done = 0
    while done < n_steps:
        (nvt, neighbor), _ = redo_until_fits(lambda nb: run_block(nvt, nb, done),  # noqa: B023 (called at once)
                                             lambda result: result[1].did_buffer_overflow, ff, nvt.position, neighbor)
        if not np.all(np.isfinite(np.asarray(nvt.position))):
            raise SimulationError(f"non-finite positions during the quench by step {done + block}")
        done += block
        if progress is not None:
            progress(block)
    velocities = nvt.momentum / ff.masses[:, None]
    out = init_state(ff, np.asarray(nvt.position, np.float64), velocities, neighbor)
    return out, neighbor
