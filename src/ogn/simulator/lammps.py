"""`ogn lammps`: a trained model as LAMMPS's integrator, in the user's own LAMMPS input, on one MPI rank or
many (`mpirun -np N ogn lammps ...`).

One LAMMPS step is one prediction: ogn sets `timestep` to the model's k dt and adds
`fix ogn all external pf/callback 1 1`, whose callback replaces velocity Verlet. LAMMPS keeps everything
else: reading the atoms, domain decomposition and migration, thermo, dumps, computes, `fix temp/csvr`,
write_data. On each rank the callback sees the local atoms and the ghost atoms within the ghost cutoff
(`comm_modify cutoff`, `HaloPredictor.halo` = layers x graph cutoff + skin, so that every local atom's
receptive field is present), predicts from free-space vectors (a ghost is an explicit periodic image),
writes x and v of the local atoms back, and makes the total momentum exact with one allreduce.
"""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ogn.io.lammps_module import import_lammps
from ogn.simulator.checks import check_atoms, check_start
from ogn.simulator.halo import HaloPredictor
from ogn.simulator.lammps_input import LammpsInput, LammpsInputError, check_timesteps, read_input
from ogn.units import UNITS

DEFAULT_SKIN = 0.25  # of the graph cutoff: candidate pairs and LAMMPS's exchange are redone at half of it
MASS_TOLERANCE = 1e-4  # relative difference between a LAMMPS type's mass and the model's species mass


@dataclass
class LammpsSummary:
    predictions: int
    n_atoms: int
    k: int
    callback_seconds: float  # this rank's time in ogn's fix
    wall_seconds: float  # the whole input after the box

    def lines(self) -> list[str]:
        per_step = self.wall_seconds / max(1, self.predictions * self.k)
        return [(f"{self.predictions} predictions = {self.predictions * self.k} MD steps of {self.n_atoms} atoms in"
                f" {self.wall_seconds:.3g} s: {1e6 * per_step:.4g} us per MD step,"
                f" {1e9 * per_step / max(1, self.n_atoms):.4g} ns per atom per MD step"),
                f"ogn's fix on rank 0: {self.callback_seconds:.3g} s"]


