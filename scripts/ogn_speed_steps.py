"""What each Fast-OGN speed-up buys (issue 5), one at a time, on one preset's liquid at N atoms: the
neighbor-list graph unpacked (the network runs on every slot of the cell list: the skin shell and its spare
room) or packed to the pairs within r_c; the first layer's edge block on [e, e0] or folded onto e0; the node
update's two edge sums as two scatters or one. Then, from the fastest of those, one setting undone at a
time: the first layer's node blocks gathered per edge instead of applied per node; the cell list rebuilt at
every prediction (a skin of 0.001 r_c) instead of when an atom moved half of 0.1 r_c; the network in
bfloat16 (a GPU option). Untrained weights, 100 MD steps, median of 3 after compilation
(`ogn.bench.time_ogn`).

    .venv/bin/python scripts/ogn_speed_steps.py [PRESET] [N]   # writes the `ogn speed steps` section of BENCHMARKS.md
"""

import datetime
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

from ogn import rollout
from ogn.bench import FAST_K, machine_description, prepare_liquid, replace_section, time_ogn
from ogn.md.simulate import set_precision
from ogn.model import network
from ogn.model.graph import neighbor_list_graph
from ogn.model.network import ModelConfig
from ogn.systems import get_system

set_precision("float32")
preset = sys.argv[1] if len(sys.argv) > 1 else "silica"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
base = get_system(preset)
system = base if n <= base.n_atoms else base.scaled(n)
structure = prepare_liquid(system)
k = FAST_K[preset]


def unpacked(positions, box, cutoff, neighbor_idx, capacity):
    return neighbor_list_graph(positions, box, cutoff, neighbor_idx, neighbor_idx.shape[1])


def unfolded(self, edges, edges0, nodes, graph):
    return folded_call(self, edges0 if edges is None else edges, edges0, nodes, graph)


def two_scatters(edges, graph, n):
    return jnp.concatenate([jax.ops.segment_sum(edges, graph.senders, num_segments=n),
                            jax.ops.segment_sum(edges, graph.receivers, num_segments=n)], -1)


folded_call = network.EdgeMLP.__call__
packed = rollout.neighbor_list_graph
one_scatter = network._out_and_in_sums
fastest = (packed, folded_call, one_scatter)
settings = [("unpacked graph, unfolded first layer, two scatters", (unpacked, unfolded, two_scatters), {}),
            ("packed graph, unfolded first layer, two scatters", (packed, unfolded, two_scatters), {}),
            ("packed graph, folded first layer, two scatters", (packed, folded_call, two_scatters), {}),
            ("packed graph, folded first layer, one scatter", fastest, {}),
            ("as above, first layer's node blocks gathered per edge", fastest,
             {"config": ModelConfig(layers=2, edge_first_layer="per-edge")}),
            ("as above (per node), cell list rebuilt at every prediction", fastest,
             {"skin": 0.001 * system.neighbor_cutoff}),
            ("as above (half-skin rebuilds), network in bfloat16", fastest, {"network_dtype": "bfloat16"})]
rows = []
for name, (graph_fn, edge_call, sums), options in settings:
    rollout.neighbor_list_graph, network.EdgeMLP.__call__, network._out_and_in_sums = graph_fn, edge_call, sums
    seconds, edges, _ = time_ogn(system, structure, k, 100, **options)
    rows.append((name, seconds))
    print(f"{name}: {seconds:.3f} s per 100 MD steps", flush=True)
rollout.neighbor_list_graph, network.EdgeMLP.__call__, network._out_and_in_sums = fastest
lines = [
    "## Fast-OGN: what each speed-up buys (`scripts/ogn_speed_steps.py`)",
    "",
    f"- date: {datetime.date.today().isoformat()}; machine: {machine_description()}",
    (f"- command: `.venv/bin/python scripts/ogn_speed_steps.py {preset} {n}`; {preset}, N = {system.n_atoms},"
     f" k = {k}, {edges / system.n_atoms:.0f} edges per atom within r_c; untrained 2-layer Fast-OGN,"
     " float32 unless said; 100 MD steps, median of 3 after compilation"),
    "",
    "| setting | s per 100 MD steps | vs first row | vs all speed-ups (row 4) |",
    "|---|---|---|---|",
] + [f"| {name} | {s:.3f} | {s / rows[0][1]:.2f} | {s / rows[3][1]:.2f} |" for name, s in rows]
replace_section(Path("BENCHMARKS.md"), "ogn speed steps", "\n".join(lines))
