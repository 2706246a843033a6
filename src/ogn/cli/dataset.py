"""`ogn dataset`: k-step training pairs, from MD of a preset or from the user's own trajectories."""

from __future__ import annotations

from ogn.cli.common import add_system_args, build_system, console, logger, parse_pairs, progress_bar


def add_parser(sub) -> None:
    p = sub.add_parser("dataset", help="k-step training pairs: MD of a preset storing every step, or your own"
                                       " trajectories (--from)")
    add_system_args(p, optional=True)
    p.add_argument("--out", required=True, help="dataset directory")
    p.add_argument("--from", dest="from_files", nargs="+", metavar="FILE",
                   help="import these trajectories (LAMMPS dump custom with id type positions vx vy vz, extxyz with"
                        " velocities, or H5MD) as training data, one independent trajectory per file (default: none;"
                        " simulate the preset)")
    p.add_argument("--test-from", nargs="+", metavar="FILE",
                   help="with --from: independent trajectories for the test pairs, never trained on (required)")
    p.add_argument("--units", choices=["lj", "metal", "real"],
                   help="with --from: the LAMMPS unit style of the files (required)")
    p.add_argument("--cutoff", type=float,
                   help="with --from: the learned model's graph cutoff, in the files' length unit (required; e.g. the"
                        " potential's cutoff, or its first coordination shells)")
    p.add_argument("--type-map", help="with --from: species names of LAMMPS types, e.g. 1=Al,2=Cu (default: the"
                                      " element column, else the type numbers)")
    p.add_argument("--masses", help="with --from: masses of species without a mass column or element name, e.g."
                                    " A=1.0,B=1.0 (mass units of --units; default: the files' mass column, else the"
                                    " element's standard mass)")
    p.add_argument("--frame-stride", type=int,
                   help="with --from: MD steps between frames for files that carry no step (extxyz without Step=;"
                        " default: from the files' timesteps)")
    p.add_argument("--name", default="imported", help="with --from: the system's name in runs and reports"
                                                      " (default imported)")
    p.add_argument("--trajectories", type=int, default=10, help="independent training trajectories (default 10)")
    p.add_argument("--test-trajectories", type=int, default=2,
                   help="independent test trajectories, own seeds (default 2)")
    p.add_argument("--steps", type=int, default=1000, help="pairs per trajectory for every k <= k_max (default 1000)")
    p.add_argument("--k-max", type=int, help="largest k (MD steps) the dataset serves (default 20 for a preset;"
                                             " with --from, the span of the shortest trajectory)")
    p.add_argument("--test-pairs", type=int, default=100, help="test pairs (default 100, the paper's)")
    p.add_argument("--glass", action="store_true", help="melt-quench each trajectory to T = 0.5 first (LJ)")
    p.add_argument("--engine", choices=["jax", "lammps"], default="jax", help="MD engine (default jax)")
    p.add_argument("--precision", choices=["float32", "float64"], default="float32",
                   help="arithmetic of the jax engine's MD (default float32)")
    p.add_argument("--seed", type=int, default=0,
                   help="first training seed; test seeds start at seed + 10000 (default 0)")
    p.set_defaults(func=run, needs_x64=lambda args: args.precision == "float64")


def run(args) -> int:
    if args.from_files:
        return import_files(args)
    from ogn.data.dataset import DatasetSpec, make_dataset

    if args.preset is None:
        raise ValueError("ogn dataset needs a preset (lj, silica, ...) to simulate, or --from FILES to import")
    system = build_system(args)
    spec = DatasetSpec(trajectories=args.trajectories, test_trajectories=args.test_trajectories, steps=args.steps,
                       k_max=args.k_max or 20, test_pairs=args.test_pairs, glass=args.glass, engine=args.engine,
                       seed=args.seed, precision=args.precision)
    meta = make_dataset(system, spec, args.out, log=logger(), progress_factory=progress_bar)
    console().print(f"[bold]wrote[/bold] {args.out}: {len(meta['train'])} training and {len(meta['test'])} test"
                    f" trajectories of {meta['frames_per_trajectory']} frames (N = {system.n_atoms}, dt = {system.dt})")
    return 0


def import_files(args) -> int:
    from ogn.data.imported import ImportSpec, import_dataset

    if args.preset is not None:
        raise ValueError(f"--from imports trajectories of a system without a preset; drop the preset {args.preset!r}")
    missing = [flag for flag, value in (("--test-from FILE", args.test_from), ("--units lj|metal|real", args.units),
                                        ("--dt DT (the files' MD timestep)", args.dt),
                                        ("--cutoff RC (the model's graph cutoff)", args.cutoff)) if value is None]
    if missing:
        raise ValueError(f"--from needs {', '.join(missing)}")
    spec = ImportSpec(units=args.units, dt=args.dt, cutoff=args.cutoff, k_max=args.k_max,
                      type_map={int(k): v for k, v in parse_pairs(args.type_map, "--type-map", int).items()},
                      masses=parse_pairs(args.masses, "--masses", str, float), frame_stride=args.frame_stride,
                      name=args.name)
    meta = import_dataset(args.from_files, args.test_from, args.out, spec, log=logger())
    console().print(f"[bold]wrote[/bold] {args.out}: {len(meta['train'])} training and {len(meta['test'])} test"
                    f" trajectories, k <= {meta['spec']['k_max']} in steps of {meta['spec']['stride']}")
    return 0
