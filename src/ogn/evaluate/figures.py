"""The figures of `ogn evaluate`, each with the caption report.md prints under it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ogn.periodic import minimum_image


def draw_figures(out_dir: Path, ev, horizon, curves: dict, long, summary: dict, note: str) -> dict[str, str]:
    """rmse.png, trajectories.png, scatter.png, energy.png (with a potential) and long.png into `out_dir`;
    returns {file name: caption}."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry

    captions = {}

    def save(fig: Figure, name: str, caption: str) -> None:
        if note:  # e.g. the reduced budgets of `ogn reproduce --scale quick`
            fig.suptitle(note, fontsize=7)
        fig.savefig(out_dir / name, dpi=120)
        captions[name] = caption

    units = ev.system.units
    length, velocity = units.length, f"{units.length}/{units.time}"
    save(*rmse_figure(Figure(figsize=(11, 4.2), layout="constrained"), horizon, summary, length, velocity))
    ogn = horizon.first["predictions"]["ogn"]
    if ogn is not None:
        save(*trajectories_figure(Figure(figsize=(5.5, 3.8), layout="constrained"), horizon, ogn, ev.k, length))
        save(*scatter_figure(Figure(figsize=(10, 4.2), layout="constrained"), horizon, ogn, ev.frames.box, length,
                             velocity))
    if curves:
        save(*energy_figure(Figure(figsize=(10, 3.8), layout="constrained"), curves, ev, summary))
    save(*long_figure(Figure(figsize=(10, 3.8), layout="constrained"), long, summary, length, units.time))
    return captions


def rmse_figure(fig, horizon, summary: dict, length: str, velocity: str):
    axes = fig.subplots(1, 2)
    blew_up = []
    for i, (name, e) in enumerate(horizon.errors.items()):
        color = f"C{i}"  # one colour per simulator in both panels (a curve in one panel only must not reuse one)
        for ax, q in zip(axes, ("position", "velocity")):
            if q == "velocity" and name in ("constant velocity",):
                continue  # its velocities are the standing still's v0: one curve, labelled for both
            per_start = np.asarray(e[q])
            finite = np.isfinite(per_start).all(axis=1)
            if not finite.all():  # said on the plot, not left out of it silently
                if q == "position":
                    blew_up.append(f"{name} blew up on {int((~finite).sum())} of {len(finite)} starts")
                continue
            if q == "position" and name == "zero velocity":
                continue  # its positions are the standing still's
            mean, std = per_start.mean(0), per_start.std(0)
            label = "standing still = constant velocity (v0)" if (q, name) == ("velocity", "standing still") else name
            style = ":" if name.startswith("MD from") else "-"
            ax.plot(horizon.steps, mean, marker="o", ms=3, ls=style, label=label, color=color)
            ax.fill_between(horizon.steps, np.maximum(mean - std, mean * 1e-3), mean + std, color=color, alpha=0.2, lw=0)
    cage, scale = summary["cage_length"], summary["velocity_scale"]
    axes[0].axhline(cage, color="k", ls=":", lw=1, label=f"cage length {cage:.3g}")
    axes[1].axhline(scale, color="k", ls=":", lw=1, label=f"sqrt(kB T / m) = {scale:.3g}")
    axes[1].axhline(np.sqrt(2) * scale, color="k", ls="--", lw=1, label="uncorrelated: sqrt(2) x that")
    axes[0].set_ylabel(f"position RMSE ({length})")
    axes[1].set_ylabel(f"velocity RMSE ({velocity})")
    for ax in axes:
        ax.set_xlabel("MD steps")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    if blew_up:
        fig.text(0.5, 0.01, "; ".join(blew_up), ha="center", va="bottom", fontsize=10, color="red", weight="bold")
    caption = (f"RMSE against MD at dt from the same start, mean (line) and standard deviation (band) over"
               f" {len(horizon.starts)} starts on the independent test trajectories. Dotted lines: MD from a tiny"
               " random kick (the floor a simulator of this chaotic system can reach), the cage length and the"
               " thermal velocity scale; dashed: the velocity RMSE of uncorrelated velocities. A simulator that"
               " blew up is named on the plot (red) and has no curve.")
    return fig, "rmse.png", caption


