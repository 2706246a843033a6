"""`ogn bench rollout`: wall time of MD steps by the learned simulator against jax MD and LAMMPS, per
preset and size, as users run them (the driver, and `ogn rollout` as a whole command)."""

from __future__ import annotations

import datetime
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ogn.bench.common import machine_description, prepare_liquid, replace_section, time_jax, time_lammps
from ogn.io.types import Structure


def prediction_flops(model, velocities, species, graph) -> float:
    """XLA's count of the floating-point operations of one prediction of `model` on `graph` (any registered
    network)."""
    import jax
    import jax.numpy as jnp

    v, s = jnp.asarray(velocities, jnp.float32), jnp.asarray(species)
    compiled = jax.jit(lambda v, g: model.raw_prediction(v, s, g)).lower(v, graph).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost.get("flops", float("nan")))


def start_graph(start, box, cutoff: float):
    """The graph of a learned simulator's start state, with exactly as many slots as edges."""
    import jax.numpy as jnp

    from ogn.model.graph import dense_graph, neighbor_list_graph

    sides = np.asarray(box, np.float32)
    if start.neighbor is None:
        build = lambda capacity: dense_graph(start.positions, sides, cutoff, capacity)
    else:
        wrapped = jnp.mod(start.positions, sides)
        build = lambda capacity: neighbor_list_graph(wrapped, sides, cutoff, start.neighbor.idx, capacity)
    return build(int(build(1).n_edges))


def untrained_fast_ogn(system, k: int, config=None):
    """(model, ModelConfig) of an untrained Fast-OGN (`config`, default 2 layers) whose displacements are
    scaled to the thermal ones, sqrt(kB T / m) k dt per prediction, so atoms move (and lists are rebuilt)
    about as often as in a liquid. Its cost does not depend on the weights, but it does on how often the
    graph is rebuilt."""
    import jax.numpy as jnp
    from flax import nnx

    from ogn.evaluate.metrics import velocity_scale
    from ogn.model.config import ModelConfig
    from ogn.model.network import OGN

    config = config or ModelConfig(layers=2)
    model = OGN(system.n_species, config, nnx.Rngs(0))
    model.target_normalizer.count[...] = jnp.asarray(1.0)
    speed = velocity_scale(system)
    model.target_normalizer.m2[...] = jnp.asarray([(speed * k * system.dt) ** 2] * 3 + [(1e-3 * speed) ** 2] * 3,
                                                  jnp.float32)
    return model, config


def run_info(system, k: int, cutoff: float) -> dict:
    """The run description a learned simulator needs, for an untrained model of `system`."""
    return {"k": k, "dt": system.dt, "cutoff": cutoff, "system": system.describe(), "dataset_spec": {}}


