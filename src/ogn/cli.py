"""The `ogn` command: parse arguments, build a config, call the library. Nothing else lives here."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

PRESET_NAMES = ["lj", "lj-ka", "silica", "silicon", "cuzr"]
DESCRIPTION = """\
Learn molecular dynamics from trajectories with observation-based graph networks (OGN), and run the
learned network as a simulator that takes k MD steps per prediction.

A workflow (LJ liquid; every command has --help):
  ogn dataset lj --out data/lj                                 # MD trajectories by the paper's protocol
  ogn train configs/lj-fast-cpu.yaml --out runs/lj             # a Fast-OGN on them
  ogn rollout runs/lj --init data/lj/test/traj-000.h5 --steps 1000 --out rollout.h5
  ogn evaluate runs/lj --data data/lj                          # against MD and baselines: report.md
  ogn convert rollout.h5 rollout.extxyz                        # for OVITO

Shipped models run by name: ogn rollout lj-fast-k5 --init START --steps 500 --out r.h5"""
NETWORK_DTYPES = ("float32", "bfloat16")  # ogn.rollout's, restated so that --help imports no jax


def _console():
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def progress_bar(description: str, total: int | None):
    """A rich progress bar on stderr; yields advance(n)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=_console(), transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def _system_args(p: argparse.ArgumentParser, optional: bool = False) -> None:
    p.add_argument("preset", choices=PRESET_NAMES, nargs="?" if optional else None,
                   help="system preset (paper Methods 4.1)" + (" (none with --from)" if optional else ""))
    p.add_argument("--n-atoms", type=int, help="scale the preset to N atoms at the same number density")
    p.add_argument("--temperature", type=float,
                   help="override the preset temperature (LJ: epsilon/k_B; metal presets: K; default: the preset's)")
    p.add_argument("--dt", type=float, help="override the preset timestep (LJ: tau; metal presets: ps; default: the"
                                            " preset's)" + ("; with --from, the files' MD timestep in the time unit"
                                                            " of --units (required)" if optional else ""))
    p.add_argument("--skin", type=float, help="override the neighbor-list skin, r_c = cutoff + skin (LJ: sigma;"
                                              " metal presets: Angstrom; default: the preset's)")
    p.add_argument("--box", type=float, nargs=3, metavar=("LX", "LY", "LZ"),
                   help="orthorhombic box sides (LJ: sigma; metal presets: Angstrom), replacing the preset's cube at"
                        " the same atom count (default: the preset's cube, scaled with --n-atoms)")
    p.add_argument("--potential", help="cuzr: an .eam.fs file instead of LAMMPS's CuZr_mm.eam.fs")


def _build_system(args):
    from ogn.systems import get_system

    return get_system(
        args.preset, n_atoms=args.n_atoms, potential_file=args.potential,
        temperature=args.temperature, dt=args.dt, skin=args.skin,
        box=tuple(args.box) if getattr(args, "box", None) else None,
    )


def cmd_md(args) -> int:
    from ogn.md.simulate import set_precision

    set_precision(args.precision)
    from ogn.io.files import check_writable
    from ogn.io.h5md import check_h5md_name, failed_path
    from ogn.md.run import MDConfig, run_md

    check_h5md_name(args.out)
    system = _build_system(args)
    config = MDConfig(
        steps=args.steps, every=args.every, seed=args.seed, engine=args.engine, glass=args.glass,
        glass_temperature=args.glass_temperature, quench_steps=args.quench_steps, init=args.init, frame=args.frame,
    )
    console = _console()
    out = check_writable(args.out)
    replaces = out.exists()
    started = time.time()
    try:
        summary = run_md(system, config, out, log=console.log, progress_factory=progress_bar)
    except BaseException:
        partial = failed_path(out)
        if partial.exists() and partial.stat().st_mtime >= started:
            console.print(f"the frames written before it stopped are in {partial}; {out} was left untouched")
        raise
    console.print(f"[bold]wrote[/bold] {out}{' (replacing the earlier file)' if replaces else ''}")
    for line in summary.lines():
        console.print("  " + line)
    return 0


