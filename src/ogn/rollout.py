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

from ogn.model.graph import dense_graph, neighbor_list_graph, with_margin
from ogn.model.network import OGN, with_network_dtype


class RolloutError(RuntimeError):
    pass


@dataclass
class Rollout:
    positions: np.ndarray  # (S, N, 3) unwrapped, one frame per prediction (after k, 2k, ... MD steps)
    velocities: np.ndarray  # (S, N, 3)
    steps: np.ndarray  # (S,) MD steps since the start
    edge_capacity: int


NETWORK_DTYPES = ("float32", "bfloat16")
DENSE_MAX_ATOMS = 2000  # above this, graphs come from jax-md cell lists (no O(N^2) step)
ROLLOUT_EDGE_MARGIN = 1.1  # edge slots per edge of the first graph


def make_rollout_fn(model: OGN, box: float, cutoff: float, capacity: int, n_predictions: int, step_time: float,
                    neighbor_fn=None) -> Callable:
    """jit-compiled rollout: (positions, velocities, species, masses[, neighbor]) -> per prediction positions and
    velocities, the most edges any graph needed, and whether the neighbor list overflowed. Without
    `neighbor_fn` the graph is built from all pairs, O(N^2); with a jax-md Sparse `neighbor_fn` (cutoff +
    skin, cell list) it is the list's pairs within `cutoff`, the list rebuilt only when an atom has moved
    more than half the skin. Either way the graph has `capacity` edge slots."""
    graphdef, state = nnx.split(model)

    def step(model, r, v, species, masses, graph, centre_velocity):
        dr, dv = model(v, species, graph, masses, step_time, centre_velocity)
        return r + dr.astype(r.dtype), v + dv.astype(v.dtype)

    @jax.jit
    def rollout(positions, velocities, species, masses, neighbor=None):
        model = nnx.merge(graphdef, state)
        centre_velocity = jnp.sum(masses[:, None] * velocities, axis=0) / jnp.sum(masses)  # conserved

        def predict(carry, _):
            r, v, neighbor, finite = carry
            if neighbor is None:
                graph, overflow = dense_graph(r, box, cutoff, capacity), False
            else:
                wrapped = jnp.mod(r, box)
                neighbor = neighbor.update(wrapped)
                graph = neighbor_list_graph(wrapped, box, cutoff, neighbor.idx, capacity)
                overflow = neighbor.did_buffer_overflow
            # graphs of non-finite states are garbage: only finite ones may ask for more room
            edges, overflow = jnp.where(finite, graph.n_edges, 0), finite & overflow
            r, v = step(model, r, v, species, masses, graph, centre_velocity)
            finite = finite & jnp.isfinite(r).all() & jnp.isfinite(v).all()
            return (r, v, neighbor, finite), (r, v, edges, overflow)

        carry = (positions, velocities, neighbor, jnp.asarray(True))
        _, (rs, vs, edges, overflow) = jax.lax.scan(predict, carry, None, length=n_predictions)
        return rs, vs, edges.max(), jnp.any(overflow)

    return rollout


def sparse_neighbor_fn(box: float, cutoff: float, skin: float, capacity_multiplier: float = 1.25):
    from jax_md import partition, space

    displacement_fn, _ = space.periodic(box)
    return partition.neighbor_list(displacement_fn, box, cutoff, dr_threshold=skin,
                                   capacity_multiplier=capacity_multiplier, format=partition.NeighborListFormat.Sparse)


