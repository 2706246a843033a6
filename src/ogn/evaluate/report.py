"""`ogn evaluate`: a trained model rolled out against the MD it replaces, on the dataset's independent test
trajectories, next to two cheap baselines from the same starts (constant velocity; velocity Verlet at k dt).

Writes OUT/metrics.json, OUT/report.md and the figures (paper Figs. 2B, 2C, 4B; ESI S4 MSD; RDF).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ogn.data.dataset import load_frames, read_metadata
from ogn.evaluate import metrics
from ogn.io.files import atomic_write_text
from ogn.md.run import GLASS_TEMPERATURE
from ogn.md.simulate import SimulationError, frame_energies, init_state, make_force_field, run_nve, set_precision
from ogn.periodic import minimum_image
from ogn.rollout import RolloutError, rollout
from ogn.systems import System, check_same_system, system_from_description


def md_rollout(system: System, species, positions, velocities, n_steps: int, every: int, dt: float):
    """Velocity Verlet (float64) at timestep `dt` for n_steps of that dt, a frame every `every` of them.
    Returns (positions, velocities) per frame, or None if it blew up."""
    set_precision("float64")
    system = dataclasses.replace(system, dt=dt)
    ff = make_force_field(system, species)
    neighbor = ff.allocate(np.mod(positions, system.sides))
    frames = []
    try:
        run_nve(ff, init_state(ff, positions, velocities, neighbor), neighbor, n_steps, every,
                on_frames=frames.append, max_temperature=20 * system.temperature, log=lambda s: None)
    except SimulationError:
        return None
    return (np.concatenate([f.positions for f in frames]), np.concatenate([f.velocities for f in frames]))


def evaluate_run(
    run_dir: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    n_starts: int = 10,
    horizon: int = 100,
    long_steps: int = 1000,
    log: Callable[[str], None] = print,
    note: str = "",
) -> dict:
    from ogn.model.checkpoint import load_run

    model, info, _ = load_run(run_dir)
    dataset = read_metadata(data_dir)
    system = system_from_description(dataset["system"])
    k = int(info["k"])
    if n_starts < 1 or horizon < 1 or long_steps < 1:
        raise ValueError(f"starts, horizon and long rollout must be >= 1, got {n_starts}, {horizon}, {long_steps}")
    check_same_system(info["system"], dataset["system"], f"{run_dir}", f"{data_dir}")
    if horizon % k or long_steps % k:
        raise ValueError(f"horizon ({horizon}) and long rollout ({long_steps}) must be multiples of k = {k}")
    if not np.isclose(float(info["dt"]), system.dt, rtol=1e-9):
        raise ValueError(f"{run_dir} was trained at dt = {info['dt']}, {data_dir} has dt = {system.dt}")
    frames = load_frames(data_dir, "test")
    if k % frames.stride:
        raise ValueError(f"the model's k = {k} is not a multiple of {data_dir}'s frame stride {frames.stride}: its"
                         " predictions fall between the test frames")
    if horizon % frames.stride or long_steps % frames.stride:
        raise ValueError(f"--horizon and --long-steps must be multiples of {data_dir}'s frame stride {frames.stride}")
    starts = frames.spread_starts(horizon, n_starts)  # within the trajectories
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    box, species = frames.box, frames.species
    n_pred = horizon // k
    steps = k * np.arange(1, n_pred + 1)
    at = steps // frames.stride  # the frames of the test trajectory at those steps
    # MD at k dt needs the potential; a system known only from its trajectories has none
    has_potential = system.potential is not None
    md_k = f"MD at {k} dt"
    baselines = ("standing still", "constant velocity") + ((md_k,) if has_potential else ())
    errors = {name: {"position": [], "velocity": []} for name in ("ogn", *baselines)}
    first = None
    for i, (t, f) in enumerate(starts):
        log(f"start {i + 1}/{len(starts)}: test trajectory {t}, frame {f}")
        r0, v0 = frames.positions[t, f], frames.velocities[t, f]
        true_r, true_v = frames.positions[t, f + at], frames.velocities[t, f + at]
        predictions = {}
        try:
            result = rollout(model, info, r0, v0, species, box, horizon, log=log)
            predictions["ogn"] = (result.positions, result.velocities)
        except RolloutError as err:
            log(f"  OGN rollout failed: {err}")
            predictions["ogn"] = None
        predictions["standing still"] = (np.broadcast_to(r0, true_r.shape), np.broadcast_to(v0, true_v.shape))
        predictions["constant velocity"] = (r0 + v0 * (steps[:, None, None] * system.dt), np.broadcast_to(v0, true_v.shape))
        if has_potential:
            predictions[md_k] = md_rollout(system, species, r0, v0, n_pred, 1, k * system.dt)
        for name, pred in predictions.items():
            if pred is None:
                errors[name]["position"].append(np.full(n_pred, np.inf))
                errors[name]["velocity"].append(np.full(n_pred, np.inf))
            else:
                errors[name]["position"].append(metrics.rmse(pred[0], true_r, box))
                errors[name]["velocity"].append(metrics.rmse(pred[1], true_v))
        if first is None:
            first = {"t": t, "f": f, "r0": r0, "true_r": true_r, "true_v": true_v, "predictions": predictions}

    rmse = {name: {q: np.mean(v, axis=0) for q, v in e.items()} for name, e in errors.items()}
    with np.errstate(invalid="ignore"):  # a baseline that blew up has inf errors: its spread is None
        spread = {name: {q: np.std(np.asarray(v)[:, -1]) for q, v in e.items()} for name, e in errors.items()}

    # energy and momentum along one rollout (Fig. 4B): OGN, MD at dt (the test trajectory), MD at k dt
    t0, f0 = first["t"], first["f"]
    r0, v0 = frames.positions[t0, f0], frames.velocities[t0, f0]
    energy_curves = {}
    if has_potential:
        for name, (pos, vel) in {
            "MD at dt": (first["true_r"], first["true_v"]),
            "ogn": first["predictions"]["ogn"] or (None, None),
            md_k: first["predictions"][md_k] or (None, None),
        }.items():
            if pos is not None:
                pe, ke, p = frame_energies(system, species, np.concatenate([r0[None], pos]),
                                           np.concatenate([v0[None], vel]))
                energy_curves[name] = {"potential": pe, "kinetic": ke, "momentum": p}

    # long rollout: MSD, energy, RDF against MD from the same start (without a potential: the test
    # trajectory itself, as far as it goes)
    if not has_potential:
        available = (frames.n_frames - 1 - f0) * frames.stride // k * k
        if available < long_steps:
            log(f"long rollout shortened to {available} MD steps: the test trajectory ends there")
            long_steps = available
    log(f"long rollout: {long_steps} MD steps")
    long = {"steps": long_steps}
    if has_potential:
        md_long = md_rollout(system, species, r0, v0, long_steps, k, system.dt)
    else:
        frames_long = f0 + k * np.arange(1, long_steps // k + 1) // frames.stride
        md_long = (frames.positions[t0, frames_long], frames.velocities[t0, frames_long])
    try:
        ogn_long = rollout(model, info, r0, v0, species, box, long_steps, log=log)
        long["ogn_blew_up_at"] = None
        ogn_long = (ogn_long.positions, ogn_long.velocities)
    except RolloutError as err:
        long["ogn_blew_up_at"] = str(err)
        ogn_long = None
    long_times = system.dt * k * np.arange(0, long_steps // k + 1)
    md_msd = metrics.msd(np.concatenate([r0[None], md_long[0]]), system.atom_masses(species))
    cage = metrics.cage_length(system, long_times, md_msd)
    long_curves = {"MD": md_msd}
    rdfs = {"MD": metrics.rdf(md_long[0][-20:], box, 0.5 * box.min())}
    if ogn_long is not None:
        long_curves["ogn"] = metrics.msd(np.concatenate([r0[None], ogn_long[0]]), system.atom_masses(species))
        rdfs["ogn"] = metrics.rdf(ogn_long[0][-20:], box, 0.5 * box.min())
        masses = system.atom_masses(species)
        momentum = np.einsum("n,fnk->fk", masses, np.concatenate([v0[None], ogn_long[1]]))
        long["ogn_momentum_change"] = float(np.abs(momentum - momentum[0]).max())
        if has_potential:
            pe, ke, _ = frame_energies(system, species, np.concatenate([r0[None], ogn_long[0]]),
                                       np.concatenate([v0[None], ogn_long[1]]))
            long["ogn_total_energy_drift_per_atom"] = float((pe[-1] + ke[-1] - pe[0] - ke[0]) / len(species))

    # a glass dataset is quenched far below the preset's temperature
    temperature = GLASS_TEMPERATURE if dataset["spec"].get("glass") else system.temperature
    vscale = metrics.velocity_scale(system, temperature)
    thermal_energy = system.units.boltzmann * temperature
    masses = system.atom_masses(species)
    thermal_momentum = float(np.sqrt(masses.sum() * masses.mean() * thermal_energy / system.units.mvv2e))
    summary = {
        "run": str(run_dir), "data": str(data_dir), "date": datetime.date.today().isoformat(),
        "system": system.name, "k": k, "horizon_md_steps": horizon, "starts": len(starts),
        "training_step": info["step"],
        "rmse_definition": "sqrt(mean over atoms and x, y, z of the squared error); positions by minimum image",
        "cage_length": cage, "velocity_scale": vscale,
        # None: that simulator blew up (non-finite or runaway) on at least one start
        "final_rmse": {name: {q: float(v[-1]) if np.isfinite(v[-1]) else None for q, v in r.items()}
                       for name, r in rmse.items()},
        "final_rmse_spread": {name: {q: float(v) if np.isfinite(v) else None for q, v in r.items()}
                              for name, r in spread.items()},
        "thermal_energy": thermal_energy, "thermal_momentum": thermal_momentum,
        "units": {"length": system.units.length, "time": system.units.time, "energy": system.units.energy,
                  "velocity": f"{system.units.length}/{system.units.time}"},
        "long_rollout": long,
    }
    summary["note"] = note
    summary["verdict"] = verdict(summary)
    summary["figures"] = _figures(out_dir, system, k, steps, errors, first, energy_curves, long_times, long_curves,
                                  rdfs, note, cage, vscale)
    atomic_write_text(out_dir / "metrics.json", json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out_dir / "report.md", _report(summary))
    return summary


def _figures(out_dir, system, k, steps, errors, first, energy_curves, long_times, long_curves, rdfs,
             note: str, cage: float, vscale: float) -> dict[str, str]:
    """The figures, each with the caption report.md prints under it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unit, vunit = system.units.length, f"{system.units.length}/{system.units.time}"
    captions = {}

    def save(fig, name, caption):
        if note:  # e.g. the reduced budgets of `ogn reproduce --scale quick`
            fig.suptitle(note, fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=120)
        plt.close(fig)
        captions[name] = caption

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    blew_up = []
    for name, e in errors.items():
        color = None
        for ax, q in zip(axes, ("position", "velocity")):
            per_start = np.asarray(e[q])
            finite = np.isfinite(per_start).all(axis=1)
            if not finite.all():  # said on the plot, not left out of it silently
                if q == "position":
                    blew_up.append(f"{name} blew up on {int((~finite).sum())} of {len(finite)} starts")
                continue
            mean, std = per_start.mean(0), per_start.std(0)
            line, = ax.plot(steps, mean, marker="o", ms=3, label=name, color=color)
            color = line.get_color()
            ax.fill_between(steps, np.maximum(mean - std, mean * 1e-3), mean + std, color=color, alpha=0.2, lw=0)
    axes[0].axhline(cage, color="k", ls=":", lw=1, label=f"cage length {cage:.3g}")
    axes[1].axhline(vscale, color="k", ls=":", lw=1, label=f"sqrt(kB T / m) = {vscale:.3g}")
    axes[1].axhline(np.sqrt(2) * vscale, color="k", ls="--", lw=1, label="uncorrelated: sqrt(2) x that")
    axes[0].set_ylabel(f"position RMSE ({unit})")
    axes[1].set_ylabel(f"velocity RMSE ({vunit})")
    for ax in axes:
        ax.set_xlabel("MD steps")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    if blew_up:
        axes[0].text(0.02, 0.02, "; ".join(blew_up), transform=axes[0].transAxes, fontsize=7, color="red")
    n_starts = len(next(iter(errors.values()))["position"])
    save(fig, "rmse.png", f"RMSE against MD at dt from the same start, mean (line) and standard deviation (band)"
         f" over {n_starts} starts on the independent test trajectories. Dotted: the cage length and the thermal"
         " velocity scale; dashed: the velocity RMSE of uncorrelated velocities. A simulator that blew up is"
         " named on the plot (red) and has no curve.")

    ogn = first["predictions"]["ogn"]
    if ogn is not None:
        rng = np.random.default_rng(0)
        atoms = rng.choice(first["true_r"].shape[1], 3, replace=False)
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for a in atoms:
            line, = ax.plot(steps, first["true_r"][:, a, 0], label=f"atom {a} MD")
            ax.plot(steps, ogn[0][:, a, 0], "o", ms=3, color=line.get_color(), label=f"atom {a} OGN")
        ax.set_xlabel("MD steps")
        ax.set_ylabel(f"x ({unit})")
        ax.legend(fontsize=7)
        save(fig, "trajectories.png", "x coordinate of three atoms from the first start: MD at dt (lines) and"
             f" the learned simulator (dots, one per prediction of {k} MD steps). Paper Fig. 2B.")

        fig, axes = plt.subplots(1, 2, figsize=(9, 4))

        def displacement(r):  # by minimum image, as the RMSE: a dataset may store wrapped positions
            return minimum_image(r - first["r0"], system.sides)

        for ax, true, pred, label in (
                (axes[0], displacement(first["true_r"][-1]), displacement(ogn[0][-1]), f"displacement ({unit})"),
                (axes[1], first["true_v"][-1], ogn[1][-1], f"velocity ({vunit})")):
            ax.hexbin(true.ravel(), pred.ravel(), gridsize=60, bins="log", mincnt=1)
            lo, hi = true.min(), true.max()
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            ax.set_xlabel(f"MD {label}")
            ax.set_ylabel(f"OGN {label}")
            ax.set_title(f"after {steps[-1]} MD steps")
        save(fig, "scatter.png", f"Every x, y, z component of every atom after {steps[-1]} MD steps from the"
             " first start, learned simulator against MD (log colour scale; dashed: perfect agreement). Left:"
             " displacement from the start, which a trivial simulator cannot fake; right: velocity. Paper"
             " Fig. 2C.")

    if energy_curves:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        n = system.n_atoms
        for name, c in energy_curves.items():
            x = k * np.arange(len(c["potential"]))
            axes[0].plot(x, (c["potential"] + c["kinetic"]) / n, label=f"{name} total")
            axes[1].plot(x, np.linalg.norm(c["momentum"], axis=-1), label=name)
        axes[0].set_ylabel(f"total energy per atom ({system.units.energy})")
        axes[1].set_ylabel(f"|total momentum| (mass x {vunit})")
        for ax in axes:
            ax.set_xlabel("MD steps")
            ax.legend(fontsize=7)
        save(fig, "energy.png", "Total energy per atom (true potential on each simulator's states) and the"
             " magnitude of the total momentum, from the first start. Paper Fig. 4B.")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for name, m in long_curves.items():
        axes[0].loglog(long_times[1:len(m)], m[1:], label=name)
    axes[0].axhline(cage**2, color="k", ls=":", lw=1, label="cage length squared")
    axes[0].set_xlabel(f"time ({system.units.time})")
    axes[0].set_ylabel(f"MSD ({unit}^2), centre of mass removed")
    axes[0].legend(fontsize=7)
    for name, (r, g) in rdfs.items():
        axes[1].plot(r, g, label=name)
    axes[1].set_xlabel(f"r ({unit})")
    axes[1].set_ylabel("g(r), all pairs")
    axes[1].legend(fontsize=7)
    save(fig, "long.png", "The long rollout from the first start against MD at dt: mean square displacement"
         " about the centre of mass (a drifting box is not diffusion; paper ESI S4) and the radial"
         " distribution function over its last 20 frames.")
    return captions


