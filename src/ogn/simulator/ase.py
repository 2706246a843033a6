"""The learned simulator as an ASE dynamics: `OGNDynamics(atoms, "models/cuzr-fast-k20")`.

Each `step()` is one prediction of the model, k MD steps: `dyn.dt` is k dt in ASE time units, and
`dyn.attach(...)`, `dyn.run(n)` and ASE trajectory writers work as with `VelocityVerlet`. No calculator is
needed (the network predicts positions and velocities, not forces); one attached to the atoms is still
called for the loggers. The start is checked as `ogn rollout` checks it (the same refusals and warnings,
and the same persistent compilation cache): both go through `ogn.simulator.session.LearnedSimulator`.

Units: ASE works in Angstrom, eV, amu, and its own time unit (Angstrom sqrt(amu / eV)); a model in LAMMPS
`metal` units keeps velocities in Angstrom/ps, one in `real` units in Angstrom/fs. Velocities are converted
by the length of the model's time unit in ASE time (1 ps = 1000 ase.units.fs). Models in LJ reduced units
have no place in ASE's units and are refused.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from ase.md.md import MolecularDynamics

from ogn.periodic import box_sides
from ogn.simulator.session import LearnedSimulator, RolloutConfig
from ogn.units import ase_time_unit


class OGNDynamics(MolecularDynamics):
    """NVE (or, with `thermostat`, NVT) dynamics of `atoms` by a trained OGN run or shipped model.

    `thermostat` "langevin" or "csvr" at `temperature_K` with time constant `damping` (in the model's time
    unit, default 100 MD timesteps) mirrors `ogn rollout --thermostat`; `seed` makes its noise reproducible.
    Warnings about the start (far from the training data) are Python warnings (`UserWarning`) and are kept
    in `self.warnings`.
    """

    def __init__(self, atoms, model: str | Path, thermostat: str | None = None, temperature_K: float | None = None,
                 damping: float | None = None, seed: int = 0, trajectory=None, logfile=None, loginterval: int = 1,
                 **kwargs):
        from ogn.model.checkpoint import load_run

        network, info, _ = load_run(model)
        system = info["system"]
        if system["units"] not in ("metal", "real"):
            raise ValueError(f"{model} is in {system['units']} units; ASE needs a model in metal or real units")
        self.time_unit = ase_time_unit(system["units"])
        species = self._species(atoms, model, system)
        if not all(atoms.pbc):
            raise ValueError("OGNDynamics needs periodic boundaries on all three axes")
        if not atoms.has("momenta"):
            raise ValueError("the atoms have no velocities (momenta); set them first, e.g. with"
                             " ase.md.velocitydistribution.MaxwellBoltzmannDistribution")
        config = RolloutConfig(thermostat=thermostat, temperature=temperature_K, damping=damping, seed=seed)
        box = box_sides(np.asarray(atoms.cell), "the atoms' cell")
        self.simulator = LearnedSimulator(network, info, species, box, config, source="the atoms",
                                          log=lambda message: warnings.warn(message, stacklevel=3))
        self.box = box
        self._state = self.simulator.start(atoms.get_positions(), atoms.get_velocities() * self.time_unit)
        k, dt = int(info["k"]), float(info["dt"])
        super().__init__(atoms, timestep=k * dt * self.time_unit, trajectory=trajectory, logfile=logfile,
                         loginterval=loginterval, **kwargs)

    @property
    def warnings(self) -> list[str]:
        return self.simulator.warnings

    @staticmethod
    def _species(atoms, model, system: dict) -> np.ndarray:
        symbols = atoms.get_chemical_symbols()
        unknown = sorted(set(symbols) - set(system["species"]))
        if unknown:
            raise ValueError(f"atoms of {unknown}: {model} knows the species {system['species']}")
        species = np.array([system["species"].index(s) for s in symbols], dtype=np.int32)
        masses = np.asarray(system["masses"], np.float64)[species]
        if not np.allclose(atoms.get_masses(), masses, rtol=1e-3):
            raise ValueError(f"the atoms' masses differ from {model}'s {dict(zip(system['species'], system['masses']))}")
        return species

    def _refresh_properties(self):
        # the base class asks for forces before logging; the learned map has none of its own
        if self.atoms.calc is not None:
            self.atoms.get_forces()

    def step(self):
        """One prediction from the atoms as they are now (another observer may have changed them), with the
        neighbor list and the thermostat's noise carried on from the last."""
        velocities = self.atoms.get_velocities() * self.time_unit
        masses = self.simulator.masses
        centre = np.einsum("n,nk->k", masses, velocities) / masses.sum()
        positions = self.atoms.get_positions()
        # predicted in the box, where float32 keeps its digits; written back in the atoms' own images
        images = positions - np.mod(positions, self.box)
        state = self._state.replace(positions=jnp.asarray(positions - images, jnp.float32),
                                    velocities=jnp.asarray(velocities, jnp.float32),
                                    centre_velocity=jnp.asarray(centre, jnp.float32))
        self._state = self.simulator.driver.run(state, 1)
        self.atoms.set_positions(np.asarray(self._state.positions, np.float64) + images)
        self.atoms.set_velocities(np.asarray(self._state.velocities, np.float64) / self.time_unit)
