"""How much of the velocity change over k MD steps the force at the start explains, per dataset: the
squared correlation of dv with F(t) k dt / m over all atoms and components of a few test frames. It tells
whether the data hold the forces a model should learn (BENCHMARKS.md, "Learning").

    .venv/bin/python studies/force_share.py DATA_DIR K
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np

from ogn.data.dataset import load_frames, read_metadata
from ogn.md.simulate import make_force_field
from ogn.systems import system_from_description

jax.config.update("jax_enable_x64", True)  # this script is the caller: the forces in float64
data, k = sys.argv[1], int(sys.argv[2])
system = system_from_description(read_metadata(data)["system"])
frames = load_frames(data, "test")
ff = make_force_field(system, frames.species, precision="float64")
masses = np.asarray(ff.masses)[:, None]
predicted, actual = [], []
for f in (0, 300, 700):
    r = jnp.asarray(np.mod(frames.positions[0, f], frames.box))
    _, forces = ff.energy_and_forces(r, ff.allocate(r).idx)
    predicted.append(np.asarray(forces) / masses * system.units.ftm2v * k * system.dt)
    actual.append(frames.targets(np.array([[0, f]]), k)[0, :, 3:])
r2 = np.corrcoef(np.ravel(predicted), np.ravel(actual))[0, 1] ** 2
print(f"{data}, k = {k}: F(t) k dt / m explains {100 * r2:.1f} % of the variance of dv")
