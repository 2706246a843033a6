"""The trainer: the model as pure state (parameters, normaliser statistics, optimizer state), the compiled
steps, the edge capacity they are compiled for, and checkpoints."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ogn.data.symmetry import box_symmetries
from ogn.model.checkpoint import read_checkpoint, save_checkpoint, unflatten
from ogn.model.graph import with_margin
from ogn.model.network import OGN, make_model
from ogn.model.normalizer import Statistic
from ogn.train.batches import PairData
from ogn.train.config import RunConfig, TrainConfig
from ogn.train.step import StepSpec, make_test_loss, make_train_chunk


def learning_rate_schedule(c: TrainConfig) -> optax.Schedule:
    return optax.exponential_decay(c.learning_rate, int(c.lr_decay_steps), c.lr_decay_rate, end_value=c.lr_final)


def make_optimizer(c: TrainConfig) -> optax.GradientTransformation:
    return optax.adam(learning_rate_schedule(c))


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
        self.step = 0
        # a core that is equivariant already gives the same answer under each symmetry: augmenting it costs time
        symmetries = box_symmetries(train.sides) if model.augment else np.eye(3)[None]
        self.symmetries = jnp.asarray(symmetries, jnp.float32)
        self._compile()

    def _compile(self) -> None:
        """The steps for the current edge capacity (shapes are static: a new capacity is a new program)."""
        spec = StepSpec(self.cutoff, self.capacity, self.noise, self.config.train.seed)
        self._train_chunk = make_train_chunk(self.graphdef, self.tx, spec)
        self._test_loss = make_test_loss(self.graphdef, spec)

    def grow(self, needed: int) -> None:
        self.capacity = with_margin(needed, self.config.train.edge_capacity_margin)
        self._compile()

    def run_steps(self, picks: np.ndarray) -> np.ndarray:
        """Gradient steps on (C, B, 2) picks; a graph that outgrew the capacity -> grow, redo."""
        c = self.config.train
        unroll = c.unroll if self.step >= c.unroll_warmup else 1
        while True:
            params, stats, opt_state, losses, most = self._train_chunk(
                self.params, self.stats, self.opt_state, self.train, self.symmetries, self.step, jnp.asarray(picks),
                unroll)
            if int(most) <= self.capacity:
                break
            self.grow(int(most))
        self.params, self.stats, self.opt_state = params, stats, opt_state
        self.step += len(picks)
        return np.asarray(losses)

    def evaluate(self) -> float:
        """The mean one-prediction loss over the test pairs."""
        while True:
            loss, most = self._test_loss(self.params, self.stats, self.test, self.symmetries)
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
