"""Step wrappers: a `Simulator` in, a `Simulator` out, the way jax-md composes integrators.

- `thermostatted`: a thermostat half step before and after every prediction (NVT);
- `energy_corrected`: velocities rescaled after every prediction so that the total energy under the
  system's true potential stays the start's (FlashMD's correction; opt-in, it needs a potential `ogn` knows
  and costs one energy evaluation per prediction).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ogn.quantity import kinetic_energy
from ogn.simulator.step import Simulator, SimulatorState, StepReport


def thermostatted(simulator: Simulator, half_step) -> Simulator:
    """`half_step(velocities, masses, key)` (`ogn.simulator.thermostats`) around every prediction. The noise
    of prediction i comes from the state's key folded with i: a rollout is reproducible from its seed,
    however it is cut into chunks."""
    init_fn, inner_step, refit_fn = simulator

    def step_fn(state: SimulatorState) -> tuple[SimulatorState, StepReport]:
        before, after = jax.random.split(jax.random.fold_in(state.key, state.prediction))
        state = state.replace(velocities=half_step(state.velocities, state.masses, before))
        state, report = inner_step(state)
        return state.replace(velocities=half_step(state.velocities, state.masses, after)), report

    return Simulator(init_fn, step_fn, refit_fn)


class EnergyTarget(NamedTuple):
    neighbor: object  # the potential's jax-md neighbor list
    total_energy: jax.Array  # () | the start's potential + kinetic energy, in the force field's dtype


def rescale_to_kinetic(velocities, masses, target, mvv2e: float):
    """Velocities scaled about their centre-of-mass velocity so that the kinetic energy is `target`; the
    total momentum is kept. Unchanged where the target is below the centre of mass's own kinetic energy."""
    centre = jnp.sum(masses[:, None] * velocities, axis=0) / jnp.sum(masses)
    relative = velocities - centre
    own = 0.5 * mvv2e * jnp.sum(masses) * jnp.sum(centre**2)
    internal = kinetic_energy(relative, masses, mvv2e)
    ok = (target > own) & (internal > 0)
    scale = jnp.sqrt(jnp.where(ok, (target - own) / jnp.where(internal > 0, internal, 1.0), 1.0))
    return jnp.where(ok, centre + relative * scale, velocities)


def energy_corrected(simulator: Simulator, force_field) -> Simulator:
    """The energy correction with `force_field` (`ogn.md.simulate.make_force_field` of the same atoms, whose
    dtype sets the arithmetic of the correction: float64 when the process allows it)."""
    # here, not at the top: importing jax-md costs seconds (its rigid_body module computes at import), and
    # only the energy correction needs it (ogn lammps and plain rollouts start without it)
    from ogn.md.simulate import grow_neighbor_list

    init_inner, inner_step, refit_inner = simulator
    ff = force_field
    dtype, box = ff.masses.dtype, np.asarray(ff.system.sides)
    mvv2e = ff.system.units.mvv2e

    def potential(positions, neighbor):
        wrapped = jnp.mod(positions.astype(dtype), jnp.asarray(box, dtype))
        neighbor = neighbor.update(wrapped)
        return ff.energy_fn(wrapped, neighbor.idx), neighbor

    def init_fn(positions, velocities, seed: int = 0) -> SimulatorState:
        state = init_inner(positions, velocities, seed)
        wrapped = np.mod(np.asarray(positions, np.float64), box)
        neighbor = ff.allocate(jnp.asarray(wrapped, dtype))
        energy, neighbor = jax.jit(potential)(jnp.asarray(positions, dtype), neighbor)
        total = energy + kinetic_energy(jnp.asarray(velocities, dtype), ff.masses, mvv2e)
        return state.replace(extra=EnergyTarget(neighbor, total))

    def step_fn(state: SimulatorState) -> tuple[SimulatorState, StepReport]:
        state, report = inner_step(state)
        energy, neighbor = potential(state.positions, state.extra.neighbor)
        v = rescale_to_kinetic(state.velocities.astype(dtype), ff.masses, state.extra.total_energy - energy, mvv2e)
        finite = report.finite & jnp.isfinite(v).all()
        report = report._replace(finite=finite, overflow=report.overflow | (finite & neighbor.did_buffer_overflow))
        state = state.replace(velocities=v.astype(state.velocities.dtype),
                              extra=EnergyTarget(neighbor, state.extra.total_energy))
        return state, report

    def refit_fn(start: SimulatorState, end: SimulatorState, most_edges: int) -> SimulatorState:
        start = refit_inner(start, end, most_edges)
        if bool(end.extra.neighbor.did_buffer_overflow):
            wrapped = jnp.asarray(np.mod(np.asarray(start.positions, np.float64), box), dtype)
            grown = grow_neighbor_list(ff, wrapped, start.extra.neighbor)
            start = start.replace(extra=EnergyTarget(grown, start.extra.total_energy))
        return start

    return Simulator(init_fn, step_fn, refit_fn)
