"""The compiled training and test steps as pure functions: parameters, statistics, optimizer state and
the data go in as arguments, nothing is captured but the model's structure and the optimizer.

`make_train_chunk` scans a chunk of gradient steps; `make_test_loss` is the mean one-prediction loss over
the test pairs. Both report the most edges any graph needed, so the host can grow the edge capacity and
redo the chunk (never a silently dropped edge).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from ogn.model.normalizer import Statistic
from ogn.train.batches import PairData, batch_graph


@dataclass(frozen=True)
class StepSpec:
    """What a compiled step is specialised on (a new capacity compiles anew)."""

    cutoff: float  # the graph's
    capacity: int  # edge slots per configuration
    noise: tuple[float, float]  # (position, velocity) standard deviations of the input noise
    seed: int  # of the input noise
    velocity_weight: float = 1.0  # of the dv error in the loss
    ema_decay: float = 0.0  # of the weights' moving average; 0: none kept


def ema_update(ema, params, decay: float, step):
    """The moving average after `step` (0-based): its decay ramps up as (1 + step) / (10 + step) until it
    reaches `decay`, so that the average is not dominated by the untrained start (TensorFlow's rule)."""
    d = jnp.minimum(decay, (1.0 + step) / (10.0 + step))
    return jax.tree.map(lambda e, p: d * e + (1 - d) * p, ema, params)


DATA_AXIS = "data"


def make_train_chunk(graphdef, tx: optax.GradientTransformation, spec: StepSpec, mesh: Mesh | None = None):
    """train_chunk(params, stats, opt_state, ema, data, symmetries, first_step, picks, unroll) -> (params, stats,
    opt_state, ema, losses (C,), most edges): C gradient steps on (C, B, 3) picks of (pair index, symmetry,
    reversed); `ema` is the weights' moving average (None when spec.ema_decay is 0).

    With a `mesh` of D devices (data parallel), each device takes B / D configurations of every batch and
    builds their graphs; the gradient is averaged once over the devices, the normalisers fold in the whole
    batch's moments and the edge count is the largest of any device, so the replicas stay identical and the
    step equals the one-device step up to the order of float32 sums. Input noise is drawn per device."""
    noise_key = jax.random.key(spec.seed)
    axis = None if mesh is None else DATA_AXIS
    across = (lambda op, v: v) if axis is None else (lambda op, v: op(v, axis))

    def train_step(unroll, data: PairData, symmetries, carry, step_and_pick):
        params, stats, opt_state, ema = carry
        step, pick = step_and_pick
        picks = jnp.concatenate([data.starts[pick[:, 0]], pick[:, 1:]], -1)
        model = nnx.merge(graphdef, jax.lax.stop_gradient(params), stats)
        key = jax.random.fold_in(noise_key, step)
        if axis is not None:
            key = jax.random.fold_in(key, jax.lax.axis_index(axis))
        velocities, species, graph, targets, most_edges = batch_graph(
            data, picks, symmetries, spec.cutoff, spec.capacity, spec.noise, key, unroll, model.raw_prediction)
        # statistics first: every input is standardised by everything seen so far, itself included
        model.update_statistics(velocities, species, graph, targets, axis)
        stats = nnx.state(model, Statistic)

        def loss_fn(p):
            return nnx.merge(graphdef, p, stats).loss(velocities, species, graph, targets, spec.velocity_weight)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        # the shard_map below runs without replication checks, so nothing is summed behind our back:
        # this mean is the only reduction of the gradient (an extra one would double it, and Adam hides that)
        loss, grads = across(jax.lax.pmean, loss), across(jax.lax.pmean, grads)
        most_edges = across(jax.lax.pmax, most_edges)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        if ema is not None:
            ema = ema_update(ema, params, spec.ema_decay, step)
        return (params, stats, opt_state, ema), (loss, most_edges)

    def chunk(params, stats, opt_state, ema, data, symmetries, first_step, picks, unroll):
        steps = first_step + jnp.arange(picks.shape[0])
        step = functools.partial(train_step, unroll, data, symmetries)
        carry, (losses, edges) = jax.lax.scan(step, (params, stats, opt_state, ema), (steps, picks))
        return *carry, losses, edges.max()

    if mesh is None:
        return jax.jit(chunk, static_argnums=8)

    @functools.partial(jax.jit, static_argnums=8)
    def train_chunk(params, stats, opt_state, ema, data, symmetries, first_step, picks, unroll):
        replicated = P()
        sharded = jax.shard_map(functools.partial(chunk, unroll=unroll), mesh=mesh, check_vma=False,
                                in_specs=(replicated,) * 7 + (P(None, DATA_AXIS),), out_specs=replicated)
        return sharded(params, stats, opt_state, ema, data, symmetries, first_step, picks)

    return train_chunk


def make_test_loss(graphdef, spec: StepSpec):
    """test_loss(params, stats, data, symmetries) -> (mean one-prediction loss over data.starts, most edges),
    every pair under the identity symmetry."""

    @jax.jit
    def test_loss(params, stats, data: PairData, symmetries):
        model = nnx.merge(graphdef, params, stats)

        def one(_, tf):
            picks = jnp.concatenate([tf, jnp.zeros(2, tf.dtype)])[None]  # identity symmetry, forward in time
            velocities, species, graph, targets, most_edges = batch_graph(data, picks, symmetries, spec.cutoff,
                                                                          spec.capacity)
            return None, (model.loss(velocities, species, graph, targets), most_edges)

        _, (losses, edges) = jax.lax.scan(one, None, data.starts)
        return losses.mean(), edges.max()

    return test_loss
