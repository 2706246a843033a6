"""One prediction of a trained model as a step factory, in the shape of jax-md's integrators.

`learned_step(...)` returns a `Simulator` (init_fn, step_fn, refit_fn) over a frozen pytree state:

- `init_fn(positions, velocities, seed=0)` -> SimulatorState, on the host: the graph's neighbor list
  (above DENSE_MAX_ATOMS atoms), its edge capacity, the centre-of-mass velocity every prediction keeps;
- `step_fn(state)` -> (state, StepReport), pure and compiled: one prediction of k MD steps;
- `refit_fn(start, end, most_edges)` -> `start` with room for what overflowed on the way to `end` (a
  neighbor list, or a graph that needed `most_edges` edges), on the host.

Positions stay unwrapped (the graph is built through the periodic displacement, which needs no
wrapping). Every prediction keeps the start's total momentum exactly (`conserve_momentum`). The step never
drops an edge: a graph that outgrew its capacity, or a neighbor list that overflowed, is reported, and the
driver (`ogn.simulator.driver`) redoes the chunk from `refit_fn`'s state. Everything runs in float32
whatever the process's default precision (`network_dtype` only changes the network's weights).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ogn.model.graph import dense_graph, neighbor_list_graph
from ogn.model.network import OGN, with_network_dtype
from ogn.periodic import box_sides

NETWORK_DTYPES = ("float32", "bfloat16")
DENSE_MAX_ATOMS = 2000  # above this, graphs come from jax-md cell lists (no O(N^2) step)
FLOAT = jnp.float32  # the learned simulator's arithmetic


@struct.dataclass
class SimulatorState:
    positions: jax.Array  # (N, 3) float32 | unwrapped
    velocities: jax.Array  # (N, 3) float32
    species: jax.Array  # (N,) int | species index of each atom
    masses: jax.Array  # (N,) float32 | mass of each atom
    neighbor: Any  # jax-md Sparse NeighborList of the graph (cutoff + skin), or None for all pairs
    centre_velocity: jax.Array  # (3,) float32 | the centre-of-mass velocity every prediction keeps
    key: jax.Array  # random key of the thermostat's noise, folded with the prediction's index
    prediction: jax.Array  # () int32 | predictions made since the start
    extra: Any = None  # what step wrappers carry (the energy correction's neighbor list and energy)
    edge_capacity: int = struct.field(pytree_node=False, default=1)  # edge slots of every graph


class StepReport(NamedTuple):
    """What one prediction tells the host (stacked over a chunk by the driver)."""

    edges: jax.Array  # () int | edges the graph needed; 0 once the state is not finite
    overflow: jax.Array  # () bool | a neighbor list overflowed (only while finite: garbage asks for nothing)
    finite: jax.Array  # () bool | the state after this prediction, and every one before, is finite


class Simulator(NamedTuple):
    init_fn: Callable  # (positions, velocities, seed=0) -> SimulatorState
    step_fn: Callable  # SimulatorState -> (SimulatorState, StepReport)
    refit_fn: Callable  # (start, end, most_edges) -> start with room for what overflowed by `end`


def default_skin(cutoff: float, velocities, step_time: float) -> float:
    """The cell list's skin when none is given: twice the distance the start's fastest atom covers in one
    prediction, at least 0.1 and at most 0.5 x the cutoff. With 0.1 x the cutoff alone, one prediction
    outran half the skin and the list was rebuilt at nearly every prediction; this rule was 4-19 % faster
    on all four shipped systems at 10 000 atoms (BENCHMARKS.md). The skin is a speed setting only: the
    list is rebuilt whenever an atom has moved half of it, so no pair is ever dropped."""
    farthest = 2.0 * float(np.max(np.linalg.norm(np.asarray(velocities, np.float64), axis=-1))) * step_time
    # a non-finite start fails its own checks later; its skin must still be a number
    return float(np.clip(farthest, 0.1 * cutoff, 0.5 * cutoff)) if np.isfinite(farthest) else 0.1 * cutoff


def rollout_capacity(n_edges: int) -> int:
    """Edge slots for a rollout's graphs of ~`n_edges` edges. A padding slot costs the network as much as an
    edge, so the margin is waste; it is room for the count to grow by 2 % or by 8 times the square root of
    the count (a Poisson count's standard deviation: large for small graphs), whichever is more. A graph that
    outgrows it redoes its chunk with more room, never dropping an edge. (At ~3e5 edges, 10 000 atoms: 2 %
    of spare slots instead of the 10 % before, 2-3 % faster; BENCHMARKS.md.)"""
    return int(np.ceil(n_edges + max(0.02 * n_edges, 8.0 * np.sqrt(n_edges)))) + 1


def sparse_neighbor_fn(box, cutoff: float, skin: float, capacity_multiplier: float = 1.25):
    from jax_md import partition, space

    box = jnp.asarray(box_sides(box), FLOAT)
    displacement_fn, _ = space.periodic(box)
    return partition.neighbor_list(displacement_fn, box, cutoff, dr_threshold=skin,
                                   capacity_multiplier=capacity_multiplier, format=partition.NeighborListFormat.Sparse)


def graph_of(positions, neighbor, sides, cutoff: float, capacity: int):
    """(graph, updated neighbor list, whether the list overflowed): all pairs without a list, else the list's
    pairs within `cutoff` (the list refreshed first)."""
    if neighbor is None:
        return dense_graph(positions, sides, cutoff, capacity), neighbor, False
    wrapped = jnp.mod(positions, sides)
    neighbor = neighbor.update(wrapped)
    return neighbor_list_graph(wrapped, sides, cutoff, neighbor.idx, capacity), neighbor, neighbor.did_buffer_overflow


def check_atoms(species, masses) -> tuple[jax.Array, np.ndarray]:
    species, masses = jnp.asarray(species), np.asarray(masses, np.float64)
    if masses.shape != species.shape or not np.all(masses > 0):
        raise ValueError(f"need one positive mass per atom, got shape {masses.shape} for {len(species)} atoms")
    return species, masses


def learned_step(model: OGN, box, cutoff: float, species, masses, step_time: float, skin: float | None = None,
                 network_dtype: str = "float32") -> Simulator:
    """The learned map of `model` (graph `cutoff`, predictions of `step_time` = k dt) for these atoms
    ((N,) `species` and `masses`) in the orthorhombic `box`. Graphs come from all pairs up to
    DENSE_MAX_ATOMS atoms, else from a jax-md cell list with `skin` (default: `default_skin`)."""
    if network_dtype not in NETWORK_DTYPES:
        raise ValueError(f"network dtype must be one of {NETWORK_DTYPES}, got {network_dtype!r}")
    if network_dtype != "float32":
        model = with_network_dtype(model, jnp.dtype(network_dtype))
    sides = np.asarray(box_sides(box), np.float32)
    species, masses64 = check_atoms(species, masses)
    neighbor_fns = {}  # the cell list's, made from the first start's velocities when no skin is given

    def init_fn(positions, velocities, seed: int = 0) -> SimulatorState:
        r, v = jnp.asarray(positions, FLOAT), jnp.asarray(velocities, FLOAT)
        neighbor = None
        if len(species) > DENSE_MAX_ATOMS:
            if "fn" not in neighbor_fns:
                neighbor_fns["fn"] = sparse_neighbor_fn(
                    sides, cutoff, default_skin(cutoff, velocities, step_time) if skin is None else skin)
            neighbor = neighbor_fns["fn"].allocate(jnp.mod(r, sides))
        graph, _, _ = graph_of(r, neighbor, sides, cutoff, 1)
        # the start's, in float64 once: chunks must not each re-round it from float32 velocities
        centre = np.einsum("n,nk->k", masses64, np.asarray(velocities, np.float64)) / masses64.sum()
        return SimulatorState(r, v, species, jnp.asarray(masses64, FLOAT), neighbor, jnp.asarray(centre, FLOAT),
                              jax.random.key(seed), jnp.asarray(0, jnp.int32), None, rollout_capacity(int(graph.n_edges)))

    def step_fn(state: SimulatorState) -> tuple[SimulatorState, StepReport]:
        finite = jnp.isfinite(state.positions).all() & jnp.isfinite(state.velocities).all()
        graph, neighbor, overflow = graph_of(state.positions, state.neighbor, sides, cutoff, state.edge_capacity)
        # the weights are captured: constants of the compiled program
        dr, dv = model(state.velocities, state.species, graph, state.masses, step_time, state.centre_velocity)
        r = state.positions + dr.astype(FLOAT)
        v = state.velocities + dv.astype(FLOAT)
        # graphs of non-finite states are garbage: only finite ones may ask for more room
        report = StepReport(jnp.where(finite, graph.n_edges, 0), finite & overflow,
                            finite & jnp.isfinite(r).all() & jnp.isfinite(v).all())
        return state.replace(positions=r, velocities=v, neighbor=neighbor, prediction=state.prediction + 1), report

    def refit_fn(start: SimulatorState, end: SimulatorState, most_edges: int) -> SimulatorState:
        if end.neighbor is not None and bool(end.neighbor.did_buffer_overflow):
            start = start.replace(neighbor=neighbor_fns["fn"].allocate(
                jnp.mod(start.positions, sides), extra_capacity=start.neighbor.idx.shape[1] // 2))
        if most_edges > start.edge_capacity:
            start = start.replace(edge_capacity=rollout_capacity(most_edges))
        return start

    return Simulator(init_fn, step_fn, refit_fn)