def cmd_dataset(args) -> int:
    if args.from_files:
        return _import_dataset(args)
    from ogn.data.dataset import DatasetSpec, make_dataset

    if args.preset is None:
        raise ValueError("ogn dataset needs a preset (lj, silica, ...) to simulate, or --from FILES to import")
    system = _build_system(args)
    spec = DatasetSpec(
        trajectories=args.trajectories, test_trajectories=args.test_trajectories, steps=args.steps,
        k_max=args.k_max or 20, test_pairs=args.test_pairs, glass=args.glass, engine=args.engine, seed=args.seed,
    )
    console = _console()
    meta = make_dataset(system, spec, args.out, log=console.log, progress_factory=progress_bar)
    console.print(
        f"[bold]wrote[/bold] {args.out}: {len(meta['train'])} training and {len(meta['test'])} test trajectories"
        f" of {meta['frames_per_trajectory']} frames (N = {system.n_atoms}, dt = {system.dt})"
    )
    return 0


def _import_dataset(args) -> int:
    from ogn.data.imported import ImportSpec, import_dataset

    if args.preset is not None:
        raise ValueError(f"--from imports trajectories of a system without a preset; drop the preset {args.preset!r}")
    missing = [flag for flag, value in (("--test-from", args.test_from), ("--units", args.units), ("--dt", args.dt),
                                        ("--cutoff", args.cutoff)) if value is None]
    if missing:
        raise ValueError(f"--from needs {', '.join(missing)}")
    spec = ImportSpec(units=args.units, dt=args.dt, cutoff=args.cutoff, k_max=args.k_max,
                      type_map={int(k): v for k, v in parse_pairs(args.type_map, "--type-map", int).items()},
                      masses=parse_pairs(args.masses, "--masses", str, float), frame_stride=args.frame_stride,
                      name=args.name)
    console = _console()
    meta = import_dataset(args.from_files, args.test_from, args.out, spec, log=console.log)
    console.print(f"[bold]wrote[/bold] {args.out}: {len(meta['train'])} training and {len(meta['test'])} test"
                  f" trajectories, k <= {meta['spec']['k_max']} in steps of {meta['spec']['stride']}")
    return 0


def parse_pairs(text: str | None, flag: str, key=str, value=str) -> dict:
    """"1=Al,2=Cu" -> {1: "Al", 2: "Cu"} (with `key` and `value` conversions); a clear error otherwise."""
    out = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        k, sep, v = item.partition("=")
        try:
            if not sep or not k.strip() or not v.strip():
                raise ValueError
            out[key(k.strip())] = value(v.strip())
        except ValueError:
            raise ValueError(f"{flag} {text!r}: expected KEY=VALUE pairs separated by commas, e.g. 1=Al,2=Cu"
                             " or Al=26.98,Cu=63.55") from None
    return out