TARGETS = {  # issue 9: what a learned simulator must reach to replace MD (from independent test starts)
    "position": 0.1,  # RMSE after the horizon, as a fraction of the better trivial baseline's
    "velocity": 0.2,  # RMSE after the horizon, as a fraction of sqrt(kB T / m)
    "energy": 0.1,  # |total-energy change| over the long rollout, kB T per atom
}


def verdict(s: dict) -> dict:
    """Each target met or not, with the measured value, and one plain sentence."""
    final = s["final_rmse"]
    trivial = [final[n]["position"] for n in ("standing still", "constant velocity") if final[n]["position"]]
    ogn, long = final["ogn"], s["long_rollout"]
    checks = {}
    if ogn["position"] is None or long.get("ogn_blew_up_at"):
        sentence = "The learned simulator blew up: it does not replace MD here."
        return {"met": False, "checks": checks, "sentence": sentence}
    checks["position"] = ogn["position"] / min(trivial)
    checks["velocity"] = ogn["velocity"] / s["velocity_scale"]
    if "ogn_total_energy_drift_per_atom" in long:  # not for a system whose potential ogn does not know
        checks["energy"] = abs(long["ogn_total_energy_drift_per_atom"]) / s["thermal_energy"]
    met = {name: value <= TARGETS[name] for name, value in checks.items()}
    missed = [f"{name} {checks[name]:.3g} (target <= {TARGETS[name]})" for name in checks if not met[name]]
    if not missed:
        sentence = "The learned simulator meets every target: it tracks MD over this horizon."
    else:
        sentence = ("The learned simulator does not yet track MD: it misses " + "; ".join(missed)
                    + ". Position: RMSE / better trivial baseline; velocity: RMSE / sqrt(kB T / m); energy:"
                    " |change| per atom in kB T.")
    return {"met": all(met.values()), "checks": checks, "sentence": sentence}


def _report(s: dict) -> str:
    u = s["units"]
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
    long = s["long_rollout"]
    if long.get("ogn_blew_up_at"):
        text = f"blew up ({long['ogn_blew_up_at']})"
    else:
        drift = long.get("ogn_total_energy_drift_per_atom")
        energy = ("total energy not computed (no potential known for this system)" if drift is None else
                  f"total-energy change {drift:.3g} {u['energy']} per atom = {drift / s['thermal_energy']:.3g} kB T")
        text = (f"finite throughout; {energy}; largest change of a component of the total momentum"
                f" {long['ogn_momentum_change'] / s['thermal_momentum']:.2e} sqrt(N m kB T)")
    lines += ["", f"Long rollout, {long['steps']} MD steps from the first start: {text}.", ""]
    for name, caption in s["figures"].items():
        lines += [f"![{name}]({name})", "", f"*{caption}*", ""]
    return "\n".join(lines) + "\n"
