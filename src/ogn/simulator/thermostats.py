"""Thermostats around the learned NVE map (NVT rollouts): each prediction of k MD steps is wrapped in two
thermostat half steps of k dt / 2, as FlashMD (Langevin) and TrajCast (CSVR) do, never inside the network
(`ogn.simulator.wrappers.thermostatted`).

Both act on velocities relative to the centre of mass, so a thermostatted rollout still keeps its total
momentum exactly (the learned map does too): the 3N - 3 internal degrees of freedom are thermalised.

`make_thermostat(...)` returns `half_step(velocities, masses, key) -> velocities`, a pure function of JAX
arrays in the velocities' dtype.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

THERMOSTATS = ("langevin", "csvr")


def _centre(velocities, masses):
    return jnp.sum(masses[:, None] * velocities, axis=0) / jnp.sum(masses)


def langevin(kT: float, damping: float, half_step: float, mvv2e: float) -> Callable:
    """The Ornstein-Uhlenbeck (O) step of Langevin dynamics with friction 1 / damping over `half_step`:
    v <- c v + sqrt((1 - c^2) kT / m) xi, c = exp(-half_step / damping), on velocities relative to the
    centre of mass, with the noise's own centre-of-mass part removed."""
    c = float(np.exp(-half_step / damping))

    def apply(velocities, masses, key):
        masses = masses.astype(velocities.dtype)
        sigma = jnp.sqrt((1 - c * c) * kT / (mvv2e * masses))[:, None]
        centre = _centre(velocities, masses)
        noise = sigma * jax.random.normal(key, velocities.shape, velocities.dtype)
        relative = c * (velocities - centre) + noise - _centre(noise, masses)
        return (centre + relative).astype(velocities.dtype)

    return apply


def csvr(kT: float, damping: float, half_step: float, mvv2e: float) -> Callable:
    """Bussi, Donadio and Parrinello's canonical sampling through velocity rescaling (J. Chem. Phys. 126,
    014101, 2007): the internal kinetic energy K relaxes towards Nf kT / 2 with time constant `damping`,
    with the noise that makes the ensemble canonical; velocities are scaled about the centre of mass."""
    c = float(np.exp(-half_step / damping))

    def apply(velocities, masses, key):
        masses = masses.astype(velocities.dtype)
        n_dof = 3 * masses.shape[0] - 3
        target = 0.5 * n_dof * kT
        centre = _centre(velocities, masses)
        relative = velocities - centre
        kinetic = 0.5 * mvv2e * jnp.sum(masses[:, None] * relative**2)
        k1, k2 = jax.random.split(key)
        r1 = jax.random.normal(k1, (), velocities.dtype)
        rest = 2.0 * jax.random.gamma(k2, 0.5 * (n_dof - 1), (), velocities.dtype)  # chi^2 with Nf - 1 dof
        new = (c * kinetic + (1 - c) * target * (r1 * r1 + rest) / n_dof
               + 2 * r1 * jnp.sqrt(c * (1 - c) * target * kinetic / n_dof))
        scale = jnp.sqrt(jnp.maximum(new, 0.0) / kinetic)
        return (centre + scale * relative).astype(velocities.dtype)

    return apply


def make_thermostat(name: str, temperature: float, damping: float, step_time: float, units) -> Callable:
    """The half step of thermostat `name` at `temperature` (the units' temperature unit) with time constant
    `damping` (time unit), for predictions of `step_time` = k dt."""
    if name not in THERMOSTATS:
        raise ValueError(f"--thermostat {name!r}: choose one of {THERMOSTATS}")
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"--temperature must be positive and finite, got {temperature}")
    if not (np.isfinite(damping) and damping > 0):
        raise ValueError(f"--damping must be positive and finite, got {damping}")
    factory = langevin if name == "langevin" else csvr
    return factory(units.boltzmann * temperature, damping, 0.5 * step_time, units.mvv2e)
