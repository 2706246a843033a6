"""Training (paper 4.4): online standardisation, MSE of standardised [dr, dv], Adam with an exponentially
decaying learning rate, one configuration per gradient step, a random cube symmetry per configuration
per epoch, the test loss every `test_every` steps, atomic checkpoints and resume.

The run directory's format (config.yaml, run.json, checkpoint.npz) is `ogn.model.checkpoint`'s; training
adds RUN/curve.csv (step, train loss, test loss, learning rate, wall time) and RUN/curve.png, its plot.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import yaml
from flax import nnx

from ogn import __version__
from ogn.config import build_dataclass
from ogn.data.dataset import Frames, load_frames, read_metadata
from ogn.data.symmetry import apply_symmetry, box_symmetries
from ogn.io.files import atomic_write_text
from ogn.model.checkpoint import RUN_FORMAT, read_checkpoint, read_run_config, save_checkpoint, unflatten
from ogn.model.graph import Graph, count_edges, dense_graph, with_margin
from ogn.model.network import OGN, ModelConfig, make_model
from ogn.model.normalizer import Statistic
from ogn.periodic import box_sides
from ogn.progress import NoProgress


@dataclass(frozen=True)
class TrainConfig:
    k: int = 1  # MD steps per prediction
    steps: int = 20_000_000  # gradient steps (paper: 1000 epochs of 10 000 configurations)
    batch_size: int = 1  # configurations per gradient step (paper: 1)
    learning_rate: float = 1e-4  # paper: LR = 1e-4 * 0.1^(K / 1e7), floored at 1e-6
    lr_decay_rate: float = 0.1
    lr_decay_steps: float = 1e7  # the horizon: LR falls by lr_decay_rate every this many steps
    lr_final: float = 1e-6
    augment: bool = True  # a random symmetry of the box per configuration per epoch (none for the equivariant network)
    test_every: int = 1000  # paper: 1000
    test_pairs: int = 100  # paper: 100
    checkpoint_every: int = 10_000
    steps_per_call: int = 100  # gradient steps per compiled call; test/checkpoint periods round up to it
    edge_capacity_margin: float = 1.05  # edge capacity = margin x the most edges of any configuration
    # Training noise (DeepMind GNS), 0 = off (paper): each input state is perturbed by Gaussian noise of
    # this fraction of the data's velocity spread (per component) in v, and of that times k dt in r, and
    # the targets lead back to the true state k steps later, so the model learns to undo its own errors.
    noise: float = 0.0
    # Push-forward training (Brandstetter et al. 2022), 1 = off (paper): the model is applied unroll - 1
    # times without gradient from each start, and trained on the state it reaches, towards the true state
    # `unroll` predictions after the start; the test loss stays the one-prediction loss.
    unroll: int = 1
    unroll_warmup: int = 1000  # one-prediction steps before push-forward starts (an untrained model's are noise)
    seed: int = 0

    def __post_init__(self):
        for name in ("k", "steps", "batch_size", "test_every", "test_pairs", "checkpoint_every", "steps_per_call",
                     "unroll"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.unroll_warmup < 0:
            raise ValueError(f"train.unroll_warmup must be >= 0, got {self.unroll_warmup}")
        if not 0 < self.lr_final <= self.learning_rate:
            raise ValueError(f"need 0 < lr_final <= learning_rate, got {self.lr_final}, {self.learning_rate}")
        if not 0 <= self.noise < 1:
            raise ValueError(f"train.noise is a fraction of the velocity spread in [0, 1), got {self.noise}")
        if self.edge_capacity_margin < 1:
            raise ValueError(f"train.edge_capacity_margin must be >= 1, got {self.edge_capacity_margin}")


@dataclass(frozen=True)
class RunConfig:
    data: str  # dataset directory (`ogn dataset`)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def config_from_dict(d: dict) -> RunConfig:
    d = dict(d or {})
    unknown = set(d) - {"data", "model", "train"}
    if unknown:
        raise ValueError(f"unknown section(s) {sorted(unknown)}; known: data, model, train")
    if "data" not in d:
        raise ValueError("the config names no dataset: add `data: DIR`, or pass --data")
    return RunConfig(
        data=str(d["data"]),
        model=build_dataclass(ModelConfig, d.get("model", {}), "model"),
        train=build_dataclass(TrainConfig, d.get("train", {}), "train"),
    )


SHIPPED_CONFIGS = Path(__file__).resolve().parent / "configs"


def load_config(path: str | Path, **overrides) -> RunConfig:
    """A RunConfig from YAML; `overrides` data=..., steps=..., k=... replace what the file says. A path that
    does not exist but names a shipped config (`configs/fast.yaml`, `fast.yaml`) is that config."""
    path = Path(path)
    if not path.is_file() and (SHIPPED_CONFIGS / path.name).is_file() and len(path.parts) <= 2:
        path = SHIPPED_CONFIGS / path.name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file; shipped configs: "
                                + ", ".join(sorted(p.name for p in SHIPPED_CONFIGS.glob("*.yaml"))))
    try:
        d = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a YAML text file ({err})") from err
    if not isinstance(d, dict):
        raise ValueError(f"{path}: expected a mapping with data, model and train at the top, got a {type(d).__name__}")  # noqa: TRY004
    if overrides.get("data") is not None:
        d["data"] = overrides["data"]
    for name in ("steps", "k"):
        if overrides.get(name) is not None:
            d.setdefault("train", {})[name] = overrides[name]
    try:
        return config_from_dict(d)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err


# ----------------------------------------------------------------------------------------------------------
# batches


@dataclass
class PairData:
    """A split ready for the compiled step: wrapped positions, velocities and [dr, dv] targets in float32."""

    positions: jax.Array  # (T, F, N, 3) wrapped into the box
    velocities: jax.Array  # (T, F, N, 3)
    targets: jax.Array  # (T, F - span, N, 6); float64 differences rounded once
    species: jax.Array  # (N,)
    box: np.ndarray  # (3,) orthorhombic sides
    starts: np.ndarray  # (P, 2) the (trajectory, frame) pairs of this split
    velocity_spread: float  # std of one velocity component over the split
    span: int  # frames per prediction (k MD steps / the frame stride)

    @classmethod
    def from_frames(cls, frames: Frames, k: int, starts: np.ndarray | None = None) -> PairData:
        all_starts, span = frames.pair_starts(k), frames.frames_for(k)
        targets = frames.targets(all_starts, k).reshape(frames.n_trajectories, frames.n_frames - span, -1, 6)
        return cls(
            positions=jnp.asarray(np.mod(frames.positions, frames.box), jnp.float32),
            velocities=jnp.asarray(frames.velocities, jnp.float32),
            targets=jnp.asarray(targets, jnp.float32),
            species=jnp.asarray(frames.species),
            box=frames.box,
            starts=all_starts if starts is None else starts,
            velocity_spread=float(np.std(frames.velocities)),
            span=span,
        )

    @property
    def n_atoms(self) -> int:
        return self.positions.shape[2]


def configurations(data: PairData, picks: jax.Array, symmetries: jax.Array, noise: tuple[float, float] = (0.0, 0.0),
                   key: jax.Array | None = None, ahead: int = 1):
    """(B, 3) picks of (trajectory, frame, symmetry) -> (B, N, 3) positions and velocities of the starts, and
    (B, N, 6) the true [dr, dv] from each start to `ahead` predictions (ahead k MD steps) later, summed from
    the float64-rounded one-prediction targets, all under the picked symmetry. `noise`: standard deviations
    (position, velocity) of Gaussian noise added to the starts (with `key`); the targets still end on the
    true state."""
    n = data.n_atoms
    keys = jax.random.split(jax.random.key(0) if key is None else key, picks.shape[0])

    def one(pick, key):
        t, f, s = pick[0], pick[1], pick[2]
        change = data.targets[t, f]
        for j in range(1, ahead):
            change = change + data.targets[t, f + j * data.span]
        positions, velocities, targets = apply_symmetry(symmetries[s], data.box, data.positions[t, f],
                                                        data.velocities[t, f], change)
        if noise[0] > 0 or noise[1] > 0:
            delta = jax.random.normal(key, (n, 6), targets.dtype) * jnp.repeat(jnp.asarray(noise, targets.dtype), 3)
            positions, velocities = jnp.mod(positions + delta[:, :3], data.box), velocities + delta[:, 3:]
            targets = targets - delta
        return positions, velocities, targets

    return jax.vmap(one)(picks, keys)


def merged_graph(positions: jax.Array, box, cutoff: float, capacity: int) -> tuple[Graph, jax.Array]:
    """One disjoint graph of B configurations (B, N, 3), and the largest edge count of any of them."""
    b, n = positions.shape[:2]
    graphs = jax.vmap(lambda r: dense_graph(r, box, cutoff, capacity))(positions)
    offset = (jnp.arange(b) * n)[:, None]
    # padding (id n) of every configuration -> the padding id of the union (b n)
    shift = lambda ids: jnp.where(ids < n, ids + offset, b * n).ravel()
    graph = Graph(shift(graphs.senders), shift(graphs.receivers), graphs.edge_vectors.reshape(-1, 3),
                  graphs.n_edges.sum())
    return graph, graphs.n_edges.max()


def batch_graph(data: PairData, picks: jax.Array, symmetries: jax.Array, cutoff: float, capacity: int,
                noise: tuple[float, float] = (0.0, 0.0), key: jax.Array | None = None, unroll: int = 1,
                predict: Callable | None = None):
    """(B, 3) picks -> velocities (B N, 3), species (B N,), one disjoint graph of the B configurations,
    targets (B N, 6), and the largest edge count of any graph built.

    With `unroll` m > 1 (push-forward training), `predict(velocities, species, graph) -> (dr, dv)` is
    applied m - 1 times from each start, and the batch is the state reached, with the target that leads
    from it to the true state m predictions after the start: the model learns from states with its own
    errors in them. The caller stops the gradient through those m - 1 predictions."""
    positions, velocities, targets = configurations(data, picks, symmetries, noise, key, ahead=unroll)
    b, n = positions.shape[:2]
    species = jnp.tile(data.species, b)
    most = jnp.asarray(0)
    for _ in range(unroll - 1):
        graph, edges = merged_graph(positions, data.box, cutoff, capacity)
        dr, dv = predict(velocities.reshape(-1, 3), species, graph)
        change = jnp.concatenate([dr, dv], -1).reshape(b, n, 6)
        positions = jnp.mod(positions + change[..., :3], data.box)
        velocities, targets, most = velocities + change[..., 3:], targets - change, jnp.maximum(most, edges)
    graph, edges = merged_graph(positions, data.box, cutoff, capacity)
    return velocities.reshape(-1, 3), species, graph, targets.reshape(-1, 6), jnp.maximum(most, edges)


class Schedule:
    """Which configuration and which symmetry each gradient step sees: a fresh permutation of the training
    pairs and fresh symmetries every epoch, from (seed, epoch) alone, so a resumed run sees the same."""

    def __init__(self, n_pairs: int, batch_size: int, seed: int, n_symmetries: int):
        self.n_pairs, self.batch_size, self.seed, self.n_symmetries = n_pairs, batch_size, seed, n_symmetries
        self._epochs: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _epoch(self, e: int):
        if e not in self._epochs:
            rng = np.random.default_rng([self.seed, e])
            order = rng.permutation(self.n_pairs)
            syms = rng.integers(0, self.n_symmetries, self.n_pairs)
            self._epochs = {e: (order, syms)}  # only the current epoch is kept
        return self._epochs[e]

    def picks(self, first_step: int, n_steps: int) -> np.ndarray:
        """(n_steps, B, 2): (pair index, symmetry) for steps first_step .. first_step + n_steps - 1."""
        seq = np.arange(first_step * self.batch_size, (first_step + n_steps) * self.batch_size)
        out = np.empty((len(seq), 2), dtype=np.int64)
        for e in np.unique(seq // self.n_pairs):
            sel = seq // self.n_pairs == e
            order, syms = self._epoch(int(e))
            pos = seq[sel] % self.n_pairs
            out[sel] = np.stack([order[pos], syms[order[pos]]], -1)
        return out.reshape(n_steps, self.batch_size, 2)

    def epoch_of(self, step: int) -> float:
        return step * self.batch_size / self.n_pairs


# ----------------------------------------------------------------------------------------------------------
# the trainer


def learning_rate_schedule(c: TrainConfig) -> optax.Schedule:
    return optax.exponential_decay(c.learning_rate, int(c.lr_decay_steps), c.lr_decay_rate, end_value=c.lr_final)


class Trainer:
    """Holds the model as pure state (params, statistics, optimizer state) and the compiled steps."""

    def __init__(self, config: RunConfig, train: PairData, test: PairData, n_species: int, cutoff: float,
                 capacity: int, step_time: float):
        self.config, self.train, self.test = config, train, test
        self.cutoff, self.capacity = cutoff, capacity
        model = make_model(n_species, config.model, nnx.Rngs(config.train.seed), step_time)
        spread = config.train.noise * train.velocity_spread
        self.noise = (spread * step_time, spread)
        self.graphdef, self.params, self.stats = nnx.split(model, nnx.Param, Statistic)
        self.tx = optax.adam(learning_rate_schedule(config.train))
        self.opt_state = self.tx.init(self.params)
        self.step = 0
        # an equivariant network gives the same answer under each symmetry: augmenting it would only cost time
        symmetries = box_symmetries(train.box) if config.model.network != "equivariant" else np.eye(3)[None]
        self.symmetries = jnp.asarray(symmetries, jnp.float32)
        self._compile()

    def _compile(self):
        graphdef, tx = self.graphdef, self.tx
        train, test, symmetries, cutoff, capacity = self.train, self.test, self.symmetries, self.cutoff, self.capacity
        train_starts = jnp.asarray(train.starts)

        noise, noise_key = self.noise, jax.random.key(self.config.train.seed)

        def train_step(unroll, carry, step_and_pick):  # pick: (B, 2) (pair index, symmetry)
            params, stats, opt_state = carry
            step, pick = step_and_pick
            tf = train_starts[pick[:, 0]]
            picks = jnp.concatenate([tf, pick[:, 1:]], -1)
            model = nnx.merge(graphdef, jax.lax.stop_gradient(params), stats)
            velocities, species, graph, targets, most_edges = batch_graph(
                train, picks, symmetries, cutoff, capacity, noise, jax.random.fold_in(noise_key, step), unroll,
                model.raw_prediction)
            # statistics first: every input is standardised by everything seen so far, itself included
            model.update_statistics(velocities, species, graph, targets)
            stats = nnx.state(model, Statistic)

            def loss_fn(p):
                return nnx.merge(graphdef, p, stats).loss(velocities, species, graph, targets)

            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), stats, opt_state), (loss, most_edges)

        @functools.partial(jax.jit, static_argnums=5)
        def train_chunk(params, stats, opt_state, first_step, picks, unroll):
            steps = first_step + jnp.arange(picks.shape[0])
            (params, stats, opt_state), (losses, edges) = jax.lax.scan(
                functools.partial(train_step, unroll), (params, stats, opt_state), (steps, picks))
            return params, stats, opt_state, losses, edges.max()

        test_starts = jnp.asarray(test.starts)

        @jax.jit
        def test_loss(params, stats):
            model = nnx.merge(graphdef, params, stats)

            def one(_, tf):
                picks = jnp.concatenate([tf, jnp.zeros(1, tf.dtype)])[None]
                velocities, species, graph, targets, most_edges = batch_graph(test, picks, symmetries, cutoff,
                                                                              capacity)
                return None, (model.loss(velocities, species, graph, targets), most_edges)

            _, (losses, edges) = jax.lax.scan(one, None, test_starts)
            return losses.mean(), edges.max()

        self._train_chunk, self._test_loss = train_chunk, test_loss

    def grow(self, needed: int) -> None:
        self.capacity = with_margin(needed, self.config.train.edge_capacity_margin)
        self._compile()

    def run_steps(self, picks: np.ndarray) -> np.ndarray:
        """Gradient steps on (C, B, 2) picks; a graph that outgrew the capacity -> grow, redo."""
        c = self.config.train
        unroll = c.unroll if self.step >= c.unroll_warmup else 1
        while True:
            params, stats, opt_state, losses, most = self._train_chunk(
                self.params, self.stats, self.opt_state, self.step, jnp.asarray(picks), unroll
            )
            if int(most) <= self.capacity:
                break
            self.grow(int(most))
        self.params, self.stats, self.opt_state = params, stats, opt_state
        self.step += len(picks)
        return np.asarray(losses)

    def evaluate(self) -> float:
        while True:
            loss, most = self._test_loss(self.params, self.stats)
            if int(most) <= self.capacity:
                return float(loss)
            self.grow(int(most))

    def model(self) -> OGN:
        return nnx.merge(self.graphdef, self.params, self.stats)

    def save(self, path: Path, meta: dict) -> None:
        trees = {"params": self.params, "stats": self.stats, "opt_state": self.opt_state}
        save_checkpoint(path, trees, meta | {"step": self.step})

    def restore(self, path: Path) -> dict:
        meta, arrays = read_checkpoint(path)
        self.params = unflatten(path, "params", self.params, arrays)
        self.stats = unflatten(path, "stats", self.stats, arrays)
        self.opt_state = unflatten(path, "opt_state", self.opt_state, arrays)
        self.step = int(meta["step"])
        return meta


# ----------------------------------------------------------------------------------------------------------
# the run


CURVE_FIELDS = ["step", "epoch", "train_loss", "test_loss", "learning_rate", "wall_time_s"]


def edge_capacity(frames: list[Frames], cutoff: float, margin: float) -> tuple[int, int]:
    """(capacity, most edges of any configuration of any split)."""
    most = max(int(count_edges(f.positions.reshape(-1, *f.positions.shape[2:]), f.box, cutoff).max())
               for f in frames)
    return with_margin(most, margin), most


def train_and_evaluate(
    config: RunConfig,
    workdir: str | Path,
    resume: bool = False,
    log: Callable[[str], None] = print,
    progress_factory=None,
    stop_requested: Callable[[], bool] = lambda: False,
) -> dict:
    """Train per `config` into `workdir`. Returns the final run info (also in RUN/run.json).

    When `stop_requested()` turns true (checked between steps), or on KeyboardInterrupt, the run is
    checkpointed and KeyboardInterrupt raised; `resume=True` continues it.
    """
    workdir = Path(workdir)
    c = config.train
    ckpt_path = workdir / "checkpoint.npz"
    if ckpt_path.exists() and not resume:
        raise FileExistsError(f"{workdir} already holds a run; pass --resume to continue it or choose another --out")
    if resume:
        if not ckpt_path.exists():
            raise FileNotFoundError(f"{workdir}: nothing to resume (no checkpoint.npz)")
        saved = config_from_dict(read_run_config(workdir))
        if saved.model != config.model or dataclasses.replace(saved.train, steps=c.steps) != c:
            raise ValueError(f"{workdir}: config differs from the run's config.yaml (only train.steps may change)")
        if Path(saved.data).resolve() != Path(config.data).resolve():
            raise ValueError(f"{workdir} was trained on {saved.data}, not {config.data}: resume it on its own dataset")

    dataset = read_metadata(config.data)
    system = dataset["system"]
    cutoff = float(config.model.graph_cutoff or system["neighbor_cutoff"])
    smallest_side = float(np.min(box_sides(system["box"])))
    if 2 * cutoff > smallest_side * (1 + 1e-12):
        raise ValueError(f"model.graph_cutoff {cutoff:.6g} is more than half the dataset's smallest box side"
                         f" {smallest_side:.6g}: minimum-image edges would be wrong")
    log(f"loading {config.data}")
    train_frames, test_frames = load_frames(config.data, "train"), load_frames(config.data, "test")
    if c.k > dataset["spec"]["k_max"]:
        raise ValueError(f"train.k = {c.k} exceeds the dataset's k_max = {dataset['spec']['k_max']}")
    train = PairData.from_frames(train_frames, c.k)
    if c.unroll > 1:  # starts with the true state `unroll` predictions ahead still in the trajectory
        train.starts = train.starts[train.starts[:, 1] + c.unroll * train.span < train_frames.n_frames]
        if not len(train.starts):
            raise ValueError(f"train.unroll = {c.unroll} x k = {c.k} is longer than the trajectories")
    test = PairData.from_frames(test_frames, c.k, starts=test_frames.spread_starts(c.k, c.test_pairs))
    capacity, most = edge_capacity([train_frames, test_frames], cutoff, c.edge_capacity_margin)
    log(f"{len(train.starts)} training pairs, {len(test.starts)} test pairs at k = {c.k}; "
        f"N = {train.n_atoms}, at most {most} edges ({most / train.n_atoms:.1f} per atom), capacity {capacity}")
    trainer = Trainer(config, train, test, len(system["species"]), cutoff, capacity, c.k * float(system["dt"]))
    workdir.mkdir(parents=True, exist_ok=True)  # only once every check has passed: no empty run directories

    curve: list[dict] = []
    wall_before = 0.0
    if resume:
        meta = trainer.restore(ckpt_path)
        wall_before = float(meta.get("wall_time_s", 0.0))
        curve = [r for r in _read_curve(workdir / "curve.csv") if int(r["step"]) <= trainer.step]
        log(f"resumed at step {trainer.step}")
    else:
        atomic_write_text(workdir / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))

    schedule = Schedule(len(train.starts), c.batch_size, c.seed, len(trainer.symmetries) if c.augment else 1)
    lr = learning_rate_schedule(c)
    t_start = time.perf_counter()
    recent: list[float] = []

    def info() -> dict:
        return {
            "format": RUN_FORMAT,
            "system": system,
            "dataset": str(config.data),
            "dataset_spec": dataset["spec"],
            "k": c.k,
            "dt": system["dt"],
            "cutoff": cutoff,
            "n_atoms": train.n_atoms,
            "edge_capacity": trainer.capacity,
            "step": trainer.step,
            "epoch": schedule.epoch_of(trainer.step),
            "wall_time_s": wall_before + time.perf_counter() - t_start,
            "device": str(jax.devices()[0].device_kind),
            "jax_version": jax.__version__,
            "ogn_version": __version__,
            "test_loss": curve[-1]["test_loss"] if curve else None,
        }

    def checkpoint():
        meta = info()
        trainer.save(ckpt_path, meta)
        atomic_write_text(workdir / "run.json", json.dumps(meta, indent=2) + "\n")
        _write_curve(workdir / "curve.csv", curve)
        plot_curve(workdir / "curve.png", curve, f"{system['name']}, k = {c.k}, {config.model.layers} MPNN layers")

    def record():
        test_loss = trainer.evaluate()
        curve.append({
            "step": trainer.step, "epoch": schedule.epoch_of(trainer.step),
            "train_loss": float(np.mean(recent)) if recent else float("nan"), "test_loss": test_loss,
            "learning_rate": float(lr(trainer.step)), "wall_time_s": wall_before + time.perf_counter() - t_start,
        })
        row = curve[-1]
        # before the first step there is no training loss yet: say so rather than print nan
        train_loss = f"training loss {row['train_loss']:.4g}, " if recent else ""
        recent.clear()
        log(f"step {row['step']}: {train_loss}test loss {test_loss:.4g}, "
            f"learning rate {row['learning_rate']:.3g}, {row['wall_time_s']:.0f} s")
        return test_loss

    progress_factory = progress_factory or NoProgress
    test_loss = record() if not curve else curve[-1]["test_loss"]
    last_test, last_ckpt = trainer.step, trainer.step
    try:
        with progress_factory("training", c.steps, start=trainer.step) as advance:
            while trainer.step < c.steps:
                if stop_requested():
                    raise KeyboardInterrupt
                n = min(c.steps_per_call, c.steps - trainer.step)
                t0 = time.perf_counter()
                losses = trainer.run_steps(schedule.picks(trainer.step, n))
                if not np.all(np.isfinite(losses)):
                    raise FloatingPointError(f"non-finite training loss by step {trainer.step}; last checkpoint kept")
                recent.extend(losses.tolist())
                if trainer.step - last_test >= c.test_every or trainer.step >= c.steps:
                    test_loss = record()
                    last_test = trainer.step
                if trainer.step - last_ckpt >= c.checkpoint_every:
                    checkpoint()
                    last_ckpt = trainer.step
                advance(n, loss=float(np.mean(losses)), test_loss=test_loss, rate=n / (time.perf_counter() - t0))
    except KeyboardInterrupt:
        checkpoint()
        log(f"interrupted: checkpoint at step {trainer.step} in {workdir}; continue with --resume")
        raise
    checkpoint()
    return info()


def _write_curve(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CURVE_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def _read_curve(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        return [{k: (int(v) if k == "step" else float(v)) for k, v in row.items()} for row in csv.DictReader(f)]


def plot_curve(path: Path, rows: list[dict], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        return
    fig, ax = plt.subplots(figsize=(5, 3.5))
    steps = [r["step"] for r in rows]
    ax.plot(steps, [r["train_loss"] for r in rows], label="training (mean since last test)")
    ax.plot(steps, [r["test_loss"] for r in rows], label="test")
    ax.set_yscale("log")
    ax.set_xlabel("gradient steps")
    ax.set_ylabel("standardised loss L")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(path.name + ".partial.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