class LammpsDriver:
    """The model of `run` driving the LAMMPS input at `input_path` (`variables`: -var NAME VALUE pairs)."""

    def __init__(self, run: str | Path, input_path: str | Path, variables: dict[str, str] | None = None,
                 skin: float | None = None, energies: bool = False, log: Callable[[str], None] = print,
                 screen: bool = True, stop_requested: Callable[[], bool] = lambda: False):
        from mpi4py import MPI

        from ogn.model.checkpoint import load_run

        self.input: LammpsInput = read_input(input_path)
        self.source = str(input_path)
        self.model, self.info, _ = load_run(run)
        self.run_name, self.log, self.energies = str(run), log, energies
        self.stop_requested = stop_requested
        self.k, self.step_time = int(self.info["k"]), int(self.info["k"]) * float(self.info["dt"])
        check_timesteps(self.input, self.step_time)
        cutoff = float(self.info["cutoff"])
        skin = DEFAULT_SKIN * cutoff if skin is None else float(skin)
        self.predictor = HaloPredictor(self.model, cutoff, skin)
        self.skin = skin
        self.comm = MPI.COMM_WORLD
        args = ["-nocite"] + ([] if screen else ["-screen", "none"])
        for name, value in (variables or {}).items():
            args += ["-var", name, str(value)]
        self.lmp = import_lammps().lammps(cmdargs=args, comm=self.comm)
        self.predictions, self.callback_seconds, self.n_atoms = 0, 0.0, 0
        self.state_step = -2  # the timestep the atoms are at (known from the first call, a setup)
        self._potential_dir: tempfile.TemporaryDirectory | None = None

    def close(self) -> None:
        self.lmp.close()
        if self._potential_dir is not None:
            self._potential_dir.cleanup()

    def ogn_settings(self) -> list[str]:
        """What ogn adds right after the box is made (its fix comes just before the first `run`: LAMMPS
        cannot `replicate` atoms while a fix holds per-atom data)."""
        commands = [f"timestep {self.step_time!r}",
                    f"neighbor {self.skin!r} bin",
                    "neigh_modify every 1 delay 0 check yes",
                    f"comm_modify cutoff {self.predictor.halo!r} vel yes"]
        if self.energies:
            commands += self._potential_commands()
        return commands

    def _potential_commands(self) -> list[str]:
        from ogn.systems import system_from_description

        system = system_from_description(self.info["system"])
        if self.input.pair_style:
            raise LammpsInputError(f"{self.source}: --energies adds the system's potential, but the input has its own"
                                   " pair_style (which already gives thermo's pe): drop one")
        if system.potential is None:
            raise LammpsInputError(f"{self.run_name} was trained on {system.name!r}, whose potential ogn does not"
                                   " know: --energies needs one")
        self._potential_dir = tempfile.TemporaryDirectory(prefix="ogn-lammps-")  # its files, for the whole run
        return system.potential.lammps_commands(Path(self._potential_dir.name))

    def run(self) -> LammpsSummary:
        """Run the input: the part up to the box, ogn's commands, the setup up to the first `run`, ogn's
        checks of the atoms, then the rest (from a file, so that loops with jump and label work)."""
        self._lammps(self.lmp.commands_list, [c.text for c in self.input.before])
        self._check_units()
        self._lammps(self.lmp.commands_list, self.ogn_settings())
        self._lammps(self.lmp.commands_list, [c.text for c in self.input.setup])
        self.type_masses = self._check_atoms()
        self._lammps(self.lmp.command, "fix ogn all external pf/callback 1 1")
        self.lmp.set_fix_external_callback("ogn", self._callback)
        # a stop signal (Ctrl-C, a scheduler's SIGTERM) ends the run at the end of the step it lands in, on
        # every rank alike: the callback sets ogn_stop from an allreduce, and fix halt stops LAMMPS there
        self._lammps(self.lmp.commands_list, ["variable ogn_stop internal 0",
                                              "fix ogn_halt all halt 1 v_ogn_stop > 0 error hard message no"])
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="ogn-lammps-") as tmp:
            rest = Path(tmp) / "rest.in"
            rest.write_text("\n".join(c.text for c in self.input.rest) + "\n")
            try:
                self._lammps(self.lmp.file, str(rest))
            except RuntimeError:
                if self.lmp.extract_variable("ogn_stop") > 0:
                    raise KeyboardInterrupt(f"after {self.predictions} predictions") from None
                raise
        return LammpsSummary(self.predictions, self.n_atoms, self.k, self.callback_seconds,
                             time.perf_counter() - start)

    def _lammps(self, call, argument):
        """`call(argument)` of the LAMMPS module, whose errors (plain Exceptions) become one-line ones."""
        try:
            return call(argument)
        except LammpsInputError:
            raise
        except Exception as err:  # the LAMMPS module raises nothing more specific
            message = " ".join(str(err).split())
            raise RuntimeError(f"{self.source}: LAMMPS stopped: {message}") from err

    def _check_units(self) -> None:
        units = self.lmp.extract_global("units")
        wanted = self.info["system"]["units"]
        if units != wanted:
            raise LammpsInputError(f"{self.source}: `units {units}`, but {self.run_name} was trained in {wanted} units")

    def _check_atoms(self) -> np.ndarray:
        """Refuse atoms the model cannot simulate (every rank alike: the checks read gathered data); return
        the mass of each LAMMPS type (index 0 unused)."""
        lmp, system = self.lmp, self.info["system"]
        boxlo, boxhi, xy, yz, xz, periodicity, _ = lmp.extract_box()
        if lmp.extract_global("triclinic") or any((xy, yz, xz)):
            raise LammpsInputError(f"{self.source}: a triclinic box; ogn supports orthorhombic boxes only")
        if not all(periodicity):
            raise LammpsInputError(f"{self.source}: boundary must be periodic in x, y and z (p p p); the model was"
                                   " trained on bulk")
        names, masses = system["species"], np.asarray(system["masses"], np.float64)
        ntypes = lmp.extract_global("ntypes")
        if ntypes != len(names):
            raise LammpsInputError(f"{self.source}: {ntypes} atom type(s), but {self.run_name} knows {len(names)}"
                                   f" species, as types 1-{len(names)}: {', '.join(names)}")
        per_type = lmp.numpy.extract_atom("mass")
        if per_type is None:
            raise LammpsInputError(f"{self.source}: the atom style has per-atom masses; ogn needs per-type masses"
                                   " (atom_style atomic or charge, with `mass` or a Masses section)")
        type_masses = np.asarray(per_type, np.float64)[: ntypes + 1]
        if np.any(np.abs(type_masses[1:] / masses - 1) > MASS_TOLERANCE):
            raise LammpsInputError(f"{self.source}: type masses {type_masses[1:].tolist()}, but {self.run_name}'s"
                                   f" species {', '.join(names)} have masses {masses.tolist()}")
        # gathered in rank order (atom ids need not be consecutive): the same order for each quantity
        n = lmp.get_natoms()
        types = np.ctypeslib.as_array(lmp.gather_atoms_concat("type", 0, 1), (n,)).copy()
        x = np.ctypeslib.as_array(lmp.gather_atoms_concat("x", 1, 3), (n * 3,)).reshape(n, 3)
        v = np.ctypeslib.as_array(lmp.gather_atoms_concat("v", 1, 3), (n * 3,)).reshape(n, 3)
        sides = np.asarray(boxhi) - np.asarray(boxlo)
        check_atoms(self.info, types - 1, sides, self.source)
        warnings = check_start(self.info, x, v, types - 1, sides, self.source, UNITS[system["units"]])
        if self.comm.rank == 0:
            for warning in warnings:
                self.log(f"warning: {warning}; the model was not trained on such states")
        self.n_atoms = n
        return type_masses

    def _callback(self, caller, ntimestep, nlocal, tag, x, f) -> None:
        # LAMMPS also calls a fix's post-force stage in the setup of every `run`, at the step the atoms are
        # already at: a prediction is due only when the step has advanced by one since the atoms' state
        if ntimestep != self.state_step + 1:
            self.state_step = ntimestep
            return
        self.state_step = ntimestep
        # an exception would vanish inside ctypes and leave LAMMPS running without an integrator
        try:
            began = time.perf_counter()
            self._predict(nlocal)
            self.predictions += 1
            self.callback_seconds += time.perf_counter() - began
        except BaseException:  # noqa: BLE001 - any failure must stop every rank
            traceback.print_exc()
            sys.stderr.flush()
            self.comm.Abort(1)

    def _predict(self, nlocal: int) -> None:
        lmp = self.lmp
        nall = nlocal + lmp.extract_setting("nghost")
        x = lmp.numpy.extract_atom("x", nelem=nall)
        v = lmp.numpy.extract_atom("v", nelem=nall)
        types = lmp.numpy.extract_atom("type", nelem=nall)
        ids = lmp.numpy.extract_atom("id", nelem=nall)
        dr, dv = self.predictor(x, v, types - 1, ids, n_local=nlocal)
        dr, dv = dr[:nlocal].astype(np.float64), dv[:nlocal].astype(np.float64)
        if not (np.isfinite(dr).all() and np.isfinite(dv).all()):
            raise FloatingPointError(f"rank {self.comm.rank}: a non-finite prediction after {self.predictions}"
                                     " predictions; the rollout ran away")
        m = self.type_masses[types[:nlocal]]
        local = np.concatenate([[m.sum()], m @ dr, m @ v[:nlocal], m @ dv, [float(self.stop_requested())]])
        total = np.empty_like(local)
        self.comm.Allreduce(local, total)
        if total[10] > 0:  # this prediction is the last: fix ogn_halt ends the run after it
            lmp.set_internal_variable("ogn_stop", 1.0)
        # the momentum-conserving projection of ogn.model.network.conserve_momentum, over all ranks
        mass = total[0]
        dv -= total[7:10] / mass
        dr += total[4:7] / mass * self.step_time - total[1:4] / mass
        x[:nlocal] += dr
        v[:nlocal] += dv


def run_lammps(run: str | Path, input_path: str | Path, variables: dict[str, str] | None = None,
               skin: float | None = None, energies: bool = False, log: Callable[[str], None] = print,
               screen: bool = True, stop_requested: Callable[[], bool] = lambda: False) -> LammpsSummary:
    """Run the LAMMPS input at `input_path` with the model of `run` as its integrator; see `LammpsDriver`.
    `stop_requested` (a stop signal arrived) ends the run after the prediction in progress, on every rank,
    as a KeyboardInterrupt."""
    driver = LammpsDriver(run, input_path, variables, skin, energies, log, screen, stop_requested)
    try:
        return driver.run()
    finally:
        driver.close()
