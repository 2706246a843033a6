"""`ogn bench md`: microseconds per atom-step of the jax engine and of LAMMPS, per preset and size.

Both engines start from the same liquid state (prepared by LAMMPS: random placement, minimisation, 200
rescaled steps at the preset temperature) and run the same NVE; the jax engine is timed on its second
chunk (after compilation), LAMMPS on a `run` after setup. Results replace the `bench md` section of
BENCHMARKS.md, with the machine, the command and the date.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ogn.io.lammps_data import Structure


def machine_description() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores visible, {platform.system()} {platform.release()}"


def prepare_liquid(system, seed: int = 0) -> Structure:
    """A liquid state of `system` at its temperature, made quickly by LAMMPS."""
    from ogn.md import protocols
    from ogn.md.lammps import gather, load_structure, new_instance, scatter

    rng = np.random.default_rng(seed)
    structure = Structure(protocols.random_positions(system, rng), system.species(), system.box)
    t = system.temperature
    with tempfile.TemporaryDirectory() as tmp:
        lmp = new_instance()
        try:
            load_structure(lmp, system, structure, Path(tmp))
            lmp.commands_list([f"timestep {system.dt!r}", "min_style fire", "minimize 0.0 1.0e-2 2000 20000"])
            scatter(lmp, "v", protocols.gaussian_velocities(system, structure.species, t, rng))
            lmp.commands_list(["fix 1 all nve", f"fix 2 all temp/rescale 1 {t!r} {t!r} 0.0 1.0", "run 200"])
            n = structure.n_atoms
            x = gather(lmp, "x", n) + gather(lmp, "image", n) * system.sides
            v = gather(lmp, "v", n)
        finally:
            lmp.close()
    return Structure(x, structure.species, system.box, v)


def time_lammps(system, structure: Structure, steps: int, threads: int = 1) -> float:
    """us/atom-step of `run steps` (NVE) in LAMMPS."""
    from ogn.md.lammps import load_structure, new_instance, scatter

    with tempfile.TemporaryDirectory() as tmp:
        lmp = new_instance(threads)
        try:
            load_structure(lmp, system, structure, Path(tmp))
            scatter(lmp, "v", structure.velocities)
            lmp.commands_list([f"timestep {system.dt!r}", "fix 1 all nve", "thermo 0", "run 0"])
            t0 = time.perf_counter()
            lmp.command(f"run {steps} pre no post no")
            wall = time.perf_counter() - t0
        finally:
            lmp.close()
    return 1e6 * wall / (steps * structure.n_atoms)


def time_jax(system, structure: Structure, steps: int, capacity_multiplier: float = 1.25) -> float:
    """us/atom-step of the jax engine's compiled NVE chunk, timed on the second call."""
    import jax

    from ogn.md.simulate import _nve_chunk, init_state, make_force_field, redo_until_fits

    ff = make_force_field(system, structure.species, capacity_multiplier)
    neighbor = ff.allocate(np.mod(structure.positions, system.sides))
    state = init_state(ff, structure.positions, structure.velocities, neighbor)
    for attempt in range(2):
        (new_state, new_neighbor, out), neighbor = redo_until_fits(
            lambda nb: jax.block_until_ready(_nve_chunk(ff, system.dt, state, nb, 1, steps)),  # noqa: B023 (called at once)
            lambda result: result[1].did_buffer_overflow, ff, state.positions, neighbor)
        if attempt == 0:
            state, neighbor = new_state, new_neighbor
    t0 = time.perf_counter()
    new_state, new_neighbor, out = _nve_chunk(ff, system.dt, state, neighbor, 1, steps)
    jax.block_until_ready(out)
    wall = time.perf_counter() - t0
    return 1e6 * wall / (steps * structure.n_atoms)


