"""Two rollout settings on a trained run at N atoms (issue 5, BENCHMARKS.md "Notes on the rollout table"): the
node update's edge sums as one scatter (the default) or two, and the cell list's skin. Each is the median of
5 timed 100-MD-step runs after compilation (`ogn.bench.time_ogn`); the scatter pair is timed twice, in
alternation, to show the run-to-run noise.

    .venv/bin/python scripts/trained_speed_variants.py [RUN_DIR] [N]   # default models/cuzr-fast-k20 10000
"""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

from ogn.bench import prepare_liquid, time_ogn
from ogn.md.simulate import set_precision
from ogn.model import network
from ogn.systems import system_from_description

set_precision("float32")
run = Path(sys.argv[1] if len(sys.argv) > 1 else "models/cuzr-fast-k20")
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
info = json.loads((run / "run.json").read_text())
base = system_from_description(info["system"])
system = base if n <= base.n_atoms else base.scaled(n)
structure = prepare_liquid(system)
k, cutoff = int(info["k"]), float(info["cutoff"])


def two_scatters(edges, graph, n):
    return jnp.concatenate([jax.ops.segment_sum(edges, graph.senders, num_segments=n),
                            jax.ops.segment_sum(edges, graph.receivers, num_segments=n)], -1)


one_scatter = network._out_and_in_sums
for name, sums in (("one scatter", one_scatter), ("two scatters", two_scatters)) * 2:
    network._out_and_in_sums = sums
    seconds, _, _ = time_ogn(system, structure, k, 100, run=run, repeats=5)
    print(f"{run} N = {system.n_atoms}, {name}: {seconds:.3f} s per 100 MD steps", flush=True)
network._out_and_in_sums = one_scatter
for fraction in (0.05, 0.1, 0.2, 0.3):
    seconds, _, _ = time_ogn(system, structure, k, 100, run=run, repeats=5, skin=fraction * cutoff)
    print(f"{run} N = {system.n_atoms}, skin {fraction} x {cutoff:g}: {seconds:.3f} s per 100 MD steps", flush=True)
