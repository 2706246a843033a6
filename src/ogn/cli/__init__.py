"""The `ogn` command: parse arguments, call the library, print. Each subcommand's module builds its own
parser (`add_parser`) and runs it; this one assembles them and handles what every command shares:
64-bit JAX for the commands that compute in float64 (set here, never in the library), the signals that
stop a command, and errors as one line."""

from __future__ import annotations

import argparse
import sys

from ogn.cli import bench, convert, dataset, evaluate, info, lammps, md, reproduce, rollout, train
from ogn.cli.common import STOP, console

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ogn", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    md.add_md_parser(sub)
    dataset.add_parser(sub)
    train.add_parser(sub)
    rollout.add_parser(sub)
    lammps.add_parser(sub)
    evaluate.add_parser(sub)
    reproduce.add_parser(sub)
    md.add_energy_parser(sub)
    convert.add_parser(sub)
    bench.add_parser(sub)
    info.add_parser(sub)
    return parser


def main(argv=None) -> int:
    import warnings

    # jax-md's neighbor lists under float64 trigger a harmless int64 -> int32 scatter warning
    warnings.filterwarnings("ignore", message="scatter inputs have incompatible types", category=FutureWarning)
    args = build_parser().parse_args(normalise_negative_values(sys.argv[1:] if argv is None else argv))
    STOP.install(gentle=getattr(args, "gentle_stop", False))
    try:
        if args.needs_x64(args):
            import jax

            jax.config.update("jax_enable_x64", True)
        return args.func(args)
    except (ValueError, OSError, RuntimeError, ArithmeticError) as err:
        from rich.markup import escape

        # an OSError made with (errno, message) prints "[Errno 27] message": the message is what a user reads
        message = err.strerror if isinstance(err, OSError) and err.filename is None and err.strerror else str(err)
        console().print(f"[bold red]error:[/bold red] {escape(message)}", soft_wrap=True)
        return 2
    except KeyboardInterrupt as err:
        import signal

        reason = signal.Signals(STOP.requested).name if STOP.requested is not None else str(err) or "SIGINT"
        console().print(f"[bold red]stopped[/bold red] by {reason}; nothing ogn had already written was replaced")
        return 143 if reason == "SIGTERM" else 130


def normalise_negative_values(argv: list[str]) -> list[str]:
    """`--frames -10:` as `--frames=-10:`: argparse takes a value that starts with '-' for an option."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--frames" and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"--frames={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


if __name__ == "__main__":
    sys.exit(main())
