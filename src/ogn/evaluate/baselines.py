"""What a learned rollout is compared with, from the same start: MD itself at other timesteps, and cheap
simulators that know no physics (a learned simulator must beat them to be worth anything)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ogn.md.simulate import SimulationError, init_state, make_force_field, run_nve
from ogn.precision import widest_precision
from ogn.systems import System


def md_rollout(system: System, species, positions, velocities, n_steps: int, every: int, dt: float):
    """Velocity Verlet (float64 where the process allows it) at timestep `dt` for n_steps of that dt, a
    frame every `every` of them. Returns (positions, velocities) per frame, or None if it blew up."""
    system = dataclasses.replace(system, dt=dt)
    ff = make_force_field(system, species, precision=widest_precision())
    neighbor = ff.allocate(np.mod(positions, system.sides))
    frames = []
    try:
        run_nve(ff, init_state(ff, positions, velocities, neighbor), neighbor, n_steps, every,
                on_frames=frames.append, max_temperature=20 * system.temperature, log=lambda s: None)
    except SimulationError:
        return None
    return (np.concatenate([f.positions for f in frames]), np.concatenate([f.velocities for f in frames]))


def trivial_baselines(r0: np.ndarray, v0: np.ndarray, times: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(positions, velocities) at `times` (P,) after the start of simulators without forces: standing still
    (r0, v0), constant velocity (r0 + v0 t, v0), and zero velocity (r0, 0), the velocity baseline a
    simulator with no velocity skill scores sqrt(kB T / m) against."""
    shape = (len(times), *r0.shape)
    still = np.broadcast_to(r0, shape)
    return {
        "standing still": (still, np.broadcast_to(v0, shape)),
        "constant velocity": (r0 + v0 * times[:, None, None], np.broadcast_to(v0, shape)),
        "zero velocity": (still, np.zeros(shape)),
    }


def kicked_md(system: System, species, r0, v0, n_steps: int, every: int, kick: float, seed: int = 0):
    """MD at dt from the start with every position moved by a random `kick` (length unit) per component: the
    floor a simulator of a chaotic system can reach (an error of `kick` grows as MD's own). None if it blew
    up."""
    rng = np.random.default_rng(seed)
    return md_rollout(system, species, r0 + rng.normal(0.0, kick, r0.shape), v0, n_steps, every, system.dt)
