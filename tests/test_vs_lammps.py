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

TOLERANCE = 1e-9


@pytest.mark.parametrize(
    "preset,n_atoms",
    [("lj", None), ("lj-ka", None), ("silica", None), ("silicon", None), ("cuzr", None), ("lj", 1000)],
)
def test_energy_and_forces_match_lammps(preset, n_atoms, lammps_snapshot):
    system = get_system(preset, n_atoms=n_atoms)
    snap = lammps_snapshot(preset, n_atoms)
    ff = make_force_field(system, snap.species)
    positions = np.mod(snap.positions, system.box)
    neighbor = ff.allocate(positions)
    energy, forces = ff.energy_and_forces(positions, neighbor.idx)
    ref_energy, ref_forces = reference_energy_forces(system, snap)
    e_err, f_err = relative_errors(energy, forces, ref_energy, ref_forces)
    print(f"{preset} N={len(snap.species)}: relative error energy {e_err:.2e}, forces {f_err:.2e}")
    assert e_err <= TOLERANCE
    assert f_err <= TOLERANCE
