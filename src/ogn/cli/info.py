"""`ogn info`: versions, devices and where things are (LAMMPS's potential files, the compilation cache,
the shipped models and configs)."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="versions, devices and where things are (LAMMPS potentials, caches, models)")
    p.add_argument("--potentials", action="store_true",
                   help="print only the directory of the potential files LAMMPS ships, for"
                        " `export LAMMPS_POTENTIALS=$(ogn info --potentials)`")
    p.set_defaults(func=run, needs_x64=lambda args: False)


def run(args) -> int:
    from ogn.io.lammps_module import lammps_potentials_dir

    if args.potentials:
        print(lammps_potentials_dir())
        return 0
    import jax

    from ogn import __version__
    from ogn.io.lammps_module import import_lammps
    from ogn.model.checkpoint import SHIPPED_MODELS
    from ogn.simulator.cache import compilation_cache_dir
    from ogn.train.config import SHIPPED_CONFIGS

    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    rows = [
        ("ogn", __version__),
        ("jax", f"{jax.__version__} on {', '.join(str(d) for d in jax.devices())}"),
        ("LAMMPS", f"{lmp.version()} (Python module; `lmp` in this environment's bin)"),
        ("LAMMPS potentials", f"{lammps_potentials_dir()} (export LAMMPS_POTENTIALS=$(ogn info --potentials))"),
        ("compilation cache", str(compilation_cache_dir() or "off (OGN_CACHE_DIR=off)")),
        ("shipped models", f"{SHIPPED_MODELS}: " + ", ".join(sorted(p.name for p in SHIPPED_MODELS.iterdir()
                                                                   if (p / "run.json").is_file()))),
        ("shipped configs", str(SHIPPED_CONFIGS)),
    ]
    lmp.close()
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:>{width}}: {value}")
    return 0
