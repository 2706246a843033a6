"""`ogn reproduce FIGURE`: data, training and evaluation for one of the paper's figures.

`--scale paper` uses the paper's settings (configs/*.yaml as they are: days on a GPU); `--scale quick`
shrinks every budget so a figure finishes in minutes on a 2-core CPU, and says so on the figure.
Everything lands in OUT/FIGURE/; datasets and runs already there are reused (runs are resumed).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ogn.data.dataset import DatasetSpec, make_dataset
from ogn.io.files import atomic_write_text
from ogn.systems import get_system
from ogn.train.config import SHIPPED_CONFIGS as CONFIGS


@dataclass(frozen=True)
class Scale:
    name: str
    dataset: DatasetSpec
    train_steps: int | None  # None: the config's
    learning_rate: float | None
    test_every: int | None
    starts: int
    long_steps: int

    def note(self) -> str:
        if self.name == "paper":
            return ""
        return (f"quick scale: {self.dataset.trajectories} training trajectories of {self.dataset.steps} steps,"
                f" {self.train_steps} training steps (paper: 10 x 1000, 2e7)")


SCALES = {
    "quick": Scale("quick", DatasetSpec(trajectories=2, test_trajectories=1, steps=300, k_max=20, test_pairs=50),
                   train_steps=400, learning_rate=1e-3, test_every=100, starts=3, long_steps=200),
    "paper": Scale("paper", DatasetSpec(), train_steps=None, learning_rate=None, test_every=None, starts=10,
                   long_steps=1000),
}

# figure -> what it needs: (preset, glass, config name, k override)
FIGURES = {
    "fig2": "OGN (10 layers, k = 1) on the LJ liquid: trajectories and predicted vs true (Figs. 2B, 2C)",
    "fig3": "OGN (10 layers, k = 1) on silica, silicon and CuZr: predicted vs true, RMSE (Figs. 3B, 3C)",
    "fig4b": "Fast-OGN (2 layers, k = 5) on the LJ liquid: energy and momentum against MD at dt and 5 dt",
    "fig5": "Fast-OGN on the LJ liquid and glass: RMSD (5A), training curves at k = 20 (5B), loss vs k (5C)",
}


def _dataset(out: Path, preset: str, glass: bool, scale: Scale, log) -> Path:
    path = out / "data" / (preset + ("-glass" if glass else ""))
    if not (path / "dataset.json").exists():
        make_dataset(get_system(preset), dataclasses.replace(scale.dataset, glass=glass), path, log=log)
    return path


def _train(out: Path, config_name: str, data: Path, scale: Scale, log, progress_factory, k: int | None = None,
           name: str | None = None) -> Path:
    from ogn.train import load_config, train_and_evaluate

    config = load_config(CONFIGS / f"{config_name}.yaml", data=str(data), steps=scale.train_steps)
    changes = {}
    if scale.learning_rate is not None:
        changes["learning_rate"] = scale.learning_rate
    if scale.test_every is not None:
        changes |= {"test_every": scale.test_every, "test_pairs": min(config.train.test_pairs, 50)}
    if k is not None:
        changes["k"] = k
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, **changes))
    run = out / "runs" / (name or config_name)
    done = (run / "run.json").exists() and json.loads((run / "run.json").read_text())["step"] >= config.train.steps
    if not done:
        train_and_evaluate(config, run, resume=(run / "checkpoint.npz").exists(), log=log,
                           progress_factory=progress_factory)
    return run


def reproduce(figure: str, scale_name: str, out: str | Path, log: Callable[[str], None] = print,
              progress_factory=None) -> Path:
    from ogn.evaluate.report import evaluate_run

    if figure not in FIGURES:
        raise ValueError(f"unknown figure {figure!r}; choose one of {sorted(FIGURES)}")
    scale = SCALES[scale_name]
    out = Path(out)
    fig_dir = out / figure
    fig_dir.mkdir(parents=True, exist_ok=True)
    log(f"{figure}: {FIGURES[figure]} ({scale.name} scale)")
    reports = []
    if figure in ("fig2", "fig3", "fig4b"):
        jobs = {"fig2": [("lj", "lj-ogn")], "fig4b": [("lj", "lj-fast")],
                "fig3": [("silica", "silica-ogn"), ("silicon", "silicon-ogn"), ("cuzr", "cuzr-ogn")]}[figure]
        for preset, config_name in jobs:
            data = _dataset(out, preset, False, scale, log)
            run = _train(out, config_name, data, scale, log, progress_factory)
            evaluate_run(run, data, fig_dir / config_name, n_starts=scale.starts, long_steps=scale.long_steps,
                         log=log, note=scale.note())
            reports.append(f"{config_name}/report.md")
    else:
        reports.append(_figure5(out, fig_dir, scale, log, progress_factory))
    text = [f"# {figure}: {FIGURES[figure]}", "", f"Scale: {scale.name}. {scale.note()}", ""]
    text += [f"- [{r}]({r})" for r in reports]
    atomic_write_text(fig_dir / "README.md", "\n".join(text) + "\n")
    return fig_dir


def _figure5(out: Path, fig_dir: Path, scale: Scale, log, progress_factory) -> str:
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry

    from ogn.data.dataset import load_frames
    from ogn.evaluate.metrics import msd
    from ogn.train.run import read_curve

    phases = {"liquid": False, "glass": True}
    data = {p: _dataset(out, "lj", g, scale, log) for p, g in phases.items()}
    ks = [1, 5, 10, 20] if scale.name == "paper" else [5, 20]
    runs = {(p, k): _train(out, "lj-fast", data[p], scale, log, progress_factory, k=k, name=f"lj-{p}-fast-k{k}")
            for p in phases for k in ks}
    system = get_system("lj")
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    for p in phases:
        frames = load_frames(data[p], "test")
        t = system.dt * np.arange(frames.n_frames)
        axes[0].loglog(t[1:], np.sqrt(msd(frames.positions[0]))[1:], label=p)
        curve = read_curve(runs[(p, 20)] / "curve.csv")
        axes[1].semilogy([r["epoch"] for r in curve], [r["test_loss"] for r in curve], label=f"{p}, test")
        axes[1].semilogy([r["epoch"] for r in curve[1:]], [r["train_loss"] for r in curve[1:]], "--",
                         label=f"{p}, training")
        final = [read_curve(runs[(p, k)] / "curve.csv")[-1]["test_loss"] for k in ks]
        axes[2].semilogy(ks, final, "o-", label=p)
    axes[0].set(xlabel="time (LJ units)", ylabel="RMSD (sigma)", title="(A) MD")
    axes[1].set(xlabel="epoch", ylabel="loss L", title="(B) Fast-OGN, k = 20")
    axes[2].set(xlabel="k (MD steps per prediction)", ylabel="final test loss L", title="(C)")
    for ax in axes:
        ax.legend(fontsize=7)
    if scale.note():
        fig.suptitle(scale.note(), fontsize=8)
    fig.savefig(fig_dir / "fig5.png", dpi=120)
    return "fig5.png"