class CompiledRollout:
    """`n_predictions` predictions of `model` from any state of these atoms, compiled once and reusable
    (`ogn rollout`, `ogn bench rollout`). A run whose graph outgrew its edge capacity, or whose neighbor
    list overflowed, is redone with more room: no edge is ever dropped. `network_dtype` "bfloat16" runs
    the network (not the normalisers, graphs or positions) in bfloat16, an option for GPUs."""

    def __init__(self, model: OGN, box: float, cutoff: float, species, masses, step_time: float,
                 n_predictions: int, skin: float | None = None, log: Callable[[str], None] = print,
                 network_dtype: str = "float32"):
        if network_dtype not in NETWORK_DTYPES:
            raise ValueError(f"network dtype must be one of {NETWORK_DTYPES}, got {network_dtype!r}")
        if network_dtype != "float32":
            model = with_network_dtype(model, jnp.dtype(network_dtype))
        self.model, self.box, self.cutoff, self.n_predictions, self.log = model, box, cutoff, n_predictions, log
        self.species = jnp.asarray(species)
        self.masses = jnp.asarray(masses, jnp.float32)  # (N,) per atom
        if self.masses.shape != self.species.shape or not bool(jnp.all(self.masses > 0)):
            raise ValueError(f"need one positive mass per atom, got shape {self.masses.shape} for {len(species)} atoms")
        self.step_time = step_time
        self.dense = len(self.species) <= DENSE_MAX_ATOMS
        self.neighbor_fn = None if self.dense else sparse_neighbor_fn(box, cutoff, 0.1 * cutoff if skin is None else skin)
        self.neighbor = None
        self.edge_capacity = None
        self._fn = None

    def edges_now(self, r) -> int:
        if self.dense:
            return int(dense_graph(r, self.box, self.cutoff, 1).n_edges)
        return int(neighbor_list_graph(jnp.mod(r, self.box), self.box, self.cutoff, self.neighbor.idx, 1).n_edges)

    def _compile(self, capacity: int) -> None:
        self.edge_capacity = capacity
        self._fn = make_rollout_fn(self.model, self.box, self.cutoff, capacity, self.n_predictions,
                                   self.step_time, self.neighbor_fn)

    def __call__(self, positions: jax.Array, velocities: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(S, N, 3) positions (unwrapped) and velocities after each prediction."""
        if self.neighbor_fn is not None and self.neighbor is None:
            self.neighbor = self.neighbor_fn.allocate(jnp.mod(positions, self.box))
        if self._fn is None:
            self._compile(with_margin(self.edges_now(positions), ROLLOUT_EDGE_MARGIN))
        while True:
            rs, vs, most, overflow = self._fn(positions, velocities, self.species, self.masses, self.neighbor)
            if bool(overflow):
                self.log("the neighbor list outgrew its capacity: redoing the rollout with a larger one")
                self.neighbor = self.neighbor_fn.allocate(jnp.mod(positions, self.box),
                                                          extra_capacity=self.neighbor.idx.shape[1] // 2)
            elif int(most) > self.edge_capacity:
                self.log(f"the graph grew to {int(most)} edges, beyond its capacity {self.edge_capacity}:"
                         " redoing the rollout")
                self._compile(with_margin(int(most), ROLLOUT_EDGE_MARGIN))
            else:
                return rs, vs


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
    network_dtype: str = "float32",
) -> Rollout:
    """Roll the model `n_steps` MD steps (a multiple of its k) from one state. `skin`: of the cell-list
    neighbor list used above DENSE_MAX_ATOMS atoms (default 0.1 r_c); `network_dtype`: see CompiledRollout."""
    k = int(info["k"])
    if n_steps < k or n_steps % k:
        raise ValueError(f"--steps counts MD steps and must be a positive multiple of the model's k = {k}, got {n_steps}")
    cutoff = float(info["cutoff"])
    if box < 2 * cutoff:
        raise ValueError(f"box {box:.6g} is smaller than twice the graph cutoff {cutoff:.6g}")
    n_species = model.n_species
    species = np.asarray(species)
    if species.min() < 0 or species.max() >= n_species:
        raise ValueError(f"species {int(species.max())} unknown to this model, which knows {n_species} species")
    n_predictions = n_steps // k
    masses = np.asarray(info["system"]["masses"], np.float64)[species]
    step_time = k * float(info["dt"])
    simulate = CompiledRollout(model, box, cutoff, species, masses, step_time, n_predictions, skin, log, network_dtype)
    rs, vs = simulate(jnp.asarray(positions, jnp.float32), jnp.asarray(velocities, jnp.float32))
    rs, vs = np.asarray(rs), np.asarray(vs)
    finite = np.isfinite(rs).all(axis=(1, 2)) & np.isfinite(vs).all(axis=(1, 2))
    if not finite.all():
        first = int(np.argmin(finite))
        raise RolloutError(f"non-finite positions or velocities at prediction {first + 1} (MD step {(first + 1) * k});"
                           " the model has left the region it was trained on")
    return Rollout(rs, vs, k * np.arange(1, n_predictions + 1), simulate.edge_capacity)
