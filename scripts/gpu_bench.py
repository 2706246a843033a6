"""The rollout half of what one lent GPU measures (issue 11, item 7; `scripts/device_run.sh` runs it): for each
preset's shipped Fast-OGN, the wall time of 100 MD steps at N ~ 10 000 to ~1 000 000 atoms against the jax MD
engine on the same device, with the network in float32 and in bfloat16. Rows are appended to OUT as they
are measured, so a run cut short by its time limit keeps what it finished.

    python scripts/gpu_bench.py OUT.md [--presets silica silicon cuzr] [--tiles 1 3 5]

The ~10 000-atom liquid of each preset is made once by LAMMPS (`ogn.bench.prepare_liquid`) and tiled
R x R x R for the larger sizes (a periodic liquid tiled is a state of the larger box; equilibrating 10^6 atoms
would take longer than the measurement). Timings are `ogn.bench.time_jax` and `ogn.bench.time_ogn`: compiled,
after a warm-up call, the graph by cell lists; a size that does not fit the device's memory is a row that says so.
"""

import argparse
import dataclasses
import datetime
import json
import time
from pathlib import Path

from ogn.bench import machine_description, prepare_liquid, shipped_runs, time_jax, time_ogn
from ogn.io.types import Structure
from ogn.systems import get_system

MD_STEPS = 100


def tiled(system, structure: Structure, reps: int):
    """The system and state of `reps`^3 copies of `structure` side by side."""
    copies = reps**3
    big = dataclasses.replace(system, counts=tuple(c * copies for c in system.counts),
                              box=tuple(float(s) for s in system.sides * reps))
    return big, structure.tiled(reps)


def seconds_or_why(measure):
    try:
        return f"{measure():.4g}"
    except (RuntimeError, MemoryError) as err:  # out of device memory (XlaRuntimeError) is a result, not a crash
        return f"failed: {type(err).__name__}: {str(err).splitlines()[0][:80]}"


def measure(system, structure: Structure, k: int, run: Path) -> tuple[str, dict[str, str]]:
    """Seconds of MD_STEPS MD steps by jax MD, and by the trained run with its network in each dtype."""
    md = seconds_or_why(lambda: time_jax(system, structure, MD_STEPS) * 1e-6 * MD_STEPS * system.n_atoms)
    return md, {dtype: seconds_or_why(lambda: time_ogn(system, structure, k, MD_STEPS, run=run, network_dtype=dtype)[0])  # noqa: B023 (called at once)
                for dtype in ("float32", "bfloat16")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="Markdown file the table is appended to")
    parser.add_argument("--presets", nargs="+", default=["silica", "silicon", "cuzr"], help="(default: %(default)s)")
    parser.add_argument("--tiles", nargs="+", type=int, default=[1, 3, 5],
                        help="copies per side of the ~10 000-atom liquid (default: %(default)s, ~1e4, 2.7e5, 1.25e6 atoms)")
    parser.add_argument("--base-atoms", type=int, default=10_000, help="atoms of the liquid made by LAMMPS (default: %(default)s)")
    args = parser.parse_args()
    import jax

    runs = shipped_runs(args.presets)
    device = jax.devices()[0]
    with args.out.open("a") as out:
        out.write(f"\n## Learned simulator vs jax MD on {device.device_kind} (`scripts/gpu_bench.py`)\n\n"
                  f"- date: {datetime.date.today().isoformat()}; jax {jax.__version__}; host: {machine_description()}\n"
                  f"- wall time of {MD_STEPS} MD steps (s); jax MD float32; trained runs: "
                  + ", ".join(f"{p} `{Path(d).name}`" for p, d in runs.items()) + "\n\n"
                  "| preset | atoms | k | jax MD (s) | OGN float32 (s) | OGN bfloat16 (s) | jax MD / OGN float32 |"
                  " jax MD / OGN bfloat16 | measured in (s) |\n|---|---|---|---|---|---|---|---|---|\n")
        out.flush()
        for preset in args.presets:
            base = get_system(preset).scaled(args.base_atoms)
            liquid = prepare_liquid(base)
            k = int(json.loads((runs[preset] / "run.json").read_text())["k"])
            for reps in args.tiles:
                system, structure = tiled(base, liquid, reps)
                t0 = time.perf_counter()
                md, ogn = measure(system, structure, k, runs[preset])
                ratios = [f"{float(md) / float(t):.2f}" if "failed" not in md + t else "-" for t in ogn.values()]
                row = (f"| {preset} | {system.n_atoms} | {k} | {md} | {ogn['float32']} | {ogn['bfloat16']} | "
                       f"{' | '.join(ratios)} | {time.perf_counter() - t0:.0f} |")
                print(row, flush=True)
                out.write(row + "\n")
                out.flush()


if __name__ == "__main__":
    main()
