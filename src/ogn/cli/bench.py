"""`ogn bench md|train|rollout`: speed as users see it, into BENCHMARKS.md (or the file --out names)."""

from __future__ import annotations

from pathlib import Path

from ogn.cli.common import PRESET_NAMES, console
from ogn.cli.rollout import NETWORK_DTYPES


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks; results go to BENCHMARKS.md")
    bsub = p.add_subparsers(dest="what", required=True)
    b = bsub.add_parser("md", help="us/atom-step of the jax engine and LAMMPS (1 thread) per preset and size")
    b.add_argument("--presets", nargs="+", default=PRESET_NAMES[:1] + PRESET_NAMES[2:], choices=PRESET_NAMES,
                   help="presets to time (default lj silica silicon cuzr)")
    b.add_argument("--sizes", nargs="+", type=int, default=[300, 3000, 10000],
                   help="atom counts (default 300 3000 10000)")
    b.add_argument("--engines", nargs="+", default=["jax", "lammps"], choices=["jax", "lammps"],
                   help="engines to time (default jax lammps)")
    b.add_argument("--steps", type=int, help="timed steps per measurement (default: about 1e6 atom-steps)")
    b.add_argument("--out", default="bench.md", help="Markdown file to update (default bench.md in the working directory)")
    b.set_defaults(func=run, needs_x64=lambda args: False)
    b = bsub.add_parser("train", help="gradient steps/s and peak memory of OGN training at the lj preset (N = 265)")
    b.add_argument("--layers", nargs="+", type=int, default=[2, 10], help="MPNN layer counts (default 2 10)")
    b.add_argument("--orders", nargs="+", default=["per-node", "per-edge"], choices=["per-node", "per-edge"],
                   help="ways to apply the edge MLP's first layer (default: both)")
    b.add_argument("--steps", type=int, default=20, help="gradient steps per timed call (default 20)")
    b.add_argument("--out", default="bench.md", help="Markdown file to update (default bench.md in the working directory)")
    b.set_defaults(func=run, needs_x64=lambda args: False)
    b = bsub.add_parser("rollout", help="wall time of 100 MD steps: jax MD, LAMMPS, Fast-OGN, per preset and size")
    b.add_argument("--presets", nargs="+", default=["lj", "silica", "silicon", "cuzr"], choices=PRESET_NAMES,
                   help="presets to time (default lj silica silicon cuzr)")
    b.add_argument("--sizes", nargs="+", type=int, default=[265, 1000, 2000, 5000, 10000],
                   help="atom counts (default 265 1000 2000 5000 10000)")
    b.add_argument("--threads", type=int, help="LAMMPS OpenMP threads for the second column (default: all cores)")
    b.add_argument("--run", action="append", metavar="PRESET=RUN_DIR",
                   help="also time this trained run for PRESET (default: the shipped models/PRESET-fast-kK)")
    b.add_argument("--network-dtype", choices=NETWORK_DTYPES, default="float32",
                   help="dtype of the Fast-OGN networks' arithmetic, bfloat16 a GPU option (default float32)")
    b.add_argument("--out", default="bench.md",
                   help="Markdown file to update, figures beside it (default bench.md in the working directory)")
    b.set_defaults(func=run, needs_x64=lambda args: False)


def run(args) -> int:
    from ogn.bench import bench_md, bench_rollout, bench_train, shipped_runs

    log = console().log
    if args.what == "md":
        bench_md(sizes=args.sizes, presets=args.presets, steps=args.steps, out=args.out, engines=args.engines, log=log)
    elif args.what == "rollout":
        runs = shipped_runs(args.presets)
        for spec in args.run or []:
            preset, sep, run_dir = spec.partition("=")
            if not sep or preset not in args.presets:
                raise ValueError(f"--run {spec!r}: expected PRESET=RUN_DIR with PRESET one of {args.presets}")
            runs[preset] = Path(run_dir)
        bench_rollout(args.presets, args.sizes, threads=args.threads, out=args.out,
                      figures_dir=Path(args.out).parent, log=log, runs=runs, network_dtype=args.network_dtype)
    else:
        bench_train(layers=args.layers, orders=args.orders, steps=args.steps, out=args.out, log=log)
    return 0
