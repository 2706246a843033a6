"""Where one prediction's time goes on a trained run at N atoms (issue 11, BENCHMARKS.md "What limits it
now"): the jax-md neighbor-list update alone, the update plus packing the graph, and the network on a fixed
graph. Each is a compiled scan of 5 predictions (positions advanced by v k dt, so the list rebuilds when an
atom has moved half the skin, as in a rollout), median of 5 calls, in ms per prediction.

    .venv/bin/python studies/prediction_parts.py RUN_DIR [N] [SKIN]   # e.g. models/cuzr-fast-k20 10000
    SKIN: the cell list's, in the system's length unit (default: the rollout's, `ogn.simulator.step.default_skin`)
"""

import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ogn.bench import prepare_liquid
from ogn.model.checkpoint import load_run
from ogn.model.graph import neighbor_list_graph
from ogn.simulator.step import default_skin, rollout_capacity, sparse_neighbor_fn
from ogn.systems import system_from_description

PREDICTIONS = 5


def per_prediction_ms(fn, *args) -> float:
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times)) / PREDICTIONS


def main(run: Path, n: int) -> None:
    model, info, _ = load_run(run)
    system = system_from_description(info["system"]).scaled(n)
    structure = prepare_liquid(system)
    k, cutoff = int(info["k"]), float(info["cutoff"])
    box = jnp.asarray(system.sides, jnp.float32)
    r = jnp.asarray(structure.positions, jnp.float32)
    v = jnp.asarray(structure.velocities, jnp.float32)
    species = jnp.asarray(structure.species)
    masses = jnp.asarray(system.atom_masses(structure.species), jnp.float32)
    skin = float(sys.argv[3]) if len(sys.argv) > 3 else default_skin(cutoff, structure.velocities, k * system.dt)
    neighbor_fn = sparse_neighbor_fn(system.sides, cutoff, skin)  # the rollout's list
    neighbor = neighbor_fn.allocate(jnp.mod(r, box))
    edges = int(neighbor_list_graph(jnp.mod(r, box), box, cutoff, neighbor.idx, 1).n_edges)
    capacity = rollout_capacity(edges)
    step_time = k * system.dt

    def moved(pack: bool):
        @jax.jit
        def run_list(r, neighbor):
            def body(carry, _):
                r, neighbor = carry
                r = r + v * step_time
                wrapped = jnp.mod(r, box)
                neighbor = neighbor.update(wrapped)
                out = (neighbor_list_graph(wrapped, box, cutoff, neighbor.idx, capacity).n_edges if pack
                       else neighbor.idx[0, 0])
                return (r, neighbor), out
            return jax.lax.scan(body, (r, neighbor), jnp.arange(PREDICTIONS))
        return run_list

    graph = neighbor_list_graph(jnp.mod(r, box), box, cutoff, neighbor.idx, capacity)
    graphdef, state = nnx.split(model)

    @jax.jit
    def network(v):
        m = nnx.merge(graphdef, state)

        def body(v, _):
            dr, dv = m(v, species, graph, masses, step_time, jnp.zeros(3))
            return v + 1e-6 * dv, dr[0, 0]  # a tiny change, so that no prediction can be skipped
        return jax.lax.scan(body, v, jnp.arange(PREDICTIONS))

    print(f"{run} N = {system.n_atoms}, skin {skin:.3g}: {edges} edges, {neighbor.idx.shape[1]} listed pairs; ms per prediction:"
          f" neighbor-list update {per_prediction_ms(moved(False), r, neighbor):.1f},"
          f" update + packing {per_prediction_ms(moved(True), r, neighbor):.1f},"
          f" network {per_prediction_ms(network, v):.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 10_000)
