"""`ogn bench train`: gradient steps per second and XLA's peak memory of the compiled training step."""

from __future__ import annotations

import datetime
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from ogn.bench.common import machine_description, prepare_liquid, replace_section


def bench_train(layers=(2, 10), orders=("per-node", "per-edge"), preset="lj", steps=30, repeats=3,
                out="BENCHMARKS.md", log=print) -> list[dict]:
    """Gradient steps/s and XLA's peak-memory estimate of the compiled training step (`ogn bench train`)."""
    from ogn.systems import get_system
    from ogn.train.batches import PairData
    from ogn.train.run import edge_capacity

    system = get_system(preset)
    frames = md_frames(system, 40)
    k = 5
    data = PairData.from_frames(frames, k)
    capacity, most = edge_capacity([frames], system.neighbor_cutoff, 1.05)
    rows = []
    for n_layers in layers:
        for order in orders:
            row = time_training(system, data, capacity, k, n_layers, order, steps, repeats)
            log(f"{n_layers} layers, {order}: {row['ms_per_step']:.1f} ms/step, XLA peak {row['peak_mib']:.0f} MiB")
            rows.append(row)
    replace_section(Path(out), "bench train", "\n".join(train_lines(rows, preset, system, most, capacity, k, steps,
                                                                     repeats)))
    return rows


def md_frames(system, n_steps: int):
    """One trajectory of `n_steps` float32 MD steps from a liquid start, as a dataset split."""
    import jax.numpy as jnp

    from ogn.data.dataset import SplitFrames
    from ogn.md.simulate import init_state, make_force_field, run_nve

    structure = prepare_liquid(system)
    ff = make_force_field(system, structure.species, precision="float32")
    neighbor = ff.allocate(jnp.asarray(np.mod(structure.positions, system.sides)))
    chunks = []
    run_nve(ff, init_state(ff, structure.positions, structure.velocities, neighbor), neighbor, n_steps, 1,
            on_frames=chunks.append)
    positions = np.concatenate([c.positions for c in chunks])[None]
    velocities = np.concatenate([c.velocities for c in chunks])[None]
    return SplitFrames(positions, velocities, np.asarray(structure.species), system.box)


def time_training(system, data, capacity: int, k: int, n_layers: int, order: str, steps: int, repeats: int) -> dict:
    """ms per gradient step (median of `repeats` compiled calls after a warm-up) and XLA's peak memory."""
    import jax.numpy as jnp

    from ogn.model.config import ModelConfig
    from ogn.train.batches import Schedule
    from ogn.train.config import RunConfig, TrainConfig
    from ogn.train.trainer import Trainer

    config = RunConfig(data="-", model=ModelConfig(layers=n_layers, edge_first_layer=order),
                       train=TrainConfig(k=k, steps_per_call=steps))
    trainer = Trainer(config, data, data, system.n_species, system.neighbor_cutoff, capacity, k * system.dt)
    schedule = Schedule(len(data.starts), 1, 0, True)
    picks = jnp.asarray(schedule.picks(0, steps))
    compiled = trainer._train_chunk.lower(trainer.params, trainer.stats, trainer.opt_state, trainer.ema,
                                          trainer.train, trainer.symmetries, 0, picks, 1).compile()
    memory = compiled.memory_analysis()
    peak = (memory.temp_size_in_bytes + memory.argument_size_in_bytes + memory.output_size_in_bytes
            if memory is not None else float("nan"))
    trainer.run_steps(schedule.picks(0, steps))  # warm-up
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        trainer.run_steps(schedule.picks(steps * (r + 1), steps))
        times.append(time.perf_counter() - t0)
    return {"layers": n_layers, "order": order, "ms_per_step": 1e3 * float(np.median(times)) / steps,
            "peak_mib": peak / 2**20}


def train_lines(rows, preset, system, most, capacity, k, steps, repeats) -> list[str]:
    import resource

    import jax

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
    return lines + [f"| {r['layers']} | {r['order']} | {r['ms_per_step']:.1f} | {1e3 / r['ms_per_step']:.2f} |"
                    f" {r['peak_mib']:.0f} |" for r in rows]