def steps_for(n_atoms: int) -> int:
    """About a million atom-steps per measurement, at least 20 steps."""
    return max(20, 1_000_000 // n_atoms)


def bench_md(sizes, presets, steps=None, out="BENCHMARKS.md", engines=("jax", "lammps"), log=print) -> list[dict]:
    import jax

    from ogn.io.lammps_module import import_lammps
    from ogn.md.simulate import set_precision

    set_precision("float32")
    from ogn.systems import get_system

    rows = []
    for preset in presets:
        for n in sizes:
            system = get_system(preset)
            if n > system.n_atoms:  # "N ~ 300" means the paper's own size where its box needs more atoms
                system = system.scaled(n)
            n_steps = steps or steps_for(system.n_atoms)
            structure = prepare_liquid(system)
            row = {"preset": preset, "n_atoms": system.n_atoms, "steps": n_steps}
            if "lammps" in engines:
                row["lammps"] = time_lammps(system, structure, n_steps)
            if "jax" in engines:
                row["jax"] = time_jax(system, structure, n_steps)
            log(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
            rows.append(row)
    lmp_version = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none"]).version()
    header = [
        "## MD engines: us/atom-step (`ogn bench md`)",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {machine_description()}",
        f"- command: `ogn bench md {' '.join(shlex.quote(a) for a in sys.argv[3:])}`".replace("  ", " "),
        f"- jax {jax.__version__} on {jax.devices()[0].platform}, float32; LAMMPS {lmp_version}, 1 thread, double",
        "- same liquid start for both engines; jax timed after compilation; us = microseconds per atom per step",
        "",
        "| preset | atoms | steps | jax (us/atom-step) | LAMMPS 1 thread (us/atom-step) | jax / LAMMPS |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        jx, lm = r.get("jax"), r.get("lammps")
        ratio = f"{jx / lm:.1f}" if jx and lm else "-"
        header.append(
            f"| {r['preset']} | {r['n_atoms']} | {r['steps']} | {jx:.3f} | {lm:.3f} | {ratio} |".replace("None", "-")
            if jx and lm else f"| {r['preset']} | {r['n_atoms']} | {r['steps']} | {jx or '-'} | {lm or '-'} | - |"
        )
    replace_section(Path(out), "bench md", "\n".join(header))
    return rows


def replace_section(path: Path, name: str, body: str) -> None:
    """Replace (or append) the block between <!-- begin NAME --> and <!-- end NAME --> in a Markdown file."""
    from ogn.io.files import atomic_write_text

    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n\nEvery number here was measured by the command shown with it.\n"
    block = f"{begin}\n{body}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    atomic_write_text(path, text)


def bench_train(layers=(2, 10), orders=("per-node", "per-edge"), preset="lj", steps=30, repeats=3,
                out="BENCHMARKS.md", log=print) -> list[dict]:
    """Gradient steps/s and XLA's peak-memory estimate of the compiled training step (`ogn bench train`)."""
    import resource

    import jax
    import jax.numpy as jnp

    from ogn.data.dataset import Frames
    from ogn.md.simulate import init_state, make_force_field, run_nve, set_precision
    from ogn.model.network import ModelConfig
    from ogn.systems import get_system
    from ogn.train import PairData, RunConfig, Schedule, TrainConfig, Trainer, edge_capacity

    set_precision("float32")
    system = get_system(preset)
    structure = prepare_liquid(system)
    ff = make_force_field(system, structure.species)
    neighbor = ff.allocate(jnp.asarray(np.mod(structure.positions, system.sides)))
    chunks = []
    run_nve(ff, init_state(ff, structure.positions, structure.velocities, neighbor), neighbor, 40, 1,
            on_frames=chunks.append)
    positions = np.concatenate([c.positions for c in chunks])[None]
    velocities = np.concatenate([c.velocities for c in chunks])[None]
    frames = Frames(positions, velocities, np.asarray(structure.species), system.box)
    k = 5
    data = PairData.from_frames(frames, k)
    capacity, most = edge_capacity([frames], system.neighbor_cutoff, 1.05)
    rows = []
    for n_layers in layers:
        for order in orders:
            config = RunConfig(data="-", model=ModelConfig(layers=n_layers, edge_first_layer=order),
                               train=TrainConfig(k=k, steps_per_call=steps))
            trainer = Trainer(config, data, data, system.n_species, system.neighbor_cutoff, capacity, k * system.dt)
            schedule = Schedule(len(data.starts), 1, 0, True)
            picks = jnp.asarray(schedule.picks(0, steps))
            compiled = trainer._train_chunk.lower(trainer.params, trainer.stats, trainer.opt_state, 0, picks, 1).compile()
            memory = compiled.memory_analysis()
            peak = (memory.temp_size_in_bytes + memory.argument_size_in_bytes + memory.output_size_in_bytes
                    if memory is not None else float("nan"))
            trainer.run_steps(schedule.picks(0, steps))  # warm-up
            times = []
            for r in range(repeats):
                t0 = time.perf_counter()
                trainer.run_steps(schedule.picks(steps * (r + 1), steps))
                times.append(time.perf_counter() - t0)
            row = {"layers": n_layers, "order": order, "ms_per_step": 1e3 * float(np.median(times)) / steps,
                   "peak_mib": peak / 2**20}
            log(f"{n_layers} layers, {order}: {row['ms_per_step']:.1f} ms/step, XLA peak {row['peak_mib']:.0f} MiB")
            rows.append(row)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        "## Training throughput (`ogn bench train`)",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {machine_description()}",
        f"- command: `ogn bench train {' '.join(shlex.quote(a) for a in sys.argv[3:])}`".replace("  ", " "),
        (f"- jax {jax.__version__} on {jax.devices()[0].platform}, float32; preset {preset}, N = {system.n_atoms},"
         f" {most / system.n_atoms:.0f} edges per atom (capacity {capacity}), k = {k}, batch 1, cube symmetry on"),
        (f"- median of {repeats} compiled calls of {steps} gradient steps each (after a warm-up call);"
         " peak = XLA's buffer assignment of the compiled call (arguments + outputs + temporaries);"
         f" process max RSS {rss:.0f} MiB"),
        "",
        "| MPNN layers | edge MLP first layer | ms / gradient step | steps / s | XLA peak (MiB) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['layers']} | {r['order']} | {r['ms_per_step']:.1f} | {1e3 / r['ms_per_step']:.2f} |"
                     f" {r['peak_mib']:.0f} |")
    replace_section(Path(out), "bench train", "\n".join(lines))
    return rows


def network_multiply_adds(config, n_species: int, n_atoms: int, n_edges: int) -> int:
    """Multiply-adds of the dense layers of one prediction (gathers, sums and LayerNorms not counted)."""
    from ogn.model.network import EDGE_FEATURES

    h, lat = config.hidden, config.latent
    per_edge = EDGE_FEATURES[config.edge_features] * h + h * lat  # encoder
    per_edge += config.layers * (h * lat) + lat * h + (config.layers - 1) * 2 * lat * h  # first layer folded
    per_node = (n_species + 3) * h + h * lat + lat * h + h * 6  # encoder, decoder
    per_node += config.layers * (2 * 2 * lat * h + 4 * lat * h + h * lat)  # sender/receiver blocks, node MLP
    return per_edge * n_edges + per_node * n_atoms


def untrained_fast_ogn(system, k: int, config=None):
    """(model, ModelConfig) of an untrained Fast-OGN (`config`, default 2 layers) whose displacements are
    scaled to the thermal ones, sqrt(kB T / m) k dt per prediction, so atoms move (and lists are rebuilt)
    about as often as in a liquid. Its cost does not depend on the weights, but it does on how often the
    graph is rebuilt."""
    import jax.numpy as jnp
    from flax import nnx

    from ogn.evaluate.metrics import velocity_scale
    from ogn.model.network import OGN, ModelConfig

    config = config or ModelConfig(layers=2)
    model = OGN(system.n_species, config, nnx.Rngs(0))
    model.target_normalizer.count[...] = jnp.asarray(1.0)
    speed = velocity_scale(system)
    model.target_normalizer.m2[...] = jnp.asarray([(speed * k * system.dt) ** 2] * 3 + [(1e-3 * speed) ** 2] * 3,
                                                  jnp.float32)
    return model, config


def time_ogn(system, structure: Structure, k: int, md_steps: int, config=None, run: str | Path | None = None,
             repeats: int = 3, network_dtype: str = "float32", skin: float | None = None) -> tuple[float, int, int]:
    """Seconds for `md_steps` MD steps (md_steps / k predictions), compiled, median of `repeats`; the
    graph's edges at the start and the network's multiply-adds per prediction. The network is an untrained
    Fast-OGN on the system's r_c (`untrained_fast_ogn`, `config` its ModelConfig), or with `run` that
    trained run's model, with its weights, graph cutoff and k. `skin`: the cell list's (`CompiledRollout`)."""
    import jax
    import jax.numpy as jnp

    from ogn.rollout import CompiledRollout

    if run is None:
        model, config = untrained_fast_ogn(system, k, config)
        cutoff = system.neighbor_cutoff
    else:
        from ogn.model.checkpoint import load_run

        model, info, run_config = load_run(run)
        if info["system"]["name"] != system.name:
            raise ValueError(f"{run} was trained on {info['system']['name']!r}, not {system.name!r}")
        config, k, cutoff = run_config, int(info["k"]), float(info["cutoff"])
    r = jnp.asarray(structure.positions, jnp.float32)
    v = jnp.asarray(structure.velocities, jnp.float32)
    simulate = CompiledRollout(model, system.box, cutoff, structure.species, system.atom_masses(structure.species),
                               k * system.dt, md_steps // k, skin=skin, network_dtype=network_dtype)
    call = lambda: simulate(r, v)
    jax.block_until_ready(call())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(call())
        times.append(time.perf_counter() - t0)
    n_edges = simulate.edges_now(r)
    return float(np.median(times)), n_edges, network_multiply_adds(config, system.n_species, structure.n_atoms, n_edges)


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
    import jax

    from ogn.md.simulate import set_precision
    from ogn.systems import get_system

    set_precision("float32")
    threads = threads or os.cpu_count()
    runs = runs or {}
    rows = []
    for preset in presets:
        base = get_system(preset)
        for n in sizes:
            system = base if n <= base.n_atoms else base.scaled(n)
            structure = prepare_liquid(system)
            k = FAST_K[preset]
            row = {"preset": preset, "n_atoms": system.n_atoms, "k": k}
            row["jax_md"] = time_jax(system, structure, md_steps) * 1e-6 * md_steps * system.n_atoms
            row["lammps_1"] = time_lammps(system, structure, md_steps, 1) * 1e-6 * md_steps * system.n_atoms
            row["lammps_n"] = time_lammps(system, structure, md_steps, threads) * 1e-6 * md_steps * system.n_atoms
            row["ogn"], edges, multiply_adds = time_ogn(system, structure, k, md_steps, network_dtype=network_dtype)
            row["edges_per_atom"] = edges / system.n_atoms
            row["ogn_gflops"] = 2 * multiply_adds * (md_steps // k) / row["ogn"] / 1e9
            if preset in runs:
                row["run"], edges, _ = time_ogn(system, structure, k, md_steps, run=runs[preset],
                                                network_dtype=network_dtype)
                row["run_edges_per_atom"] = edges / system.n_atoms
                row["run_k"] = int(json.loads((Path(runs[preset]) / "run.json").read_text())["k"])
                row["command"], row["startup"] = time_ogn_command(runs[preset], system, structure, md_steps)
            log(" ".join(f"{a}={b:.4g}" if isinstance(b, float) else f"{a}={b}" for a, b in row.items()))
            rows.append(row)
    lj_cost = {r["n_atoms"]: r["lammps_1"] for r in rows if r["preset"] == "lj"}
    smallest = {p: min(r["n_atoms"] for r in rows if r["preset"] == p) for p in presets}
    complexity = {}
    if lj_cost:
        lj_per_atom = lj_cost[min(lj_cost)] / min(lj_cost)
        for p in presets:
            r = next(r for r in rows if r["preset"] == p and r["n_atoms"] == smallest[p])
            complexity[p] = r["lammps_1"] / r["n_atoms"] / lj_per_atom
    _rollout_figures(rows, complexity, Path(figures_dir), threads)
    lines = [
        "## Learned simulator vs MD: wall time of 100 MD steps (`ogn bench rollout`)",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {machine_description()}",
        f"- command: `ogn bench rollout {' '.join(shlex.quote(a) for a in sys.argv[3:])}`".replace("  ", " "),
        (f"- jax {jax.__version__} on {jax.devices()[0].platform} ({jax.devices()[0].device_kind}), float32 (jax MD;"
         f" Fast-OGN networks in {network_dtype}); LAMMPS double"),
        (f"- Fast-OGN: 2 MPNN layers, UNTRAINED weights (the cost does not depend on them), {md_steps} MD steps ="
         f" {md_steps} / k predictions, one compiled scan, median of 3 after compilation; graphs by all pairs up to"
         " 2000 atoms, by cell lists above (skin: `rollout.default_skin`; rebuilt when an atom moved half of it)"),
        f"- LAMMPS: `run {md_steps}` after setup, 1 thread and {threads} OpenMP threads",
        ("- edges/atom: the Fast-OGN graph's at the start; GFLOP/s: 2 x the multiply-adds of its dense layers per"
         " second (what limits it: the edge MLPs are ~25 000 multiply-adds per edge per prediction)"),
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
    for r in rows:
        run = (f" {r['run_k']} | {r['run']:.4g} | {r['run'] / r['lammps_n']:.2f} | {r['run'] / r['jax_md']:.2f} |"
               f" {r['run_edges_per_atom']:.0f} | {r['command']:.4g} | {r['command'] / r['lammps_n']:.2f} |"
               f" {r['startup']:.3g} |") if "run" in r else " - | - | - | - | - | - | - | - |"
        lines.append(f"| {r['preset']} | {r['n_atoms']} | {r['k']} | {r['jax_md']:.4g} | {r['lammps_1']:.4g} |"
                     f" {r['lammps_n']:.4g} | {r['ogn']:.4g} | {r['ogn'] / r['lammps_n']:.2f} |"
                     f" {r['ogn'] / r['jax_md']:.2f} | {r['edges_per_atom']:.0f} | {r['ogn_gflops']:.0f} |" + run)
    if complexity:
        lines += ["", "Complexity index: " + ", ".join(f"{p} {c:.2f}" for p, c in complexity.items()),
                  "", "![Fig. 4C](bench-rollout-4c.png) ![Fig. 4D](bench-rollout-4d.png)"]
    replace_section(Path(out), "bench rollout", "\n".join(lines))
    return rows


def _rollout_figures(rows, complexity, figures_dir: Path, threads: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    presets = sorted({r["preset"] for r in rows}, key=[r["preset"] for r in rows].index)
    fig, axes = plt.subplots(1, len(presets), figsize=(4 * len(presets), 3.5), squeeze=False)
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
    fig.tight_layout()
    fig.savefig(figures_dir / "bench-rollout-4c.png", dpi=110)
    plt.close(fig)
    if not complexity:
        return
    largest = {p: max((r for r in rows if r["preset"] == p), key=lambda r: r["n_atoms"]) for p in presets}
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for key, label in (("jax_md", "jax MD"), ("lammps_n", f"LAMMPS {threads} thr"), ("ogn", "Fast-OGN, r_c graph"),
                       ("run", "trained run")):
        shown = [p for p in presets if key in largest[p]]
        ax.semilogy([complexity[p] for p in shown], [largest[p][key] for p in shown], "o", label=label)
    for p in presets:
        ax.annotate(p, (complexity[p], largest[p]["ogn"]), fontsize=7)
    ax.set(xlabel="complexity index (cost per atom-step / LJ's)", ylabel="s per 100 MD steps, largest N")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(figures_dir / "bench-rollout-4d.png", dpi=110)
    plt.close(fig)