def trajectories_figure(fig, horizon, ogn, k: int, length: str):
    ax = fig.subplots()
    first = horizon.first
    atoms = np.random.default_rng(0).choice(first["true_r"].shape[1], 3, replace=False)
    for a in atoms:
        line, = ax.plot(horizon.steps, first["true_r"][:, a, 0], label=f"atom {a} MD")
        ax.plot(horizon.steps, ogn[0][:, a, 0], "o", ms=3, color=line.get_color(), label=f"atom {a} OGN")
    ax.set_xlabel("MD steps")
    ax.set_ylabel(f"x ({length})")
    ax.legend(fontsize=7)
    return fig, "trajectories.png", ("x coordinate of three atoms from the first start: MD at dt (lines) and the"
                                     f" learned simulator (dots, one per prediction of {k} MD steps). Paper Fig. 2B.")


def scatter_figure(fig, horizon, ogn, box, length: str, velocity: str):
    axes = fig.subplots(1, 2)
    first = horizon.first

    def displacement(r):  # by minimum image, as the RMSE: a dataset may store wrapped positions
        return minimum_image(r - first["r0"], box)

    for ax, true, pred, label in ((axes[0], displacement(first["true_r"][-1]), displacement(ogn[0][-1]),
                                   f"displacement ({length})"),
                                  (axes[1], first["true_v"][-1], ogn[1][-1], f"velocity ({velocity})")):
        cells = ax.hexbin(true.ravel(), pred.ravel(), gridsize=60, bins="log", mincnt=1)
        fig.colorbar(cells, ax=ax, label="components per cell (log scale)")
        lo, hi = true.min(), true.max()
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"MD {label}")
        ax.set_ylabel(f"OGN {label}")
        ax.set_title(f"after {horizon.steps[-1]} MD steps")
    return fig, "scatter.png", (f"Every x, y, z component of every atom after {horizon.steps[-1]} MD steps from the"
                                " first start, learned simulator against MD (colour: components per cell, log scale;"
                                " dashed: perfect agreement). Left: displacement from the start, which a trivial"
                                " simulator cannot fake; right: velocity. Paper Fig. 2C.")


def energy_figure(fig, curves: dict, ev, summary: dict):
    axes = fig.subplots(1, 2)
    n, kT, scale = len(ev.species), summary["thermal_energy"], summary["thermal_momentum"]
    for name, c in curves.items():
        x = ev.k * np.arange(len(c["potential"]))
        total = (c["potential"] + c["kinetic"]) / n
        axes[0].plot(x, (total - total[0]) / kT, marker="o", ms=2, label=name)
        change = np.linalg.norm(c["momentum"] - c["momentum"][0], axis=-1) / scale
        axes[1].plot(x, change, marker="o", ms=2, label=name)
    axes[0].set_ylabel("total energy per atom - start's (kB T)")
    axes[1].set_ylabel("|P - P_start| / sqrt(N m kB T)")
    axes[1].set_yscale("symlog", linthresh=1e-8)
    for ax in axes:
        ax.set_xlabel("MD steps")
        ax.legend(fontsize=7)
    return fig, "energy.png", ("Change of the total energy per atom (true potential on each simulator's states), in"
                               " kB T, and of the total momentum, in units of a thermal total momentum"
                               " sqrt(N m kB T), from the first start. Paper Fig. 4B.")


def long_figure(fig, long, summary: dict, length: str, time: str):
    axes = fig.subplots(1, 2)
    for name, m in long.msd.items():
        axes[0].loglog(long.times[1:len(m)], m[1:], marker="o", ms=2, label=name)
    cage = summary["cage_length"]
    axes[0].axhline(cage**2, color="k", ls=":", lw=1, label="cage length squared")
    axes[0].set_xlabel(f"time ({time})")
    axes[0].set_ylabel(f"MSD ({length}$^2$), centre of mass removed")
    axes[0].legend(fontsize=7)
    for name, (r, g) in long.rdf.items():
        axes[1].plot(r, g, label=name)
    axes[1].set_xlabel(f"r ({length})")
    axes[1].set_ylabel("g(r), all pairs")
    axes[1].legend(fontsize=7)
    return fig, "long.png", ("The long rollout from the first start against MD at dt: mean square displacement"
                             " about the centre of mass (a drifting box is not diffusion; paper ESI S4) and the"
                             " radial distribution function over its last 20 frames.")
