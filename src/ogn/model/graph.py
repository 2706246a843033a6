"""Atomic graphs of a periodic configuration: directed edges both ways between atoms closer than r_c.

Edges live in arrays of a fixed capacity so that one compiled function serves every configuration of a
dataset. Padding edges have sender = receiver = N: segment sums drop them (out-of-range ids) and gathers
clip them, so they never reach a node. `n_edges` is the true count; the caller compares it with the
capacity and rebuilds with a larger one, never silently dropping an edge.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ogn.periodic import minimum_image


class Graph(NamedTuple):
    senders: jax.Array  # (E,) int | i of edge e_ij; N on padding
    receivers: jax.Array  # (E,) int | j of edge e_ij; N on padding
    edge_vectors: jax.Array  # (E, 3) | r_j - r_i by minimum image; 0 on padding
    n_edges: jax.Array  # () int | edges within r_c, may exceed E (then the graph is incomplete)


def dense_graph(positions: jax.Array, box, cutoff: float, capacity: int) -> Graph:
    """All pairs closer than `cutoff`, O(N^2): for the small boxes of training sets (N of a few hundred)."""
    n = positions.shape[0]
    vectors = minimum_image(positions[None, :, :] - positions[:, None, :], box)  # [i, j] = r_j - r_i
    within = (jnp.sum(vectors**2, axis=-1) < cutoff**2) & ~jnp.eye(n, dtype=bool)
    senders, receivers = jnp.nonzero(within, size=capacity, fill_value=n)
    real = senders < n
    edge_vectors = jnp.where(real[:, None], vectors[senders.clip(max=n - 1), receivers.clip(max=n - 1)], 0.0)
    return Graph(senders, receivers, edge_vectors, within.sum())


def neighbor_list_graph(positions: jax.Array, box, cutoff: float, neighbor_idx: jax.Array,
                        capacity: int) -> Graph:
    """Graph from a jax-md Sparse neighbor list (pairs within cutoff + skin, padded with N): the pairs within
    `cutoff`, packed into `capacity` slots. The list holds ~1.7 times as many pairs (the skin shell and its
    own spare capacity); packing them keeps the network from running on that padding. `box` None: free
    space, for atoms whose periodic images are atoms of their own (a LAMMPS domain's ghosts)."""
    n = positions.shape[0]
    senders, receivers = neighbor_idx[0], neighbor_idx[1]
    listed = senders < n
    vectors = positions[receivers.clip(max=n - 1)] - positions[senders.clip(max=n - 1)]
    if box is not None:
        vectors = minimum_image(vectors, box)
    real = listed & (jnp.sum(vectors**2, axis=-1) < cutoff**2)
    (slots,) = jnp.nonzero(real, size=capacity, fill_value=real.shape[0])
    kept = slots < real.shape[0]
    slots = slots.clip(max=real.shape[0] - 1)
    return Graph(jnp.where(kept, senders[slots], n), jnp.where(kept, receivers[slots], n),
                 jnp.where(kept[:, None], vectors[slots], 0.0), real.sum())


def with_margin(n_edges: int, margin: float) -> int:
    """Edge slots for a graph of `n_edges` with room to grow by the fraction `margin` - 1 (training and
    rollouts both regrow and redo when it is outgrown)."""
    return int(np.ceil(n_edges * margin)) + 1


def count_edges(positions: np.ndarray, box, cutoff: float) -> np.ndarray:
    """Edges within `cutoff` of each configuration in (F, N, 3) `positions` (to size a capacity)."""

    def count(r):
        vectors = minimum_image(r[None, :, :] - r[:, None, :], box)
        return jnp.sum(jnp.sum(vectors**2, axis=-1) < cutoff**2) - r.shape[0]

    return np.asarray(jax.jit(lambda p: jax.lax.map(count, p, batch_size=16))(jnp.asarray(positions)))
