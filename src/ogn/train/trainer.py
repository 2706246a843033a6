"""The trainer: the model as pure state (parameters, normaliser statistics, optimizer state), the compiled
steps, the edge capacity they are compiled for, and checkpoints."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh

from ogn.data.symmetry import box_symmetries
from ogn.model.checkpoint import read_checkpoint, save_checkpoint, unflatten
from ogn.model.graph import with_margin
from ogn.model.network import OGN, make_model
from ogn.model.normalizer import Statistic
from ogn.train.batches import PairData
from ogn.train.config import RunConfig, TrainConfig
from ogn.train.step import DATA_AXIS, StepSpec, make_test_loss, make_train_chunk


def learning_rate_schedule(c: TrainConfig) -> optax.Schedule:
    """The paper's exponential decay, or a cosine that ends at lr_final exactly at train.steps; either after
    a linear warmup of train.warmup_steps from 0."""
    if c.schedule == "cosine":
        return optax.warmup_cosine_decay_schedule(0.0, c.learning_rate, c.warmup_steps, c.steps, end_value=c.lr_final)
    decay = optax.exponential_decay(c.learning_rate, int(c.lr_decay_steps), c.lr_decay_rate, end_value=c.lr_final)
    if c.warmup_steps == 0:
        return decay
    return optax.join_schedules([optax.linear_schedule(0.0, c.learning_rate, c.warmup_steps), decay], [c.warmup_steps])


def make_optimizer(c: TrainConfig) -> optax.GradientTransformation:
    optimizer = (optax.amsgrad if c.optimizer == "amsgrad" else optax.adam)(learning_rate_schedule(c))
    return optax.chain(optax.clip_by_global_norm(c.grad_clip), optimizer) if c.grad_clip > 0 else optimizer


def data_mesh(devices: int) -> Mesh | None:
    """The one-axis mesh of the first `devices` devices (None for one: no sharding)."""
    if devices == 1:
        return None
    available = jax.devices()
    if len(available) < devices:
        raise ValueError(f"train.devices = {devices}, but JAX sees {len(available)} {available[0].platform} device(s);"
                         " on a CPU, `ogn train --devices N` makes N host devices (or set XLA_FLAGS="
                         f"--xla_force_host_platform_device_count={devices} before starting Python)")
    return Mesh(np.asarray(available[:devices]), (DATA_AXIS,))


class Trainer:
    """Holds the model as pure state and the compiled steps; grows the edge capacity when a graph outgrows it."""

    def __init__(self, config: RunConfig, train: PairData, test: PairData, n_species: int, cutoff: float,
                 capacity: int, step_time: float, species_masses=None):
        self.config, self.train, self.test = config, train, test
        self.cutoff, self.capacity = cutoff, capacity
        model = make_model(n_species, config.model, nnx.Rngs(config.train.seed), step_time, species_masses)
        spread = config.train.noise * train.velocity_spread
        self.noise = (spread * step_time, spread)
        self.graphdef, self.params, self.stats = nnx.split(model, nnx.Param, Statistic)
        self.tx = make_optimizer(config.train)
        self.opt_state = self.tx.init(self.params)
        # the weights' moving average, which the run tests and ships (None: the raw weights are shipped)
        self.ema = self.params if config.train.ema_decay > 0 else None
        self.step = 0
        # a core that is equivariant already gives the same answer under each symmetry: augmenting it costs time
        symmetries = box_symmetries(train.sides) if model.augment else np.eye(3)[None]
        self.symmetries = jnp.asarray(symmetries, jnp.float32)
        self.mesh = data_mesh(config.train.devices)  # None on one device
        self._compile()

    def _compile(self) -> None:
        """The steps for the current edge capacity (shapes are static: a new capacity is a new program)."""
        c = self.config.train
        spec = StepSpec(self.cutoff, self.capacity, self.noise, c.seed, c.velocity_weight, c.ema_decay)
        self._train_chunk = make_train_chunk(self.graphdef, self.tx, spec, self.mesh)
        self._test_loss = make_test_loss(self.graphdef, spec)

    def grow(self, needed: int) -> None:
        self.capacity = with_margin(needed, self.config.train.edge_capacity_margin)
        self._compile()

    def run_steps(self, picks: np.ndarray) -> np.ndarray:
        """Gradient steps on (C, B, 3) picks; a graph that outgrew the capacity -> grow, redo."""
        c = self.config.train
        unroll = c.unroll if self.step >= c.unroll_warmup else 1
        while True:
            params, stats, opt_state, ema, losses, most = self._train_chunk(
                self.params, self.stats, self.opt_state, self.ema, self.train, self.symmetries, self.step,
                jnp.asarray(picks), unroll)
            if int(most) <= self.capacity:
                break
            self.grow(int(most))
        self.params, self.stats, self.opt_state, self.ema = params, stats, opt_state, ema
        self.step += len(picks)
        return np.asarray(losses)

    @property
    def shipped_params(self):
        """The weights the run tests, saves as its model's and rolls out: the moving average when kept."""
        return self.params if self.ema is None else self.ema

    def evaluate(self) -> float:
        """The mean one-prediction loss over the test pairs."""
        while True:
            loss, most = self._test_loss(self.shipped_params, self.stats, self.test, self.symmetries)
            if int(most) <= self.capacity:
                return float(loss)
            self.grow(int(most))

    def model(self) -> OGN:
        return nnx.merge(self.graphdef, self.shipped_params, self.stats)

    def save(self, path: Path, meta: dict) -> None:
        # "params" are always the model's weights (what load_run reads); the raw ones travel for --resume
        trees = {"params": self.shipped_params, "stats": self.stats, "opt_state": self.opt_state}
        if self.ema is not None:
            trees["training_params"] = self.params
        save_checkpoint(path, trees, meta | {"step": self.step})

    def restore(self, path: Path) -> dict:
        meta, arrays = read_checkpoint(path)
        shipped = unflatten(path, "params", self.params, arrays)
        if self.ema is None:
            self.params = shipped
        else:
            self.ema, self.params = shipped, unflatten(path, "training_params", self.params, arrays)
        self.stats = unflatten(path, "stats", self.stats, arrays)
        self.opt_state = unflatten(path, "opt_state", self.opt_state, arrays)
        self.step = int(meta["step"])
        return meta