def time_ogn(system, structure: Structure, k: int, md_steps: int, config=None, run: str | Path | None = None,
             repeats: int = 3, network_dtype: str = "float32", skin: float | None = None) -> tuple[float, int, float]:
    """Seconds for `md_steps` MD steps (md_steps / k predictions) through the learned simulator's driver,
    compiled, median of `repeats`; the graph's edges at the start and XLA's floating-point operations per
    prediction. The network is an untrained Fast-OGN on the system's r_c (`untrained_fast_ogn`, `config` its
    ModelConfig), or with `run` that trained run's model, with its weights, graph cutoff and k. `skin`: the
    cell list's (`ogn.simulator.step.default_skin` when None)."""
    import jax

    from ogn.simulator import LearnedSimulator, RolloutConfig

    if run is None:
        model, config = untrained_fast_ogn(system, k, config)
        info = run_info(system, k, system.neighbor_cutoff)
    else:
        from ogn.model.checkpoint import load_run

        model, info, config = load_run(run)
        if info["system"]["name"] != system.name:
            raise ValueError(f"{run} was trained on {info['system']['name']!r}, not {system.name!r}")
    cutoff = float(info["cutoff"])
    simulator = LearnedSimulator(model, info, structure.species, system.box,
                                 RolloutConfig(network_dtype=network_dtype, skin=skin), log=lambda m: None)
    start = simulator.start(structure.positions, structure.velocities)
    call = lambda: jax.block_until_ready(simulator.driver.run(start, md_steps // simulator.k).positions)
    call()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    graph = start_graph(start, system.box, cutoff)
    flops = prediction_flops(model, structure.velocities, structure.species, graph)
    return float(np.median(times)), int(graph.n_edges), flops


def time_ogn_command(run: str | Path, system, structure: Structure, md_steps: int,
                     options: tuple[str, ...] = ()) -> tuple[float, float]:
    """What a user waits for: `ogn rollout RUN --init DATA --steps S --out FILE.h5` as a whole command (its own
    process: imports, checks, compilation, the rollout, writing every frame), run for S = 2 md_steps and
    4 md_steps MD steps, each twice (the second finds the persistent compilation cache warm). Returns
    (steady seconds per `md_steps` MD steps = (t(4 md_steps) - t(2 md_steps)) / 2, start-up seconds =
    t(2 md_steps) minus its steady part), from the second runs. `options`: more `ogn rollout` options."""
    import subprocess

    from ogn.io.lammps_data import write_lammps_data

    with tempfile.TemporaryDirectory(prefix="ogn-bench-") as tmp:
        data = Path(tmp) / "start.data"
        write_lammps_data(data, structure, system.masses)
        wall = {}
        for steps in (2 * md_steps, 4 * md_steps):
            command = [sys.executable, "-m", "ogn.cli", "rollout", str(run), "--init", str(data), "--steps", str(steps),
                       "--out", str(Path(tmp) / "rollout.h5"), *options]
            for _ in range(2):
                t0 = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                wall[steps] = time.perf_counter() - t0
                if done.returncode:
                    raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    per_md_steps = (wall[4 * md_steps] - wall[2 * md_steps]) / 2
    return per_md_steps, wall[2 * md_steps] - 2 * per_md_steps


# the untrained Fast-OGN's k per preset (the paper's Fast-OGN strides); a trained run brings its own
FAST_K = {"lj": 5, "lj-ka": 5, "silica": 10, "silicon": 10, "cuzr": 10}


def shipped_runs(presets, models_dir: str | Path | None = None) -> dict[str, Path]:
    """The shipped Fast-OGN of each preset that has one: models/PRESET-fast-kK, whatever its k."""
    from ogn.model.checkpoint import SHIPPED_MODELS

    models_dir = SHIPPED_MODELS if models_dir is None else Path(models_dir)
    found = {p: sorted(d for d in models_dir.glob(f"{p}-fast-k*") if (d / "run.json").is_file()) for p in presets}
    return {p: dirs[0] for p, dirs in found.items() if dirs}


def bench_rollout(presets, sizes, md_steps=100, threads=None, out="BENCHMARKS.md", figures_dir=".", log=print,
                  runs: dict | None = None, network_dtype: str = "float32"):
    """Wall time of `md_steps` MD steps: jax MD at dt, LAMMPS at dt (1 and `threads` threads), the untrained
    Fast-OGN on the paper's graph (r_c) at k, and the trained run in `runs[preset]` (if any) at its k."""
    from ogn.systems import get_system

    threads = threads or os.cpu_count()
    runs = runs or {}
    rows = []
    for preset in presets:
        base = get_system(preset)
        for n in sizes:
            system = base if n <= base.n_atoms else base.scaled(n)
            row = rollout_row(preset, system, md_steps, threads, runs.get(preset), network_dtype)
            log(" ".join(f"{a}={b:.4g}" if isinstance(b, float) else f"{a}={b}" for a, b in row.items()))
            rows.append(row)
    complexity = complexity_index(rows, presets)
    _rollout_figures(rows, complexity, Path(figures_dir), threads)
    lines = rollout_header(md_steps, threads, runs, network_dtype) + [rollout_line(r) for r in rows]
    if complexity:
        lines += ["", "Complexity index: " + ", ".join(f"{p} {c:.2f}" for p, c in complexity.items()),
                  "", "![Fig. 4C](bench-rollout-4c.png) ![Fig. 4D](bench-rollout-4d.png)"]
    replace_section(Path(out), "bench rollout", "\n".join(lines))
    return rows


def rollout_row(preset: str, system, md_steps: int, threads: int, run, network_dtype: str) -> dict:
    """Every timing of one preset and size, from one liquid start."""
    structure = prepare_liquid(system)
    k, n = FAST_K[preset], system.n_atoms
    row = {"preset": preset, "n_atoms": n, "k": k}
    row["jax_md"] = time_jax(system, structure, md_steps) * 1e-6 * md_steps * n
    row["lammps_1"] = time_lammps(system, structure, md_steps, 1) * 1e-6 * md_steps * n
    row["lammps_n"] = time_lammps(system, structure, md_steps, threads) * 1e-6 * md_steps * n
    row["ogn"], edges, flops = time_ogn(system, structure, k, md_steps, network_dtype=network_dtype)
    row["edges_per_atom"] = edges / n
    row["ogn_gflops"] = flops * (md_steps // k) / row["ogn"] / 1e9
    if run is not None:
        row["run"], edges, _ = time_ogn(system, structure, k, md_steps, run=run, network_dtype=network_dtype)
        row["run_edges_per_atom"] = edges / n
        row["run_k"] = int(json.loads((Path(run) / "run.json").read_text())["k"])
        row["command"], row["startup"] = time_ogn_command(run, system, structure, md_steps)
    return row


def complexity_index(rows: list[dict], presets) -> dict[str, float]:
    """LAMMPS's (1 thread) time per atom-step at each preset's smallest size, relative to LJ's."""
    lj_cost = {r["n_atoms"]: r["lammps_1"] for r in rows if r["preset"] == "lj"}
    if not lj_cost:
        return {}
    lj_per_atom = lj_cost[min(lj_cost)] / min(lj_cost)
    smallest = {p: min(r["n_atoms"] for r in rows if r["preset"] == p) for p in presets}
    return {p: next(r for r in rows if r["preset"] == p and r["n_atoms"] == smallest[p])["lammps_1"] / smallest[p]
            / lj_per_atom for p in presets}


def rollout_header(md_steps: int, threads: int, runs: dict, network_dtype: str) -> list[str]:
    import jax

    return [
        "## Learned simulator vs MD: wall time of 100 MD steps (`ogn bench rollout`)",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {machine_description()}",
        f"- command: `ogn bench rollout {' '.join(shlex.quote(a) for a in sys.argv[3:])}`".replace("  ", " "),
        (f"- jax {jax.__version__} on {jax.devices()[0].platform} ({jax.devices()[0].device_kind}), float32 (jax MD;"
         f" Fast-OGN networks in {network_dtype}); LAMMPS double"),
        (f"- Fast-OGN: 2 MPNN layers, UNTRAINED weights (the cost does not depend on them), {md_steps} MD steps ="
         f" {md_steps} / k predictions through the learned simulator's driver, median of 3 after compilation; graphs"
         " by all pairs up to 2000 atoms, by cell lists above (skin: `ogn.simulator.step.default_skin`; rebuilt when"
         " an atom moved half of it)"),
        f"- LAMMPS: `run {md_steps}` after setup, 1 thread and {threads} OpenMP threads",
        ("- edges/atom: the Fast-OGN graph's at the start; GFLOP/s: XLA's count of the floating-point operations of"
         " one prediction (cost analysis of the compiled network) per second of the rollout"),
        ("- complexity index: LAMMPS (1 thread) time per atom-step at the smallest size relative to LJ's"
         " (the issue's 100-atom energy evaluation is not possible: boxes below 2 r_c)"),
        ("- trained run: " + ", ".join(f"{p} `{d}`" for p, d in runs.items()) + "; its trained weights, graph"
         " cutoff and k, timed the same way") if runs else "- trained run: none given",
        "",
        (f"- `ogn rollout` (the trained run as a user runs it): the whole command in its own process, steady"
         f" time per {md_steps} MD steps = (t({4 * md_steps} steps) - t({2 * md_steps} steps)) / 2, and its start-up"
         " (imports, checks, compilation, I/O) = t(2 x) minus that; second runs of each, persistent compilation"
         " cache warm; every prediction written (float32)"),
        "",
        (f"| preset | atoms | k | jax MD (s) | LAMMPS 1 thread (s) | LAMMPS {threads} threads (s) | Fast-OGN (s)"
         f" | OGN / LAMMPS {threads} thr | OGN / jax MD | edges/atom | OGN GFLOP/s | run k | trained run (s)"
         f" | run / LAMMPS {threads} thr | run / jax MD | run edges/atom | `ogn rollout` (s)"
         f" | `ogn rollout` / LAMMPS {threads} thr | start-up (s) |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]


def rollout_line(r: dict) -> str:
    run = (f" {r['run_k']} | {r['run']:.4g} | {r['run'] / r['lammps_n']:.2f} | {r['run'] / r['jax_md']:.2f} |"
           f" {r['run_edges_per_atom']:.0f} | {r['command']:.4g} | {r['command'] / r['lammps_n']:.2f} |"
           f" {r['startup']:.3g} |") if "run" in r else " - | - | - | - | - | - | - | - |"
    return (f"| {r['preset']} | {r['n_atoms']} | {r['k']} | {r['jax_md']:.4g} | {r['lammps_1']:.4g} |"
            f" {r['lammps_n']:.4g} | {r['ogn']:.4g} | {r['ogn'] / r['lammps_n']:.2f} |"
            f" {r['ogn'] / r['jax_md']:.2f} | {r['edges_per_atom']:.0f} | {r['ogn_gflops']:.0f} |" + run)


def _rollout_figures(rows, complexity, figures_dir: Path, threads: int) -> None:
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry

    presets = sorted({r["preset"] for r in rows}, key=[r["preset"] for r in rows].index)
    fig = Figure(figsize=(4 * len(presets), 3.5), layout="constrained")
    axes = fig.subplots(1, len(presets), squeeze=False)
    for ax, p in zip(axes[0], presets):
        rs = [r for r in rows if r["preset"] == p]
        n = [r["n_atoms"] for r in rs]
        for key, label in (("jax_md", "jax MD (dt)"), ("lammps_1", "LAMMPS 1 thread"),
                           ("lammps_n", f"LAMMPS {threads} threads"), ("ogn", "Fast-OGN, r_c graph (k dt)"),
                           ("run", "trained run (k dt)")):
            if all(key in r for r in rs):
                ax.loglog(n, [r[key] for r in rs], "o-", label=label)
        ax.set(title=p, xlabel="atoms", ylabel="s per 100 MD steps")
    axes[0][0].legend(fontsize=7)
    fig.savefig(figures_dir / "bench-rollout-4c.png", dpi=110)
    if not complexity:
        return
    largest = {p: max((r for r in rows if r["preset"] == p), key=lambda r: r["n_atoms"]) for p in presets}
    fig = Figure(figsize=(4.5, 3.5), layout="constrained")
    ax = fig.subplots()
    for key, label in (("jax_md", "jax MD"), ("lammps_n", f"LAMMPS {threads} thr"), ("ogn", "Fast-OGN, r_c graph"),
                       ("run", "trained run")):
        shown = [p for p in presets if key in largest[p]]
        ax.semilogy([complexity[p] for p in shown], [largest[p][key] for p in shown], "o", label=label)
    for p in presets:
        ax.annotate(p, (complexity[p], largest[p]["ogn"]), fontsize=7)
    ax.set(xlabel="complexity index (cost per atom-step / LJ's)", ylabel="s per 100 MD steps, largest N")
    ax.legend(fontsize=7)
    fig.savefig(figures_dir / "bench-rollout-4d.png", dpi=110)
