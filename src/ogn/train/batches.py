"""Training batches: the pairs of a dataset split on the device, and the graphs of the configurations a
gradient step picks (under a random box symmetry, with optional noise and push-forward).

Everything here is a pure function of its arguments: the data (`PairData`, a pytree) travels into the
compiled step as an argument, never as a captured constant, so that a step can be sharded over devices.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ogn.data.dataset import SplitFrames
from ogn.data.symmetry import apply_symmetry
from ogn.model.graph import Graph, dense_graph


@struct.dataclass
class PairData:
    """A split ready for the compiled step: wrapped positions, velocities and [dr, dv] targets in float32."""

    positions: jax.Array  # (T, F, N, 3) wrapped into the box
    velocities: jax.Array  # (T, F, N, 3)
    targets: jax.Array  # (T, F - span, N, 6); float64 differences rounded once
    species: jax.Array  # (N,)
    starts: jax.Array  # (P, 2) the (trajectory, frame) pairs of this split
    box: tuple[float, float, float] = struct.field(pytree_node=False)  # orthorhombic sides
    velocity_spread: float = struct.field(pytree_node=False)  # std of one velocity component over the split
    span: int = struct.field(pytree_node=False)  # frames per prediction (k MD steps / the frame stride)

    @classmethod
    def from_frames(cls, frames: SplitFrames, k: int, starts: np.ndarray | None = None) -> PairData:
        all_starts, span = frames.pair_starts(k), frames.frames_for(k)
        targets = frames.targets(all_starts, k).reshape(frames.n_trajectories, frames.n_frames - span, -1, 6)
        return cls(
            positions=jnp.asarray(np.mod(frames.positions, frames.box), jnp.float32),
            velocities=jnp.asarray(frames.velocities, jnp.float32),
            targets=jnp.asarray(targets, jnp.float32),
            species=jnp.asarray(frames.species),
            starts=jnp.asarray(all_starts if starts is None else starts),
            box=tuple(float(b) for b in frames.box),
            velocity_spread=float(np.std(frames.velocities)),
            span=span,
        )

    @property
    def n_atoms(self) -> int:
        return self.positions.shape[2]

    @property
    def sides(self) -> np.ndarray:
        return np.asarray(self.box)


def configurations(data: PairData, picks: jax.Array, symmetries: jax.Array, noise: tuple[float, float] = (0.0, 0.0),
                   key: jax.Array | None = None, ahead: int = 1):
    """(B, 4) picks of (trajectory, frame, symmetry, reversed) -> (B, N, 3) positions and velocities of the
    starts, and (B, N, 6) the true [dr, dv] from each start to `ahead` predictions (ahead k MD steps) later,
    summed from the float64-rounded one-prediction targets, all under the picked symmetry. A reversed pick
    is the same pair run backwards in time: from (r', -v') to (r, -v), whose change is [-dr, dv] (MD is
    reversible). `noise`: standard deviations (position, velocity) of Gaussian noise added to the starts
    (with `key`); the targets still end on the true state."""
    n = data.n_atoms
    keys = jax.random.split(jax.random.key(0) if key is None else key, picks.shape[0])

    def one(pick, key):
        t, f, s, backwards = pick[0], pick[1], pick[2], pick[3] > 0
        change = data.targets[t, f]
        for j in range(1, ahead):
            change = change + data.targets[t, f + j * data.span]
        start = jnp.where(backwards, f + ahead * data.span, f)
        direction = jnp.where(backwards, -1.0, 1.0).astype(change.dtype)
        change = change * jnp.repeat(jnp.asarray([1.0, 0.0]) * direction + jnp.asarray([0.0, 1.0]), 3)
        positions, velocities, targets = apply_symmetry(symmetries[s], data.sides, data.positions[t, start],
                                                        direction * data.velocities[t, start], change)
        if noise[0] > 0 or noise[1] > 0:
            delta = jax.random.normal(key, (n, 6), targets.dtype) * jnp.repeat(jnp.asarray(noise, targets.dtype), 3)
            positions, velocities = jnp.mod(positions + delta[:, :3], data.sides), velocities + delta[:, 3:]
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
    """(B, 4) picks -> velocities (B N, 3), species (B N,), one disjoint graph of the B configurations,
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
        graph, edges = merged_graph(positions, data.sides, cutoff, capacity)
        dr, dv = predict(velocities.reshape(-1, 3), species, graph)
        change = jnp.concatenate([dr, dv], -1).reshape(b, n, 6)
        positions = jnp.mod(positions + change[..., :3], data.sides)
        velocities, targets, most = velocities + change[..., 3:], targets - change, jnp.maximum(most, edges)
    graph, edges = merged_graph(positions, data.sides, cutoff, capacity)
    return velocities.reshape(-1, 3), species, graph, targets.reshape(-1, 6), jnp.maximum(most, edges)


class Schedule:
    """Which configuration, which symmetry and which direction in time each gradient step sees: a fresh
    permutation of the training pairs, fresh symmetries and fresh reversals every epoch, from (seed, epoch)
    alone, so a resumed run sees the same. `reversal`: the fraction of pairs drawn backwards in time."""

    def __init__(self, n_pairs: int, batch_size: int, seed: int, n_symmetries: int, reversal: float = 0.0):
        self.n_pairs, self.batch_size, self.seed, self.n_symmetries = n_pairs, batch_size, seed, n_symmetries
        self.reversal = reversal
        self._epochs: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _epoch(self, e: int):
        if e not in self._epochs:
            rng = np.random.default_rng([self.seed, e])
            order = rng.permutation(self.n_pairs)
            syms = rng.integers(0, self.n_symmetries, self.n_pairs)
            # drawn only when asked for, so that the paper's runs see the stream they always saw
            backwards = rng.random(self.n_pairs) < self.reversal if self.reversal > 0 else np.zeros(self.n_pairs, bool)
            self._epochs = {e: (order, syms, backwards)}  # only the current epoch is kept
        return self._epochs[e]

    def picks(self, first_step: int, n_steps: int) -> np.ndarray:
        """(n_steps, B, 3): (pair index, symmetry, reversed) for steps first_step .. first_step + n_steps - 1."""
        seq = np.arange(first_step * self.batch_size, (first_step + n_steps) * self.batch_size)
        out = np.empty((len(seq), 3), dtype=np.int64)
        for e in np.unique(seq // self.n_pairs):
            sel = seq // self.n_pairs == e
            order, syms, backwards = self._epoch(int(e))
            pair = order[seq[sel] % self.n_pairs]
            out[sel] = np.stack([pair, syms[pair], backwards[pair]], -1)
        return out.reshape(n_steps, self.batch_size, 3)

    def epoch_of(self, step: int) -> float:
        return step * self.batch_size / self.n_pairs
