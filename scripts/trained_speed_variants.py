"""Rollout settings on a trained run at N atoms (issues 5 and 11, BENCHMARKS.md "Notes on the rollout table"):
the graph's edge slots (`rollout_capacity`: 2 % or 8 sqrt(E) of room, against the fixed 10 % before), the node
update's edge sums as one scatter (the default) or two, the cell list's skin as fractions of the cutoff, and
`rollout.default_skin` (rule) against the fixed 0.1 x cutoff it replaced. Each is the median of 5
timed 100-MD-step runs after compilation (`ogn.bench.time_ogn`); pairs are timed twice, in alternation, to
show the run-to-run noise.

    .venv/bin/python scripts/trained_speed_variants.py [RUN_DIR] [N] [PARTS]   # default models/cuzr-fast-k20 10000
    PARTS: a comma-separated subset of slots,scatter,skin,rule (default all)
"""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

from ogn import rollout as rollout_module
from ogn.bench import prepare_liquid, time_ogn
from ogn.md.simulate import set_precision
from ogn.model import network
from ogn.model.graph import with_margin
from ogn.systems import system_from_description

set_precision("float32")
run = Path(sys.argv[1] if len(sys.argv) > 1 else "models/cuzr-fast-k20")
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
info = json.loads((run / "run.json").read_text())
base = system_from_description(info["system"])
system = base if n <= base.n_atoms else base.scaled(n)
structure = prepare_liquid(system)
k, cutoff = int(info["k"]), float(info["cutoff"])
parts = sys.argv[3].split(",") if len(sys.argv) > 3 else ["slots", "scatter", "skin", "rule"]


def ten_percent(n_edges):  # the rule before 2026-11-27
    return with_margin(n_edges, 1.1)


if "slots" in parts:
    scaled = rollout_module.rollout_capacity
    for name, capacity in (("slots 2 % / 8 sqrt(E)", scaled), ("slots 10 %", ten_percent)) * 2:
        rollout_module.rollout_capacity = capacity
        seconds, edges, _ = time_ogn(system, structure, k, 100, run=run, repeats=5)
        print(f"{run} N = {system.n_atoms}, {name} ({capacity(edges)} slots for {edges} edges): {seconds:.3f} s"
              " per 100 MD steps", flush=True)
    rollout_module.rollout_capacity = scaled


def two_scatters(edges, graph, n):
    return jnp.concatenate([jax.ops.segment_sum(edges, graph.senders, num_segments=n),
                            jax.ops.segment_sum(edges, graph.receivers, num_segments=n)], -1)


one_scatter = network._out_and_in_sums
for name, sums in (("one scatter", one_scatter), ("two scatters", two_scatters)) * 2 if "scatter" in parts else ():
    network._out_and_in_sums = sums
    seconds, _, _ = time_ogn(system, structure, k, 100, run=run, repeats=5)
    print(f"{run} N = {system.n_atoms}, {name}: {seconds:.3f} s per 100 MD steps", flush=True)
network._out_and_in_sums = one_scatter
for fraction in (0.05, 0.1, 0.2, 0.3) if "skin" in parts else ():
    seconds, _, _ = time_ogn(system, structure, k, 100, run=run, repeats=5, skin=fraction * cutoff)
    print(f"{run} N = {system.n_atoms}, skin {fraction} x {cutoff:g}: {seconds:.3f} s per 100 MD steps", flush=True)
rule = rollout_module.default_skin(cutoff, structure.velocities, k * system.dt)
for skin in (0.1 * cutoff, rule) * 2 if "rule" in parts else ():
    seconds, _, _ = time_ogn(system, structure, k, 100, run=run, repeats=5, skin=skin)
    print(f"{run} N = {system.n_atoms}, skin {skin:.3f} ({skin / cutoff:.2f} x cutoff{', rule' if skin == rule else ''}):"
          f" {seconds:.3f} s per 100 MD steps", flush=True)
