"""The learned simulator: a trained OGN applied again and again, k MD steps per prediction.

The whole rollout is one compiled `lax.scan`. Positions stay unwrapped (the graph is built through the
periodic displacement, which needs no wrapping). After the scan the host checks two things: a graph that
outgrew its edge capacity (the rollout is redone with a larger capacity: never a silently dropped edge) and
a non-finite prediction (a clear error naming the first bad prediction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ogn.model.graph import dense_graph, neighbor_list_graph
from ogn.model.network import OGN


class RolloutError(RuntimeError):
    pass


@dataclass
class Rollout:
    positions: np.ndarray  # (S, N, 3) unwrapped, one frame per prediction (after k, 2k, ... MD steps)
    velocities: np.ndarray  # (S, N, 3)
    steps: np.ndarray  # (S,) MD steps since the start
    edge_capacity: int


DENSE_MAX_ATOMS = 2000  # above this, graphs come from jax-md cell lists (no O(N^2) step)


def _capacity_for(n_edges: int, margin: float = 1.25) -> int:
    return int(np.ceil(n_edges * margin)) + 16


def make_rollout_fn(model: OGN, box: float, cutoff: float, capacity: int, n_predictions: int,
                    neighbor_fn=None) -> Callable:
    """jit-compiled rollout: (positions, velocities, species[, neighbor]) -> per prediction (positions,
    velocities, most edges needed). Without `neighbor_fn` the graph is built by all pairs, O(N^2); with a
    jax-md Sparse `neighbor_fn` (cutoff + skin, cell list) it is the neighbor list's pairs within `cutoff`,
    the list rebuilt only when an atom has moved more than half the skin."""
    graphdef, state = nnx.split(model)

    def step(model, r, v, species, graph):
        dr, dv = model(v, species, graph)
        return r + dr.astype(r.dtype), v + dv.astype(v.dtype)

    if neighbor_fn is None:
        @jax.jit
        def rollout(positions, velocities, species):
            model = nnx.merge(graphdef, state)

            def predict(carry, _):
                r, v = carry
                graph = dense_graph(r, box, cutoff, capacity)
                r, v = step(model, r, v, species, graph)
                return (r, v), (r, v, graph.n_edges)

            _, (rs, vs, edges) = jax.lax.scan(predict, (positions, velocities), None, length=n_predictions)
            return rs, vs, edges.max()

        return rollout

    @jax.jit
    def rollout_nl(positions, velocities, species, neighbor):
        model = nnx.merge(graphdef, state)

        def predict(carry, _):
            r, v, neighbor = carry
            wrapped = jnp.mod(r, box)
            neighbor = neighbor.update(wrapped)
            graph = neighbor_list_graph(wrapped, box, cutoff, neighbor.idx)
            r, v = step(model, r, v, species, graph)
            return (r, v, neighbor), (r, v, neighbor.did_buffer_overflow)

        _, (rs, vs, overflow) = jax.lax.scan(predict, (positions, velocities, neighbor), None, length=n_predictions)
        return rs, vs, overflow.any()

    return rollout_nl


def sparse_neighbor_fn(box: float, cutoff: float, skin: float, capacity_multiplier: float = 1.25):
    from jax_md import partition, space

    displacement_fn, _ = space.periodic(box)
    return partition.neighbor_list(displacement_fn, box, cutoff, dr_threshold=skin,
                                   capacity_multiplier=capacity_multiplier, format=partition.NeighborListFormat.Sparse)


def rollout(
    model: OGN,
    info: dict,
    positions: np.ndarray,
    velocities: np.ndarray,
    species: np.ndarray,
    box: float,
    n_steps: int,
    log: Callable[[str], None] = print,
    skin: float | None = None,
) -> Rollout:
    """Roll the model `n_steps` MD steps (a multiple of its k) from one state. `skin`: of the cell-list
    neighbor list used above DENSE_MAX_ATOMS atoms (default 0.1 r_c)."""
    k = int(info["k"])
    if n_steps < k or n_steps % k:
        raise ValueError(f"--steps counts MD steps and must be a positive multiple of the model's k = {k}, got {n_steps}")
    cutoff = float(info["cutoff"])
    skin = 0.1 * cutoff if skin is None else skin
    if box < 2 * cutoff:
        raise ValueError(f"box {box:.6g} is smaller than twice the graph cutoff {cutoff:.6g}")
    n_species = model.n_species
    species = np.asarray(species)
    if species.min() < 0 or species.max() >= n_species:
        raise ValueError(f"species {int(species.max())} unknown to this model, which knows {n_species} species")
    dtype = jnp.float32
    r0 = jnp.asarray(positions, dtype)
    v0 = jnp.asarray(velocities, dtype)
    n_predictions = n_steps // k
    species = jnp.asarray(species)
    if len(species) <= DENSE_MAX_ATOMS:
        capacity = _capacity_for(int(dense_graph(r0, box, cutoff, 1).n_edges))
        while True:
            rs, vs, most = make_rollout_fn(model, box, cutoff, capacity, n_predictions)(r0, v0, species)
            if int(most) <= capacity:
                break
            log(f"the graph grew to {int(most)} edges, beyond its capacity {capacity}: redoing the rollout")
            capacity = _capacity_for(int(most))
    else:
        neighbor_fn = sparse_neighbor_fn(box, cutoff, skin)
        neighbor = neighbor_fn.allocate(jnp.mod(r0, box))
        fn = make_rollout_fn(model, box, cutoff, None, n_predictions, neighbor_fn)
        while True:
            rs, vs, overflow = fn(r0, v0, species, neighbor)
            if not bool(overflow):
                break
            log("the neighbor list outgrew its capacity: redoing the rollout with a larger one")
            neighbor = neighbor_fn.allocate(jnp.mod(r0, box), extra_capacity=neighbor.idx.shape[1] // 2)
        capacity = int(neighbor.idx.shape[1])
    rs, vs = np.asarray(rs), np.asarray(vs)
    finite = np.isfinite(rs).all(axis=(1, 2)) & np.isfinite(vs).all(axis=(1, 2))
    if not finite.all():
        first = int(np.argmin(finite))
        raise RolloutError(f"non-finite positions or velocities at prediction {first + 1} (MD step {(first + 1) * k});"
                           " the model has left the region it was trained on")
    return Rollout(rs, vs, k * np.arange(1, n_predictions + 1), capacity)
