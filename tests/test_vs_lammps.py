"""Every potential form against LAMMPS on equilibrated liquid snapshots at the preset temperature, float64.

The snapshots come from the LAMMPS engine (paper protocol: placement, minimisation, rescaling at T); the
comparison is at relative error <= 1e-9 for energies and forces (EAM: see test_eam.py for its bound).
"""

import numpy as np
import pytest
from conftest import relative_errors

from ogn.md.lammps import reference_energy_forces
from ogn.md.simulate import make_force_field
from ogn.systems import get_system

pytestmark = pytest.mark.float64  # the physics is checked to float64 rounding

TOLERANCE = 1e-9
# EAM forces: for pairs between the last table point (nr - 1) dr = 7.5992 A and the 7.6 A cutoff LAMMPS
# holds the tabulated energy at its last value but keeps the cubic's slope in the force, so its force
# there is not the gradient of its energy (ours is). That departs by ~3e-9 eV/A per such pair, i.e.
# ~1e-9 of the largest force per pair; a few pairs on one atom stay below 1e-8. (test_eam.py shows the
# atoms without such pairs agree to 1e-14.)
FORCE_TOLERANCE = {"cuzr": 1e-8}


@pytest.mark.parametrize(
    "preset,n_atoms",
    [("lj", None), ("lj-ka", None), ("silica", None), ("silicon", None), ("cuzr", None), ("lj", 1000)],
)
def test_energy_and_forces_match_lammps(preset, n_atoms, lammps_snapshot):
    system = get_system(preset, n_atoms=n_atoms)
    snap = lammps_snapshot(preset, n_atoms)
    ff = make_force_field(system, snap.species, precision="float64")
    positions = np.mod(snap.positions, system.sides)
    neighbor = ff.allocate(positions)
    energy, forces = ff.energy_and_forces(positions, neighbor.idx)
    ref_energy, ref_forces = reference_energy_forces(system, snap)
    e_err, f_err = relative_errors(energy, forces, ref_energy, ref_forces)
    print(f"{preset} N={len(snap.species)}: relative error energy {e_err:.2e}, forces {f_err:.2e}")
    assert e_err <= TOLERANCE
    assert f_err <= FORCE_TOLERANCE.get(preset, TOLERANCE)
