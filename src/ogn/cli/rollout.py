"""`ogn rollout`: a trained model run as a simulator from a start file, a trajectory file out."""

from __future__ import annotations

from pathlib import Path

from ogn.cli.common import console, logger, progress_bar, wrote

NETWORK_DTYPES = ("float32", "bfloat16")  # ogn.simulator.step's, restated so that --help imports no jax


def add_parser(sub) -> None:
    p = sub.add_parser("rollout", help="run a trained OGN as a simulator, k MD steps per prediction")
    p.add_argument("run", help="trained run directory (ogn train), or a shipped model by name (lj-fast-k5, ...)")
    p.add_argument("--init", required=True,
                   help="start: H5MD trajectory, LAMMPS dump, extxyz with velocities, or LAMMPS data file with"
                        " Velocities")
    p.add_argument("--frame", type=int, help="frame of a trajectory --init file (H5MD, dump, extxyz; default: its"
                                             " last, said in the log)")
    p.add_argument("--steps", type=int, required=True, help="MD steps to simulate, a multiple of the model's k")
    p.add_argument("--out", required=True, help="output trajectory: FILE.h5 (H5MD) or FILE.extxyz; the start, then one"
                                                " frame per written prediction")
    p.add_argument("--network-dtype", choices=NETWORK_DTYPES, default="float32",
                   help="dtype of the network's arithmetic; bfloat16 is for GPUs, slower on most CPUs (default float32)")
    p.add_argument("--every", type=int, default=1, help="write every E-th prediction (default 1: all)")
    p.add_argument("--energy-correction", action="store_true",
                   help="rescale velocities after every prediction so that the true total energy stays the"
                        " start's (FlashMD's correction; needs the preset's potential, one energy evaluation per"
                        " prediction; default: off, the learned map on its own)")
    p.add_argument("--energies", action="store_true",
                   help="evaluate the true potential energy (float64) of every written frame and the summary's"
                        " total-energy change, where ogn knows the system's potential (default: off: the potential"
                        " is what the learned simulator replaces)")
    p.add_argument("--thermostat", choices=["langevin", "csvr"],
                   help="NVT: a thermostat half step before and after every prediction (Langevin as FlashMD,"
                        " CSVR (Bussi) as TrajCast; default: none, NVE)")
    p.add_argument("--temperature", type=float,
                   help="thermostat temperature (LJ: epsilon/k_B; metal/real: K; required with --thermostat)")
    p.add_argument("--damping", type=float,
                   help="thermostat time constant, in the model's time unit (LJ tau, metal ps, real fs; default 100"
                        " MD timesteps)")
    p.add_argument("--seed", type=int, default=0, help="seed of the thermostat's noise (default 0)")
    p.add_argument("--store-precision", choices=["float32", "float64"], default="float32",
                   help="precision of the stored positions and velocities in H5MD (default float32, the precision"
                        " the network computes in)")
    p.add_argument("--skin", type=float,
                   help="cell-list skin above 2000 atoms, in the system's length unit (LJ sigma, metal A; default:"
                        " twice the distance the start's fastest atom covers in one prediction, between 0.1 and 0.5 x"
                        " the model's graph cutoff): the list is rebuilt when an atom has moved half of it. A speed"
                        " setting only: no pair is ever dropped")
    p.set_defaults(func=run, needs_x64=lambda args: args.energies or args.energy_correction)


def run(args) -> int:
    from ogn.simulator import RolloutConfig
    from ogn.simulator.files import rollout_to_file

    config = RolloutConfig(every=args.every, network_dtype=args.network_dtype, thermostat=args.thermostat,
                           temperature=args.temperature, damping=args.damping, seed=args.seed,
                           energy_correction=args.energy_correction, skin=args.skin)
    replaces = Path(args.out).exists()
    summary, _ = rollout_to_file(args.run, args.init, args.out, args.steps, config, frame=args.frame,
                                 energies=args.energies, store_precision=args.store_precision, log=logger(),
                                 progress_factory=progress_bar)
    console().print(wrote(args.out, replaces))
    for line in summary.lines():
        console().print("  " + line)
    return 0
