"""A user's LAMMPS input read for `ogn lammps`: split where the box is made, so that ogn's own commands
(its fix, the timestep, the ghost cutoff) go in right after, and refused where it cannot work with a
learned integrator. Every refusal names the file and the line.

Only literal commands are checked: a command hidden in a variable (`${cmd}`) or in an include file whose
name holds a variable reaches LAMMPS unchecked.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

BOX_COMMANDS = ("read_data", "read_restart", "create_box")
# fix styles (the part before the first "/") that integrate, move atoms or add forces that nothing would
# integrate: under ogn the learned map is the only integrator
INTEGRATOR_STYLES = frozenset(("nve", "nvt", "npt", "nph", "rigid", "brownian", "gld", "gle", "nvk", "tfmc", "move",
                               "sph", "smd", "dpd", "viscous", "setforce", "addforce", "aveforce", "spring", "efield",
                               "wall", "indent", "gravity", "shake", "rattle", "lineforce", "planeforce"))
# set by ogn from the model after the box exists; the user's versions would override them
OGN_SETTINGS = ("neighbor", "neigh_modify", "comm_modify")


class LammpsInputError(ValueError):
    pass


@dataclass
class Command:
    words: list[str]
    text: str  # as written (continuations joined, comment removed)
    source: str  # "FILE:LINE"


@dataclass
class LammpsInput:
    """The input split at its first box command: `before` ends with it; `setup` is what follows, up to the
    first `run` (executed before ogn checks the atoms); `rest` starts at that `run`."""

    path: Path
    before: list[Command] = field(default_factory=list)
    setup: list[Command] = field(default_factory=list)
    rest: list[Command] = field(default_factory=list)
    timesteps: list[Command] = field(default_factory=list)  # `timestep` commands, checked against k dt
    pair_style: bool = False  # the input defines a potential: thermo's pe is the true energy


def logical_lines(path: Path) -> list[tuple[str, int]]:
    """(text, first line number) of each command: `&` continuations joined, comments removed."""
    try:
        raw = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise LammpsInputError(f"{path}: cannot read the LAMMPS input ({err})") from err
    out, pending, first = [], "", 0
    for number, line in enumerate(raw, 1):
        line = _without_comment(line).rstrip()
        if not pending:
            first = number
        if line.endswith("&"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        if text:
            out.append((text, first))
    if pending.strip():
        out.append((pending.strip(), first))
    return out


def _without_comment(line: str) -> str:
    """The line up to a `#` that is not inside quotes (LAMMPS's rule)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def commands(path: Path, depth: int = 0) -> list[Command]:
    """The commands of `path`, with literal `include` files read in place."""
    if depth > 8:
        raise LammpsInputError(f"{path}: includes nest deeper than 8 levels")
    out = []
    for text, number in logical_lines(path):
        try:
            words = shlex.split(text)
        except ValueError as err:
            raise LammpsInputError(f"{path}:{number}: cannot split '{text}' into words ({err})") from err
        source = f"{path}:{number}"
        if words[0] == "include" and len(words) == 2 and "$" not in words[1]:
            included = Path(words[1])
            if not included.is_file():
                raise LammpsInputError(f"{source}: include file {included} not found (relative paths are from the"
                                       " directory ogn lammps runs in, as in LAMMPS)")
            out += commands(included, depth + 1)
        else:
            out.append(Command(words, text, source))
    return out


def refusal(command: Command) -> str | None:
    """Why this command cannot run under the learned integrator, or None."""
    name, args = command.words[0], command.words[1:]
    if name == "fix" and len(args) >= 3:
        style = args[2].split("/")[0]
        if style == "langevin":
            return (f"fix {args[2]} adds forces, and nothing integrates forces under ogn; use `fix temp/csvr`"
                    " (velocity rescaling) or the learned thermostat of `ogn rollout --thermostat`")
        if style in INTEGRATOR_STYLES:
            return (f"fix {args[2]} integrates or moves atoms; ogn's learned map is the integrator (remove it: ogn"
                    " adds its own fix)")
    if name in ("minimize", "min_style", "min_modify", "rerun", "tad", "prd", "neb", "temper"):
        return f"`{name}` needs forces or another driver; run it in LAMMPS with the true potential"
    if name == "run_style" and args[:1] != ["verlet"]:
        return "run_style must be verlet (ogn's fix runs in its post-force stage)"
    if name in OGN_SETTINGS:
        return (f"ogn sets `{name}` from the model (the ghost atoms must reach the model's receptive field);"
                " remove the line")
    if name == "change_box" or (name == "fix" and len(args) >= 3 and args[2] in ("deform", "box/relax")):
        return "the box must stay fixed (the model was trained at constant volume)"
    return None


def read_input(path: str | Path) -> LammpsInput:
    """The input at `path` split for ogn; a LammpsInputError for the first command that cannot work."""
    path = Path(path)
    if not path.is_file():
        raise LammpsInputError(f"{path}: no such LAMMPS input file")
    parsed = LammpsInput(path)
    part = parsed.before
    for command in commands(path):
        why = refusal(command)
        if why:
            raise LammpsInputError(f"{command.source}: `{command.text}`: {why}")
        name = command.words[0]
        if name == "timestep":
            parsed.timesteps.append(command)
            continue  # ogn sets it (k dt); a matching one is checked and dropped
        if name == "pair_style" and command.words[1:2] != ["none"]:
            parsed.pair_style = True
        if part is parsed.setup and name == "run":
            part = parsed.rest
        part.append(command)
        if part is parsed.before and name in BOX_COMMANDS:
            part = parsed.setup
    if part is parsed.before:
        raise LammpsInputError(f"{path}: no box: the input needs a read_data, read_restart or create_box command")
    if not any(c.words[0] == "run" for c in parsed.rest):
        raise LammpsInputError(f"{path}: no `run` command after the box; `run N` runs N predictions")
    return parsed


def check_timesteps(parsed: LammpsInput, step_time: float) -> None:
    """Each `timestep` must be the model's k dt (one LAMMPS step is one prediction)."""
    for command in parsed.timesteps:
        try:
            value = float(command.words[1])
        except (IndexError, ValueError):
            value = None
        if value is None or abs(value - step_time) > 1e-9 * step_time:
            raise LammpsInputError(f"{command.source}: `{command.text}`: one LAMMPS step is one prediction of the"
                                   f" model, k dt = {step_time:.6g}; ogn sets the timestep, remove the line")
