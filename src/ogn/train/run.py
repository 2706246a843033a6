"""A training run (paper 4.4): online standardisation, MSE of standardised [dr, dv], Adam with an
exponentially decaying learning rate, one configuration per gradient step, a random cube symmetry per
configuration per epoch, the test loss every `test_every` steps, atomic checkpoints and resume.

The run directory's format (config.yaml, run.json, checkpoint.npz) is `ogn.model.checkpoint`'s; training
adds RUN/curve.csv (step, train loss, test loss, learning rate, wall time) and RUN/curve.png, its plot.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np
import yaml

from ogn import __version__
from ogn.data.dataset import SplitFrames, load_frames, read_metadata
from ogn.io.files import atomic_write_bytes, atomic_write_text, same_file
from ogn.model.checkpoint import RUN_FORMAT, read_run_config
from ogn.model.graph import count_edges, with_margin
from ogn.periodic import box_sides
from ogn.progress import NoProgress
from ogn.train.batches import PairData, Schedule
from ogn.train.config import RunConfig, config_from_dict
from ogn.train.distributed import any_process, barrier, is_writer
from ogn.train.trainer import Trainer, learning_rate_schedule

CURVE_FIELDS = ["step", "epoch", "train_loss", "test_loss", "learning_rate", "wall_time_s"]


def edge_capacity(frames: list[SplitFrames], cutoff: float, margin: float) -> tuple[int, int]:
    """(capacity, most edges of any configuration of any split)."""
    most = max(int(count_edges(f.positions.reshape(-1, *f.positions.shape[2:]), f.box, cutoff).max())
               for f in frames)
    return with_margin(most, margin), most


def check_run_directory(config: RunConfig, workdir: Path, resume: bool, source: str | Path | None) -> None:
    """A new run needs a directory that holds no run (and no config.yaml it would replace: the run writes
    its resolved config there); a resumed one, its own checkpoint, config and dataset."""
    ckpt_path = workdir / "checkpoint.npz"
    if not resume:
        if ckpt_path.exists():
            raise FileExistsError(f"{workdir} already holds a run; pass --resume to continue it or choose another --out")
        if (workdir / "config.yaml").exists():
            what = "is the config you gave" if source is not None and same_file(source, workdir / "config.yaml") else \
                "exists"
            raise FileExistsError(f"{workdir / 'config.yaml'} {what}: the run writes its resolved config there; choose"
                                  " another --out")
        return
    if not ckpt_path.exists():
        raise FileNotFoundError(f"{workdir}: nothing to resume (no checkpoint.npz)")
    saved = config_from_dict(read_run_config(workdir))
    c = config.train
    if saved.model != config.model or dataclasses.replace(saved.train, steps=c.steps, devices=c.devices) != c:
        raise ValueError(f"{workdir}: config differs from the run's config.yaml (only train.steps and train.devices"
                         " may change)")
    if Path(saved.data).resolve() != Path(config.data).resolve():
        raise ValueError(f"{workdir} was trained on {saved.data}, not {config.data}: resume it on its own dataset")


def graph_cutoff(config: RunConfig, system: dict) -> float:
    """The model's graph cutoff: the config's, else the system's default (r_c, or an imported system's
    --cutoff); it must fit the training box twice."""
    cutoff = float(config.model.graph_cutoff or system.get("graph_cutoff") or system["neighbor_cutoff"])
    smallest_side = float(np.min(box_sides(system["box"])))
    if 2 * cutoff > smallest_side * (1 + 1e-12):
        raise ValueError(f"model.graph_cutoff {cutoff:.6g} is more than half the dataset's smallest box side"
                         f" {smallest_side:.6g}: minimum-image edges would be wrong")
    return cutoff


def load_pairs(config: RunConfig, dataset: dict, log: Callable[[str], None]) -> tuple[PairData, PairData, list]:
    """(training pairs, test pairs, the splits' frames) at the config's k."""
    c = config.train
    log(f"loading {config.data}")
    train_frames, test_frames = load_frames(config.data, "train"), load_frames(config.data, "test")
    if c.k > dataset["spec"]["k_max"]:
        raise ValueError(f"train.k = {c.k} exceeds the dataset's k_max = {dataset['spec']['k_max']}")
    train = PairData.from_frames(train_frames, c.k)
    if c.unroll > 1:  # starts with the true state `unroll` predictions ahead still in the trajectory
        starts = np.asarray(train.starts)
        train = train.replace(starts=train.starts[starts[:, 1] + c.unroll * train.span < train_frames.n_frames])
        if not len(train.starts):
            raise ValueError(f"train.unroll = {c.unroll} x k = {c.k} is longer than the trajectories")
    test = PairData.from_frames(test_frames, c.k, starts=test_frames.spread_starts(c.k, c.test_pairs))
    return train, test, [train_frames, test_frames]


class TrainingRun:
    """One run directory being trained: the trainer, its schedule, the curve, and what is written when."""

    def __init__(self, config: RunConfig, workdir: Path, resume: bool, log: Callable[[str], None]):
        self.config, self.workdir, self.log = config, workdir, log
        self.dataset = read_metadata(config.data)
        self.system = self.dataset["system"]
        self.cutoff = graph_cutoff(config, self.system)
        c = config.train
        train, test, frames = load_pairs(config, self.dataset, log)
        capacity, most = edge_capacity(frames, self.cutoff, c.edge_capacity_margin)
        log(f"{len(train.starts)} training pairs, {len(test.starts)} test pairs at k = {c.k}; "
            f"N = {train.n_atoms}, at most {most} edges ({most / train.n_atoms:.1f} per atom), capacity {capacity}")
        self.trainer = Trainer(config, train, test, len(self.system["species"]), self.cutoff, capacity,
                               c.k * float(self.system["dt"]), self.system.get("masses"))
        self.schedule = Schedule(len(train.starts), c.batch_size, c.seed,
                                 len(self.trainer.symmetries) if c.augment else 1, c.time_reversal)
        self.lr = learning_rate_schedule(c)
        self.curve: list[dict] = []
        self.recent: list[float] = []  # training losses since the last test
        self.wall_before, self.t_start = 0.0, time.perf_counter()
        self.checkpointed: int | None = None  # the step of the checkpoint on disk
        if is_writer():  # only once every check has passed: no empty run directories
            workdir.mkdir(parents=True, exist_ok=True)
        if resume:
            meta = self.trainer.restore(workdir / "checkpoint.npz")
            self.wall_before = float(meta.get("wall_time_s", 0.0))
            self.curve = [r for r in read_curve(workdir / "curve.csv") if int(r["step"]) <= self.trainer.step]
            self.checkpointed = self.trainer.step
            log(f"resumed at step {self.trainer.step}")

    def wall(self) -> float:
        return self.wall_before + time.perf_counter() - self.t_start

    def info(self) -> dict:
        c, trainer = self.config.train, self.trainer
        return {
            "format": RUN_FORMAT, "system": self.system, "dataset": str(self.config.data),
            "dataset_spec": self.dataset["spec"], "k": c.k, "dt": self.system["dt"], "cutoff": self.cutoff,
            "n_atoms": trainer.train.n_atoms, "edge_capacity": trainer.capacity, "step": trainer.step,
            "epoch": self.schedule.epoch_of(trainer.step), "wall_time_s": self.wall(),
            "device": str(jax.devices()[0].device_kind), "jax_version": jax.__version__, "ogn_version": __version__,
            "test_loss": self.curve[-1]["test_loss"] if self.curve else None,
        }

    def checkpoint(self) -> None:
        """config.yaml, checkpoint.npz, run.json, curve.csv and curve.png, each written atomically (by
        process 0 of a distributed run)."""
        if not is_writer():
            self.checkpointed = self.trainer.step
            return
        meta = self.info()
        atomic_write_text(self.workdir / "config.yaml", yaml.safe_dump(self.config.to_dict(), sort_keys=False))
        self.trainer.save(self.workdir / "checkpoint.npz", meta)
        atomic_write_text(self.workdir / "run.json", json.dumps(meta, indent=2) + "\n")
        write_curve(self.workdir / "curve.csv", self.curve)
        plot_curve(self.workdir / "curve.png", self.curve,
                   f"{self.system['name']}, k = {self.config.train.k}, {self.config.model.layers} MPNN layers")
        self.checkpointed = self.trainer.step

    def record(self) -> float:
        """The test loss now, with the mean training loss since the last record, into the curve and the log."""
        test_loss = self.trainer.evaluate()
        recent = self.recent
        self.curve.append({
            "step": self.trainer.step, "epoch": self.schedule.epoch_of(self.trainer.step),
            "train_loss": float(np.mean(recent)) if recent else float("nan"), "test_loss": test_loss,
            "learning_rate": float(self.lr(self.trainer.step)), "wall_time_s": self.wall(),
        })
        row = self.curve[-1]
        # before the first step there is no training loss yet: say so rather than print nan
        train_loss = f"mean training loss over the last {len(recent)} steps {row['train_loss']:.4g}, " if recent else ""
        self.recent = []
        self.log(f"step {row['step']}: {train_loss}test loss {test_loss:.4g}, "
                 f"learning rate {row['learning_rate']:.3g}, {row['wall_time_s']:.0f} s")
        return test_loss

    def check_losses(self, losses: np.ndarray) -> None:
        if np.all(np.isfinite(losses)):
            return
        kept = ("no checkpoint was written" if self.checkpointed is None
                else f"the last checkpoint (step {self.checkpointed}) is kept")
        raise FloatingPointError(f"non-finite training loss by step {self.trainer.step}: train.learning_rate"
                                 f" ({self.config.train.learning_rate:g}) may be too high for this data; {kept}")


def train_and_evaluate(config: RunConfig, workdir: str | Path, resume: bool = False,
                       log: Callable[[str], None] = print, progress_factory=None,
                       stop_requested: Callable[[], bool] = lambda: False, source: str | Path | None = None) -> dict:
    """Train per `config` into `workdir` (`source`: the config file it came from, never to be replaced).
    Returns the final run info (also in RUN/run.json).

    When `stop_requested()` turns true (checked between steps), or on KeyboardInterrupt, the run is
    checkpointed and KeyboardInterrupt raised; `resume=True` continues it.
    """
    workdir = Path(workdir)
    check_run_directory(config, workdir, resume, source)
    barrier("run directory checked")  # before process 0 makes it, every process has checked it
    run = TrainingRun(config, workdir, resume, log)
    c, trainer = config.train, run.trainer
    test_loss = run.record() if not run.curve else run.curve[-1]["test_loss"]
    last_test, last_ckpt = trainer.step, trainer.step
    try:
        with (progress_factory or NoProgress)("training", c.steps, start=trainer.step) as advance:
            while trainer.step < c.steps:
                if any_process(stop_requested()):  # all processes stop at the same step
                    raise KeyboardInterrupt
                n = min(c.steps_per_call, c.steps - trainer.step)
                t0 = time.perf_counter()
                losses = trainer.run_steps(run.schedule.picks(trainer.step, n))
                run.check_losses(losses)
                run.recent.extend(losses.tolist())
                shown = float(np.mean(run.recent))  # what the next record logs: the mean since the last one
                if trainer.step - last_test >= c.test_every or trainer.step >= c.steps:
                    test_loss, last_test = run.record(), trainer.step
                if trainer.step - last_ckpt >= c.checkpoint_every:
                    run.checkpoint()
                    last_ckpt = trainer.step
                advance(n, loss=shown, test_loss=test_loss, rate=n / (time.perf_counter() - t0))
    except KeyboardInterrupt:
        run.checkpoint()
        log(f"interrupted: checkpoint at step {trainer.step} in {workdir}; continue with --resume")
        raise
    run.checkpoint()
    return run.info()


def write_curve(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CURVE_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def read_curve(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        return [{k: (int(v) if k == "step" else float(v)) for k, v in row.items()} for row in csv.DictReader(f)]


def plot_curve(path: Path, rows: list[dict], title: str) -> None:
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry

    if not rows:
        return
    fig = Figure(figsize=(5, 3.5), layout="constrained")
    ax = fig.subplots()
    steps = [r["step"] for r in rows]
    ax.plot(steps, [r["train_loss"] for r in rows], marker="o", ms=3, label="training (mean since last test)")
    ax.plot(steps, [r["test_loss"] for r in rows], marker="o", ms=3, label="test")
    ax.set_yscale("log")
    ax.set_xlabel("gradient steps")
    ax.set_ylabel("standardised loss L")
    ax.set_title(title)
    ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    atomic_write_bytes(path, buffer.getvalue())