@contextlib.contextmanager
def training_bar(description: str, total: int, start: int = 0):
    """Progress of a training run: steps, loss, test loss, steps/s."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3g}  test {task.fields[test_loss]:.3g}  {task.fields[rate]:.1f} steps/s"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=_console()) as progress:
        task = progress.add_task(description, total=total, completed=start, loss=float("nan"),
                                 test_loss=float("nan"), rate=0.0)
        yield lambda n, **fields: progress.update(task, advance=n, **fields)


class StopRequest:
    """SIGINT and SIGTERM ask training to stop: the loop checks between steps, checkpoints and leaves.

    A KeyboardInterrupt raised wherever the signal lands could cut a checkpoint (or a first import of
    matplotlib) in half. `kill`, `timeout` and batch schedulers send SIGTERM, and a job started in the
    background ignores SIGINT unless a handler is installed. A second signal stops at once.
    """

    def __init__(self):
        import signal

        self.requested = False
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __call__(self) -> bool:
        return self.requested


def cmd_train(args) -> int:
    from ogn.train import load_config, train_and_evaluate

    stop = StopRequest()
    config = load_config(args.config, data=args.data, steps=args.steps, k=args.k)
    out = args.out or str(Path("runs") / Path(args.config).stem)
    console = _console()
    info = train_and_evaluate(config, out, resume=args.resume, log=console.log, progress_factory=training_bar,
                              stop_requested=stop)
    console.print(f"[bold]trained[/bold] {out}: {info['step']} steps, test loss {info['test_loss']:.4g}, "
                  f"{info['wall_time_s']:.0f} s on {info['device']}")
    return 0


def cmd_rollout(args) -> int:
    from ogn.rollout import rollout_to_file

    console = _console()
    replaces = Path(args.out).exists()
    summary, _ = rollout_to_file(args.run, args.init, args.out, args.steps, frame=args.frame,
                                 energies=args.energies, every=args.every, network_dtype=args.network_dtype,
                                 energy_correction=args.energy_correction, thermostat=args.thermostat,
                                 temperature=args.temperature, damping=args.damping, seed=args.seed,
                                 store_precision=args.store_precision, skin=args.skin, log=console.log,
                                 progress_factory=progress_bar)
    console.print(f"[bold]wrote[/bold] {args.out}{' (replacing the earlier file)' if replaces else ''}")
    for line in summary.lines():
        console.print("  " + line)
    return 0


def cmd_evaluate(args) -> int:
    from ogn.evaluate.report import evaluate_run

    out = args.out or str(default_evaluation_dir(args.run))
    console = _console()
    s = evaluate_run(args.run, args.data, out, n_starts=args.starts, horizon=args.horizon,
                     long_steps=args.long_steps, log=console.log)
    for name, r in s["final_rmse"].items():
        text = ("blew up" if r["position"] is None else
                f"position RMSE {r['position']:.4g}, velocity RMSE {r['velocity']:.4g}")
        console.print(f"  {name:>20}: {text} after {s['horizon_md_steps']} MD steps")
    console.print(f"[bold]wrote[/bold] {out}/report.md")
    return 0


def cmd_reproduce(args) -> int:
    from ogn.reproduce import reproduce

    fig_dir = reproduce(args.figure, args.scale, args.out, log=_console().log, progress_factory=training_bar)
    _console().print(f"[bold]wrote[/bold] {fig_dir}/README.md")
    return 0


def cmd_energy(args) -> int:
    from ogn.md.simulate import structure_energy_and_forces

    system = _build_system(args)
    energy, forces = structure_energy_and_forces(system, args.structure)
    if args.json:
        json.dump({"energy": energy, "forces": forces.tolist()}, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"potential energy: {energy!r} {system.units.energy}")
        print(f"forces ({system.units.energy}/{system.units.length}), atoms in id order:")
        for a, f in enumerate(forces.tolist()):
            print(f"{a + 1} {f[0]!r} {f[1]!r} {f[2]!r}")
    return 0


def cmd_convert(args) -> int:
    from ogn.io.h5md import read_trajectory
    from ogn.io.structures import write_extxyz, write_lammps_dump

    sel = parse_frames(args.frames)
    out = Path(args.output)
    if out.suffix not in (".xyz", ".extxyz", ".dump", ".lammpstrj"):
        raise ValueError(f"{out}: unknown output format {out.suffix!r}; use .extxyz/.xyz or .dump/.lammpstrj")
    t = read_trajectory(args.input, frames=sel)
    frames = list(zip(t.positions, t.velocities))
    if not frames:
        raise ValueError(f"--frames {args.frames}: selects none of the frames of {args.input}")
    if t.status != "complete":
        _console().print(f"[bold yellow]warning:[/bold yellow] {args.input} did not complete (status {t.status!r})")
    if out.suffix in (".xyz", ".extxyz"):
        names = t.metadata.get("system", {}).get("species") or [str(k) for k in range(t.species.max() + 1)]
        from ogn.units import UNITS

        write_extxyz(out, frames, t.species, names, t.box, steps=t.steps, times=t.times,
                     time_unit=UNITS[t.units].time if t.units in UNITS else None)
    elif out.suffix in (".dump", ".lammpstrj"):
        write_lammps_dump(out, frames, t.species, t.box, t.steps)
    _console().print(f"wrote {len(frames)} frames to {out}")
    return 0


def parse_frames(text: str | None) -> slice:
    """`START:STOP` (either may be empty, Python's slice rules) -> slice; a clear error otherwise."""
    if not text:
        return slice(None)
    start, colon, stop = text.partition(":")
    try:
        if not colon:
            raise ValueError
        return slice(int(start) if start.strip() else None, int(stop) if stop.strip() else None)
    except ValueError:
        raise ValueError(f"--frames {text!r}: expected START:STOP with integers, e.g. 0:100 or -10:") from None


def default_evaluation_dir(run: str) -> Path:
    """evaluation-RUN in the working directory, numbered when taken: never the run's own committed report."""
    base = Path(f"evaluation-{Path(run).resolve().name}")
    out, n = base, 2
    while out.exists():
        out, n = Path(f"{base}-{n}"), n + 1
    return out


def cmd_bench(args) -> int:
    from ogn.bench import bench_md, bench_train

    if args.what == "md":
        bench_md(sizes=args.sizes, presets=args.presets, steps=args.steps, out=args.out, engines=args.engines)
    elif args.what == "rollout":
        from ogn.bench import bench_rollout, shipped_runs

        runs = shipped_runs(args.presets)
        for spec in args.run or []:
            preset, sep, run_dir = spec.partition("=")
            if not sep or preset not in args.presets:
                raise ValueError(f"--run {spec!r}: expected PRESET=RUN_DIR with PRESET one of {args.presets}")
            runs[preset] = Path(run_dir)
        bench_rollout(args.presets, args.sizes, threads=args.threads, out=args.out,
                      figures_dir=Path(args.out).parent, log=_console().log, runs=runs,
                      network_dtype=args.network_dtype)
    else:
        bench_train(layers=args.layers, orders=args.orders, steps=args.steps, out=args.out, log=_console().log)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ogn", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("md", help="ground-truth MD: prepare by the paper's protocol, write NVE production (H5MD)")
    _system_args(p)
    p.add_argument("--steps", type=int, default=1000, help="production (NVE) steps (default 1000)")
    p.add_argument("--every", type=int, default=1, help="write a frame every E steps (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of placement and velocities (default 0)")
    p.add_argument("--engine", choices=["jax", "lammps"], default="jax", help="MD engine (default jax)")
    p.add_argument("--precision", choices=["float32", "float64"], default="float32",
                   help="arithmetic of the jax engine (default float32)")
    p.add_argument("--glass", action="store_true", help="quench to --glass-temperature under NVT before production")
    p.add_argument("--glass-temperature", type=float, default=0.5,
                   help="in the preset's temperature unit: LJ epsilon/k_B, metal presets K (default 0.5, the LJ"
                        " glass; give one in K for a metal preset)")
    p.add_argument("--quench-steps", type=int, default=10_000, help="MD steps of the quench (default 10000)")
    p.add_argument("--init", help="start from this structure with velocities (H5MD, LAMMPS data, extxyz)")
    p.add_argument("--frame", type=int, default=-1, help="frame of an H5MD --init file (default: last)")
    p.add_argument("--out", required=True, help="output trajectory, FILE.h5")
    p.set_defaults(func=cmd_md)

    p = sub.add_parser("dataset", help="k-step training pairs: MD of a preset storing every step, or your own"
                                       " trajectories (--from)")
    _system_args(p, optional=True)
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
                   help="with --from: graph cutoff in the files' length unit (required; e.g. the potential's cutoff)")
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
    p.add_argument("--seed", type=int, default=0,
                   help="first training seed; test seeds start at seed + 10000 (default 0)")
    p.set_defaults(func=cmd_dataset)

    p = sub.add_parser("train", help="train an OGN / Fast-OGN (paper 4.4) into a run directory")
    p.add_argument("config", help="YAML config (see configs/)")
    p.add_argument("--data", help="dataset directory (overrides the config's `data`)")
    p.add_argument("--out", help="run directory (default runs/CONFIG-NAME)")
    p.add_argument("--steps", type=int, help="gradient steps (overrides train.steps; default: the config's)")
    p.add_argument("--k", type=int, help="MD steps per prediction, a multiple of the dataset's frame stride"
                                         " (overrides train.k; default: the config's)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("rollout", help="run a trained OGN as a simulator, k MD steps per prediction (H5MD out)")
    p.add_argument("run", help="trained run directory (ogn train), or a shipped model by name (lj-fast-k5, ...)")
    p.add_argument("--init", required=True,
                   help="start: H5MD trajectory, LAMMPS data file with Velocities, or extxyz with velocities")
    p.add_argument("--frame", type=int, default=-1, help="frame of an H5MD --init file (default: last)")
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
                   help="evaluate the true potential energy of every written frame and the summary's total-energy"
                        " change (default: off: the potential is what the learned simulator replaces)")
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
    p.set_defaults(func=cmd_rollout)

    p = sub.add_parser("evaluate", help="roll a trained model out against MD and baselines; report and figures")
    p.add_argument("run", help="trained run directory or shipped model")
    p.add_argument("--data", required=True, help="dataset directory; its test trajectories are the reference")
    p.add_argument("--out", help="report directory (default: evaluation-RUN-NAME in the working directory,"
                                 " numbered if taken)")
    p.add_argument("--starts", type=int, default=10, help="rollout starts spread over the test set (default 10)")
    p.add_argument("--horizon", type=int, default=100, help="MD steps per rollout for the RMSE (default 100)")
    p.add_argument("--long-steps", type=int, default=1000, help="MD steps of the long rollout (default 1000)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("reproduce", help="data, training and evaluation for one of the paper's figures")
    p.add_argument("figure", choices=["fig2", "fig3", "fig4b", "fig5"],
                   help="fig2: OGN on LJ; fig3: OGN on silica, silicon, CuZr; fig4b: energy and momentum;"
                        " fig5: liquid vs glass")
    p.add_argument("--scale", choices=["quick", "paper"], default="quick",
                   help="quick (the default): minutes on a 2-core CPU, reduced budgets (said on the figures); paper: the"
                        " paper's settings (days on a GPU)")
    p.add_argument("--out", default="out/reproduce", help="output directory (default out/reproduce)")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("energy", help="potential energy and forces of a structure, in float64")
    _system_args(p)
    p.add_argument("structure", help="LAMMPS data file (atomic or charge) or extxyz")
    p.add_argument("--json", action="store_true", help='print {"energy": E, "forces": [[fx, fy, fz], ...]}')
    p.set_defaults(func=cmd_energy)

    p = sub.add_parser("convert", help="export an H5MD trajectory to extxyz or LAMMPS dump")
    p.add_argument("input", help="trajectory FILE.h5")
    p.add_argument("output", help="OUT.extxyz / OUT.xyz or OUT.dump / OUT.lammpstrj")
    p.add_argument("--frames", help="python-style slice START:STOP of frames (default: all)")
    p.set_defaults(func=cmd_convert)

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
    b.set_defaults(func=cmd_bench)
    b = bsub.add_parser("train", help="gradient steps/s and peak memory of OGN training at the lj preset (N = 265)")
    b.add_argument("--layers", nargs="+", type=int, default=[2, 10], help="MPNN layer counts (default 2 10)")
    b.add_argument("--orders", nargs="+", default=["per-node", "per-edge"], choices=["per-node", "per-edge"],
                   help="ways to apply the edge MLP's first layer (default: both)")
    b.add_argument("--steps", type=int, default=20, help="gradient steps per timed call (default 20)")
    b.add_argument("--out", default="bench.md", help="Markdown file to update (default bench.md in the working directory)")
    b.set_defaults(func=cmd_bench)
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
    b.set_defaults(func=cmd_bench)
    return parser


def compilation_cache_dir() -> Path | None:
    """Where compiled XLA programs persist between runs: $OGN_CACHE_DIR, else $XDG_CACHE_HOME/ogn/jax or
    ~/.cache/ogn/jax; OGN_CACHE_DIR=off disables it. Safe to delete at any time."""
    import os

    setting = os.environ.get("OGN_CACHE_DIR")
    if setting is not None:
        return None if setting.strip().lower() in ("", "0", "off", "none") else Path(setting)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ogn" / "jax"


def use_compilation_cache() -> None:
    """A second run with the same shapes loads its programs instead of compiling them again."""
    directory = compilation_cache_dir()
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a read-only home: run without the cache rather than fail
    import jax

    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # start-up is many small compiles


def main(argv=None) -> int:
    import warnings

    # jax-md's neighbor lists under float64 trigger a harmless int64 -> int32 scatter warning
    warnings.filterwarnings("ignore", message="scatter inputs have incompatible types", category=FutureWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        use_compilation_cache()
        return args.func(args)
    except (ValueError, OSError, RuntimeError, ArithmeticError) as err:
        from rich.markup import escape

        _console().print(f"[bold red]error:[/bold red] {escape(str(err))}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        _console().print("[bold red]interrupted[/bold red]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
