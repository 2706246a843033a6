"""The learned simulator as an ASE dynamics: `OGNDynamics(atoms, "models/cuzr-fast-k20")`.

Each `step()` is one prediction of the model, k MD steps: `dyn.dt` is k dt in ASE time units, and
`dyn.attach(...)`, `dyn.run(n)` and ASE trajectory writers work as with `VelocityVerlet`. No calculator is
needed (the network predicts positions and velocities, not forces); one attached to the atoms is still
called for the loggers.

Units: ASE works in Angstrom, eV, amu, and its own time unit (Angstrom sqrt(amu / eV)); a model in LAMMPS
`metal` units keeps velocities in Angstrom/ps, one in `real` units in Angstrom/fs. Velocities are converted
by the length of the model's time unit in ASE time (1 ps = 1000 ase.units.fs). Models in LJ reduced units
have no place in ASE's units and are refused.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from ase.md.md import MolecularDynamics

from ogn.units import ase_time_unit

ASE_TIME_UNIT = {name: ase_time_unit(name) for name in ("metal", "real")}  # the model's time unit in ASE time


class OGNDynamics(MolecularDynamics):
    """NVE (or, with `thermostat`, NVT) dynamics of `atoms` by a trained OGN run or shipped model.

    `thermostat` "langevin" or "csvr" at `temperature_K` with time constant `damping` (in the model's time
    unit, default 100 MD timesteps) mirrors `ogn rollout --thermostat`; `seed` makes its noise reproducible.
    """

    def __init__(self, atoms, model: str | Path, thermostat: str | None = None, temperature_K: float | None = None,
                 damping: float | None = None, seed: int = 0, trajectory=None, logfile=None, loginterval: int = 1,
                 **kwargs):
        from ogn.model.checkpoint import load_run
        from ogn.periodic import box_sides
        from ogn.rollout import CompiledRollout, check_request
        from ogn.thermostats import make_thermostat
        from ogn.units import UNITS

        network, info, _ = load_run(model)
        system = info["system"]
        if system["units"] not in ASE_TIME_UNIT:
            raise ValueError(f"{model} is in {system['units']} units; ASE needs a model in metal or real units")
        self.time_unit = ASE_TIME_UNIT[system["units"]]
        k, dt = int(info["k"]), float(info["dt"])
        symbols = atoms.get_chemical_symbols()
        unknown = sorted(set(symbols) - set(system["species"]))
        if unknown:
            raise ValueError(f"atoms of {unknown}: {model} knows the species {system['species']}")
        species = np.array([system["species"].index(s) for s in symbols], dtype=np.int32)
        masses = np.asarray(system["masses"], np.float64)[species]
        if not np.allclose(atoms.get_masses(), masses, rtol=1e-3):
            raise ValueError(f"the atoms' masses differ from {model}'s {dict(zip(system['species'], system['masses']))}")
        if not all(atoms.pbc):
            raise ValueError("OGNDynamics needs periodic boundaries on all three axes")
        box = box_sides(np.asarray(atoms.cell), "the atoms' cell")
        check_request(network, info, species, box, k)
        units = UNITS[system["units"]]
        half_step = None
        if thermostat is not None:
            if temperature_K is None:
                raise ValueError("a thermostat needs temperature_K")
            damping = 100 * dt if damping is None else damping
            half_step = make_thermostat(thermostat, temperature_K, damping, k * dt, masses, units)
        self._simulate = CompiledRollout(network, box, float(info["cutoff"]), species, masses, k * dt, 1,
                                         log=lambda message: None, thermostat=half_step)
        self._key = jax.random.key(seed)
        super().__init__(atoms, timestep=k * dt * self.time_unit, trajectory=trajectory, logfile=logfile,
                         loginterval=loginterval, **kwargs)

    def _refresh_properties(self):
        # the base class asks for forces before logging; the learned map has none of its own
        if self.atoms.calc is not None:
            self.atoms.get_forces()

    def step(self):
        positions = jnp.asarray(self.atoms.get_positions(), jnp.float32)
        velocities = jnp.asarray(self.atoms.get_velocities() * self.time_unit, jnp.float32)
        rs, vs = self._simulate(positions, velocities, jax.random.fold_in(self._key, self.nsteps))
        rs, vs = np.asarray(rs[0], np.float64), np.asarray(vs[0], np.float64)
        if not (np.isfinite(rs).all() and np.isfinite(vs).all()):
            raise RuntimeError(f"non-finite positions or velocities at step {self.nsteps + 1}: the model has left"
                               " the region it was trained on")
        self.atoms.set_positions(rs)
        self.atoms.set_velocities(vs / self.time_unit)
