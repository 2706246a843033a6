"""`ogn lammps`: a trained model as LAMMPS's integrator in the user's own LAMMPS input, on one MPI rank or
many (`mpirun -np N ogn lammps ...`)."""

from __future__ import annotations

import os

from ogn.cli.common import STOP, add_xla_flags, console

HELP = """\
Run a LAMMPS input with the trained model as its integrator: one LAMMPS step is one prediction of k MD
steps, so `run 50` runs 50 predictions (50 k MD steps) and thermo and dump intervals count predictions.

The input does what LAMMPS inputs do (read_data, read_restart or create_box; velocity; thermo; dump;
compute; fix temp/csvr; run; write_data) and must not integrate: no fix nve/nvt/npt/langevin. ogn adds
after the box command: `timestep` = k dt, `fix ogn all external pf/callback 1 1`, and the neighbor skin
and ghost cutoff its graphs need; before the first run, `fix ogn_halt` on `variable ogn_stop`, so that
Ctrl-C or a scheduler's SIGTERM ends the run after the prediction in progress on every rank.
Atom types 1, 2, ... are the model's species in its order (ogn info RUN), with their masses.
Run on many ranks with the mpirun of the mpich wheel: mpirun -np 4 ogn lammps ..."""


def add_parser(sub) -> None:
    import argparse

    p = sub.add_parser("lammps", help="run a LAMMPS input with the trained model as its integrator (MPI)",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="trained run directory (ogn train), or a shipped model by name (lj-fast-k5, ...)")
    p.add_argument("--in", dest="input", required=True, help="the LAMMPS input file")
    p.add_argument("--var", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set a LAMMPS index variable, as lmp -var NAME VALUE (repeatable; default: none)")
    p.add_argument("--skin", type=float,
                   help="neighbor skin, in the system's length unit: candidate pairs and LAMMPS's atom exchange are"
                        " redone when an atom has moved half of it; the ghost cutoff is layers x graph cutoff +"
                        " skin (default 0.25 x the model's graph cutoff). A speed setting only")
    p.add_argument("--energies", action="store_true",
                   help="add the system's true potential (where ogn knows it) so that thermo's pe is the true"
                        " potential energy; costs one pair evaluation per prediction. The LJ and silica presets'"
                        " pair styles need atom_style charge (default: off; an input with its own pair_style gets"
                        " that already)")
    p.add_argument("--quiet", action="store_true", help="no LAMMPS screen output (its log.lammps is still written)")
    # a stop signal only sets STOP at first: the prediction in progress ends on every rank, then LAMMPS stops
    p.set_defaults(func=run, needs_x64=lambda args: False, gentle_stop=True)


def run(args) -> int:
    _one_thread_per_rank()
    from ogn.simulator.lammps import run_lammps

    summary = run_lammps(args.run, args.input, dict(args.var), args.skin, args.energies, log=console().log,
                         screen=not args.quiet, stop_requested=STOP)
    from mpi4py import MPI

    if MPI.COMM_WORLD.rank == 0:
        for line in summary.lines():
            console().print(line)
    return 0


def _one_thread_per_rank() -> None:
    """Under mpirun each rank gets one core: XLA's own thread pool would oversubscribe them."""
    ranks = int(os.environ.get("PMI_SIZE", os.environ.get("OMPI_COMM_WORLD_SIZE", "1")))
    if ranks > 1:
        add_xla_flags("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")
