"""`ogn evaluate`: a trained model rolled out against the MD it replaces, on the dataset's independent test
trajectories, next to cheap baselines from the same starts (standing still, constant velocity, zero
velocity; velocity Verlet at k dt) and the floor (MD from a tiny kick).

The evaluation runs in three parts, each returning a small result: the RMSE over the horizon from many
starts (`horizon_errors`), energy and momentum along the first start (`energy_curves`), and long rollouts
from a few starts (`long_rollouts`: energy change, momentum, MSD and RDF). Writes OUT/metrics.json,
OUT/report.md and the figures (paper Figs. 2B, 2C, 4B; ESI S4 MSD; RDF).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ogn.data.dataset import SplitFrames, load_frames, read_metadata
from ogn.evaluate import metrics
from ogn.evaluate.baselines import kicked_md, md_rollout, trivial_baselines
from ogn.io.files import atomic_write_text
from ogn.md.simulate import frame_energies
from ogn.precision import widest_precision
from ogn.progress import NoProgress
from ogn.quantity import thermal_momentum, thermal_speed, training_temperature
from ogn.simulator import RolloutConfig, RolloutError, rollout
from ogn.systems import System, check_same_system, system_from_description

KICK = 1e-3  # the floor's random displacement, in the system's length unit (sigma, Angstrom)


@dataclass
class Evaluation:
    """What every part of an evaluation needs: the model, the test data and the system they share."""

    model: object
    info: dict
    system: System
    frames: SplitFrames  # the test split
    log: Callable[[str], None]
    progress_factory: Callable = NoProgress

    @property
    def k(self) -> int:
        return int(self.info["k"])

    @property
    def species(self) -> np.ndarray:
        return self.frames.species

    @property
    def has_potential(self) -> bool:  # MD at k dt and energies need it; a system known only from files has none
        return self.system.potential is not None

    @property
    def md_k(self) -> str:
        return f"MD at {self.k} dt"

    @property
    def kick_name(self) -> str:
        return f"MD from a {KICK:g} {self.system.units.length} kick"

    def start(self, t: int, f: int) -> tuple[np.ndarray, np.ndarray]:
        return self.frames.positions[t, f], self.frames.velocities[t, f]

    def learned(self, r0, v0, n_steps: int):
        """The learned rollout, or None (logged) if it blew up."""
        try:
            result = rollout(self.model, self.info, r0, v0, self.species, self.frames.box, n_steps, RolloutConfig(),
                             log=self.log)
        except RolloutError as err:
            self.log(f"  learned rollout failed: {err}")
            return None
        return result.positions, result.velocities


@dataclass
class HorizonErrors:
    """RMSE against MD of each simulator after every prediction over the horizon, per start."""

    steps: np.ndarray  # (P,) MD steps of the predictions
    starts: np.ndarray  # (S, 2) (test trajectory, frame)
    errors: dict[str, dict[str, list[np.ndarray]]]  # name -> position|velocity -> S x (P,); inf: blew up
    first: dict  # the first start's states and predictions, for the figures

    def mean(self) -> dict[str, dict[str, np.ndarray]]:
        return {name: {q: np.mean(v, axis=0) for q, v in e.items()} for name, e in self.errors.items()}

    def final_spread(self) -> dict[str, dict[str, float]]:
        with np.errstate(invalid="ignore"):  # a simulator that blew up has inf errors: its spread is not finite
            return {name: {q: float(np.std(np.asarray(v)[:, -1])) for q, v in e.items()} for name, e in self.errors.items()}


@dataclass
class LongRollouts:
    """Long learned rollouts from a few starts against MD from the same starts."""

    steps: int
    starts: list[tuple[int, int]]
    energy_changes: list[float | None] = field(default_factory=list)  # per atom, per start; None: no potential
    blew_up: str | None = None  # the first failure
    momentum_change: float | None = None  # largest change of a component of the total momentum, any start
    times: np.ndarray | None = None  # (F,) of the first start's frames
    msd: dict[str, np.ndarray] = field(default_factory=dict)  # the first start's, MD and learned
    rdf: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def horizon_errors(ev: Evaluation, starts: np.ndarray, horizon: int) -> HorizonErrors:
    """Every simulator from every start for `horizon` MD steps, its RMSE against MD after each prediction."""
    k, frames, system = ev.k, ev.frames, ev.system
    steps = k * np.arange(1, horizon // k + 1)
    at = steps // frames.stride  # the frames of the test trajectory at those steps
    errors, first = {}, None
    with ev.progress_factory("rollouts over the horizon (starts)", len(starts)) as advance:
        for i, (t, f) in enumerate(starts):
            ev.log(f"start {i + 1}/{len(starts)}: test trajectory {t}, frame {f}")
            r0, v0 = ev.start(t, f)
            true_r, true_v = frames.positions[t, f + at], frames.velocities[t, f + at]
            predictions = {"ogn": ev.learned(r0, v0, horizon), **trivial_baselines(r0, v0, steps * system.dt)}
            if ev.has_potential:
                predictions[ev.md_k] = md_rollout(system, ev.species, r0, v0, len(steps), 1, k * system.dt)
                predictions[ev.kick_name] = kicked_md(system, ev.species, r0, v0, horizon, k, KICK, seed=i)
            for name, prediction in predictions.items():
                e = errors.setdefault(name, {"position": [], "velocity": []})
                e["position"].append(np.full(len(steps), np.inf) if prediction is None else
                                     metrics.rmse(prediction[0], true_r, frames.box))
                e["velocity"].append(np.full(len(steps), np.inf) if prediction is None else
                                     metrics.rmse(prediction[1], true_v))
            if first is None:
                first = {"t": t, "f": f, "r0": r0, "v0": v0, "true_r": true_r, "true_v": true_v,
                         "predictions": predictions}
            advance(1)
    return HorizonErrors(steps, starts, errors, first)


def energy_curves(ev: Evaluation, horizon: HorizonErrors) -> dict[str, dict[str, np.ndarray]]:
    """Potential and kinetic energy and total momentum along the first start (Fig. 4B): MD at dt (the test
    trajectory), the learned simulator and MD at k dt; none without a potential."""
    if not ev.has_potential:
        return {}
    first = horizon.first
    r0, v0 = first["r0"], first["v0"]
    curves = {}
    for name, states in (("MD at dt", (first["true_r"], first["true_v"])), ("ogn", first["predictions"]["ogn"]),
                         (ev.md_k, first["predictions"][ev.md_k])):
        if states is not None:
            pe, ke, p = frame_energies(ev.system, ev.species, np.concatenate([r0[None], states[0]]),
                                       np.concatenate([v0[None], states[1]]), widest_precision())
            curves[name] = {"potential": pe, "kinetic": ke, "momentum": p}
    return curves


def long_reference(ev: Evaluation, t: int, f: int, n_steps: int):
    """MD from the start (t, f) for n_steps, a frame per prediction: run with the potential, or the test
    trajectory itself without one."""
    r0, v0 = ev.start(t, f)
    if ev.has_potential:
        return md_rollout(ev.system, ev.species, r0, v0, n_steps, ev.k, ev.system.dt)
    kept = f + ev.k * np.arange(1, n_steps // ev.k + 1) // ev.frames.stride
    return ev.frames.positions[t, kept], ev.frames.velocities[t, kept]


def long_rollouts(ev: Evaluation, starts: list[tuple[int, int]], n_steps: int) -> LongRollouts:
    """Learned rollouts of `n_steps` from each start: the energy change (with a potential) and the momentum
    change of each; MSD and RDF of the first against MD."""
    system, masses = ev.system, ev.system.atom_masses(ev.species)
    long = LongRollouts(n_steps, starts)
    for i, (t, f) in enumerate(starts):
        ev.log(f"long rollout {i + 1}/{len(starts)}: {n_steps} MD steps from test trajectory {t}, frame {f}")
        r0, v0 = ev.start(t, f)
        try:
            learned = rollout(ev.model, ev.info, r0, v0, ev.species, ev.frames.box, n_steps, RolloutConfig(),
                              log=ev.log, progress_factory=ev.progress_factory)
        except RolloutError as err:
            long.blew_up = long.blew_up or str(err)
            long.energy_changes.append(None)
            continue
        r = np.concatenate([r0[None], learned.positions])
        v = np.concatenate([v0[None], learned.velocities])
        momentum = np.einsum("n,fnk->fk", masses, v)
        long.momentum_change = max(long.momentum_change or 0.0, float(np.abs(momentum - momentum[0]).max()))
        if ev.has_potential:
            pe, ke, _ = frame_energies(system, ev.species, r[[0, -1]], v[[0, -1]], widest_precision())
            long.energy_changes.append(float((pe[-1] + ke[-1] - pe[0] - ke[0]) / len(ev.species)))
        if i == 0:
            md = long_reference(ev, t, f, n_steps)
            long.times = system.dt * ev.k * np.arange(0, n_steps // ev.k + 1)
            long.msd = {"MD": metrics.msd(np.concatenate([r0[None], md[0]]), masses), "ogn": metrics.msd(r, masses)}
            r_max = 0.5 * ev.frames.box.min()
            long.rdf = {"MD": metrics.rdf(md[0][-20:], ev.frames.box, r_max),
                        "ogn": metrics.rdf(learned.positions[-20:], ev.frames.box, r_max)}
    if not long.msd:  # every learned rollout blew up: MD's curves alone
        t, f = starts[0]
        r0, _ = ev.start(t, f)
        md = long_reference(ev, t, f, n_steps)
        long.times = system.dt * ev.k * np.arange(0, n_steps // ev.k + 1)
        long.msd = {"MD": metrics.msd(np.concatenate([r0[None], md[0]]), masses)}
        long.rdf = {"MD": metrics.rdf(md[0][-20:], ev.frames.box, 0.5 * ev.frames.box.min())}
    return long


def load_evaluation(run_dir, data_dir, log: Callable[[str], None], progress_factory=None) -> Evaluation:
    """The trained run and its test data, checked to belong together."""
    from ogn.model.checkpoint import load_run

    model, info, _ = load_run(run_dir)
    dataset = read_metadata(data_dir)
    system = system_from_description(dataset["system"])
    check_same_system(info["system"], dataset["system"], f"{run_dir}", f"{data_dir}")
    if not np.isclose(float(info["dt"]), system.dt, rtol=1e-9):
        raise ValueError(f"{run_dir} was trained at dt = {info['dt']}, {data_dir} has dt = {system.dt}")
    frames = load_frames(data_dir, "test")
    if int(info["k"]) % frames.stride:
        raise ValueError(f"the model's k = {info['k']} is not a multiple of {data_dir}'s frame stride {frames.stride}:"
                         " its predictions fall between the test frames")
    info = info | {"evaluation_dataset": dataset}
    return Evaluation(model, info, system, frames, log, progress_factory or NoProgress)


def check_lengths(ev: Evaluation, n_starts: int, horizon: int, long_steps: int, energy_starts: int) -> None:
    """Clear errors for requests the model or the test data cannot serve."""
    k, stride = ev.k, ev.frames.stride
    for name, value in (("--starts", n_starts), ("--horizon", horizon), ("--long-steps", long_steps),
                        ("--energy-starts", energy_starts)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    for name, value in (("--horizon", horizon), ("--long-steps", long_steps)):
        if value % k or value % stride:
            raise ValueError(f"{name} {value} must be a multiple of the model's k = {k} and of the test frames' stride"
                             f" {stride}")
    span = (ev.frames.n_frames - 1) * stride
    if horizon > span:
        raise ValueError(f"--horizon {horizon} MD steps is longer than the test trajectories, which span {span} MD"
                         " steps")


def evaluate_run(run_dir: str | Path, data_dir: str | Path, out_dir: str | Path, n_starts: int = 10,
                 horizon: int = 100, long_steps: int = 1000, energy_starts: int = 3, log: Callable[[str], None] = print,
                 note: str = "", progress_factory=None) -> dict:
    """Evaluate a trained run on a dataset's test trajectories; writes OUT/metrics.json, OUT/report.md and the
    figures, and returns the metrics."""
    from ogn.evaluate.figures import draw_figures

    ev = load_evaluation(run_dir, data_dir, log, progress_factory)
    check_lengths(ev, n_starts, horizon, long_steps, energy_starts)
    starts = independent_starts(ev.frames, horizon, n_starts)
    if len(starts) < n_starts:
        log(f"warning: --starts {n_starts}: the test trajectories hold {len(starts)} starts {horizon} MD steps apart"
            f" (rollouts over --horizon {horizon} that share no MD step); using {len(starts)}")
    long_steps = fit_long_rollout(ev, starts[0], long_steps)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    horizon_result = horizon_errors(ev, starts, horizon)
    curves = energy_curves(ev, horizon_result)
    long = long_rollouts(ev, [tuple(int(x) for x in s) for s in starts[:energy_starts]], long_steps)
    summary = summarise(ev, run_dir, data_dir, horizon_result, long, note)
    summary["figures"] = draw_figures(out_dir, ev, horizon_result, curves, long, summary, note)
    atomic_write_text(out_dir / "metrics.json", json.dumps(summary, indent=2, default=_json_number) + "\n")
    atomic_write_text(out_dir / "report.md", markdown(summary))
    return summary


def independent_starts(frames, horizon: int, count: int) -> np.ndarray:
    """`count` starts spread evenly over the test trajectories, or, where fewer windows of `horizon` MD steps
    fit without overlap, one at the start of each such window: overlapping rollouts are not independent."""
    span = frames.frames_for(horizon)
    per_trajectory = (frames.n_frames - 1) // span
    if count <= frames.n_trajectories * per_trajectory:
        return frames.spread_starts(horizon, count)
    t, w = np.meshgrid(np.arange(frames.n_trajectories), np.arange(per_trajectory), indexing="ij")
    return np.stack([t.ravel(), w.ravel() * span], -1)


def fit_long_rollout(ev: Evaluation, first_start, long_steps: int) -> int:
    """The long rollout's length: without a potential the test trajectory is the reference, and it ends."""
    if ev.has_potential:
        return long_steps
    available = int((ev.frames.n_frames - 1 - int(first_start[1])) * ev.frames.stride // ev.k * ev.k)
    if available < long_steps:
        ev.log(f"long rollout shortened to {available} MD steps: the test trajectory ends there")
        return available
    return long_steps


def _json_number(value):
    """numpy scalars in metrics.json (json knows only Python's)."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _finite_or_none(value) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def summarise(ev: Evaluation, run_dir, data_dir, horizon: HorizonErrors, long: LongRollouts, note: str) -> dict:
    """metrics.json: every number of the evaluation, with its definition."""
    system, dataset = ev.system, ev.info["evaluation_dataset"]
    temperature = training_temperature(dataset["system"], dataset["spec"])  # a glass is far below the preset's T
    masses = system.atom_masses(ev.species)
    thermal_energy = system.units.boltzmann * temperature
    md_msd = long.msd["MD"]
    mean, spread = horizon.mean(), horizon.final_spread()
    changes = [c for c in long.energy_changes if c is not None]
    long_record = {"steps": int(long.steps), "starts": [list(s) for s in long.starts], "ogn_blew_up_at": long.blew_up,
                   "ogn_momentum_change": long.momentum_change}
    if ev.has_potential and changes:
        long_record |= {"ogn_total_energy_drift_per_atom": changes[0], "ogn_energy_change_per_atom": long.energy_changes,
                        "ogn_mean_abs_energy_change_per_atom": float(np.mean(np.abs(changes))),
                        "ogn_abs_energy_change_spread_per_atom": float(np.std(np.abs(changes)))}
    summary = {
        "run": str(run_dir), "data": str(data_dir), "date": datetime.date.today().isoformat(),
        "system": system.name, "k": ev.k, "horizon_md_steps": int(horizon.steps[-1]), "starts": len(horizon.starts),
        "training_step": ev.info["step"],
        "rmse_definition": "sqrt(mean over atoms and x, y, z of the squared error); positions by minimum image",
        "cage_length": metrics.cage_length(system, long.times, md_msd),
        "velocity_scale": thermal_speed(masses, thermal_energy, system.units.mvv2e),
        # None: that simulator blew up (non-finite or runaway) on at least one start
        "final_rmse": {name: {q: _finite_or_none(v[-1]) for q, v in r.items()} for name, r in mean.items()},
        "final_rmse_spread": {name: {q: _finite_or_none(v) for q, v in r.items()} for name, r in spread.items()},
        "thermal_energy": thermal_energy,
        "thermal_momentum": thermal_momentum(masses, thermal_energy, system.units.mvv2e),
        "units": {"length": system.units.length, "time": system.units.time, "energy": system.units.energy,
                  "velocity": f"{system.units.length}/{system.units.time}"},
        "long_rollout": long_record,
        "note": note,
    }
    summary["verdict"] = verdict(summary)
    return summary


TARGETS = {  # what a learned simulator must reach to replace MD (from independent test starts)
    "position": 0.1,  # RMSE after the horizon, as a fraction of the better trivial baseline's
    "velocity": 0.2,  # RMSE after the horizon, as a fraction of sqrt(kB T / m)
    "energy": 0.1,  # |total-energy change| over the long rollouts, kB T per atom, mean over starts
}
TRIVIAL = ("standing still", "constant velocity")  # the position baselines a simulator must beat


def verdict(s: dict) -> dict:
    """Each target met or not, with the measured value, and one plain sentence."""
    final = s["final_rmse"]
    trivial = [final[n]["position"] for n in TRIVIAL if final[n]["position"]]
    ogn, long = final["ogn"], s["long_rollout"]
    checks = {}
    if ogn["position"] is None or long.get("ogn_blew_up_at"):
        sentence = "The learned simulator blew up: it does not replace MD here."
        return {"met": False, "checks": checks, "sentence": sentence}
    checks["position"] = ogn["position"] / min(trivial)
    checks["velocity"] = ogn["velocity"] / s["velocity_scale"]
    if "ogn_mean_abs_energy_change_per_atom" in long:  # not for a system whose potential ogn does not know
        checks["energy"] = long["ogn_mean_abs_energy_change_per_atom"] / s["thermal_energy"]
    met = {name: value <= TARGETS[name] for name, value in checks.items()}
    missed = [f"{name} {checks[name]:.3g} (target <= {TARGETS[name]})" for name in checks if not met[name]]
    if not missed:
        sentence = "The learned simulator meets every target: it tracks MD over this horizon."
    else:
        sentence = ("The learned simulator does not yet track MD: it misses " + "; ".join(missed)
                    + ". Position: RMSE / better trivial baseline; velocity: RMSE / sqrt(kB T / m); energy:"
                    " mean |change| per atom over the long rollouts, in kB T.")
    return {"met": all(met.values()), "checks": checks, "sentence": sentence}


def _rmse_table(s: dict) -> list[str]:
    u = s["units"]
    lines = [
        (f"RMSE after {s['horizon_md_steps']} MD steps, mean ± standard deviation over the {s['starts']} starts;"
         f" positions in {u['length']}, velocities in {u['velocity']}:"),
        "",
        f"| after {s['horizon_md_steps']} MD steps | position RMSE | / cage length | velocity RMSE | / velocity scale |",
        "|---|---|---|---|---|",
    ]
    for name, r in s["final_rmse"].items():
        if r["position"] is None:
            lines.append(f"| {name} | blew up | | | |")
            continue
        e = s["final_rmse_spread"][name]
        lines.append(f"| {name} | {r['position']:.4g} ± {e['position']:.2g} | {r['position'] / s['cage_length']:.3g}"
                     f" | {r['velocity']:.4g} ± {e['velocity']:.2g} | {r['velocity'] / s['velocity_scale']:.3g} |")
    return lines


def _long_text(s: dict) -> str:
    long, u = s["long_rollout"], s["units"]
    n = len(long["starts"])
    if long.get("ogn_blew_up_at"):
        return f"Long rollouts, {long['steps']} MD steps from {n} starts: blew up ({long['ogn_blew_up_at']})."
    changes = long.get("ogn_energy_change_per_atom")
    if changes is None:
        energy = "total energy not computed (no potential known for this system)"
    else:
        kT = s["thermal_energy"]
        energy = (f"total-energy change per atom {', '.join(f'{c / kT:.3g}' for c in changes)} kB T"
                  f" (mean |change| {long['ogn_mean_abs_energy_change_per_atom'] / kT:.3g} ±"
                  f" {long['ogn_abs_energy_change_spread_per_atom'] / kT:.2g} kB T; kB T = {kT:.4g} {u['energy']})")
    return (f"Long rollouts, {long['steps']} MD steps from {n} starts: finite throughout; {energy}; largest change of"
            f" a component of the total momentum {long['ogn_momentum_change'] / s['thermal_momentum']:.2e}"
            " sqrt(N m kB T).")


def markdown(s: dict) -> str:
    """report.md"""
    lines = [
        f"# Evaluation of `{s['run']}` ({s['system']}, k = {s['k']})",
        "",
        (f"{s['date']}; test data `{s['data']}` (independent trajectories); {s['starts']} starts; model after"
         f" {s['training_step']} training steps. {s['note']}"),
        "",
        (f"RMSE: {s['rmse_definition']}. Cage length {s['cage_length']:.3g}"
         f" (sqrt(MSD) of MD where its log-log slope first reaches 1), velocity scale sqrt(kB T / m)"
         f" {s['velocity_scale']:.3g}."),
        "",
        f"**Verdict.** {s['verdict']['sentence']}",
        "",
        *_rmse_table(s),
        "",
        _long_text(s),
        "",
    ]
    for name, caption in s["figures"].items():
        lines += [f"![{name}]({name})", "", f"*{caption}*", ""]
    return "\n".join(lines) + "\n"
