"""Reference outputs of the shipped models, written once with the checkpoint reader of the day.

For each models/NAME: a start state (a jittered lattice of the training system's atoms with Maxwell
velocities at its temperature, seed 0), the network's raw prediction (dr, dv) on it, and a 10-prediction
rollout. tests/test_checkpoint.py checks that every shipped model, loaded through the current checkpoint
format, still gives these numbers: a converted or re-saved checkpoint cannot silently swap weights.

    python scripts/shipped_reference.py tests/data/shipped_reference.npz [MODEL ...]   # a retrained model
"""

import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from ogn.model.checkpoint import load_run
from ogn.model.graph import dense_graph
from ogn.periodic import box_sides
from ogn.simulator import rollout
from ogn.units import UNITS

MODELS = Path(__file__).resolve().parents[1] / "models"


def start_state(info: dict, seed: int = 0):
    system = info["system"]
    counts, box = system["counts"], box_sides(system["box"])
    n = int(sum(counts))
    rng = np.random.default_rng(seed)
    side = int(np.ceil(n ** (1 / 3)))
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n]
    positions = (grid + 0.5) * box / side + rng.normal(0, 0.02 * box / side, (n, 3))
    species = np.repeat(np.arange(len(counts)), counts)
    masses = np.asarray(system["masses"])[species]
    units = UNITS[system["units"]]
    scale = np.sqrt(units.boltzmann * system["temperature"] / (units.mvv2e * masses))
    velocities = rng.normal(size=(n, 3)) * scale[:, None]
    return positions, velocities, species


def main(out: str, names: list[str]) -> None:
    """Write the references of `names` (default: every shipped model) into `out`, keeping the others."""
    arrays = {}
    if names and Path(out).is_file():
        with np.load(out) as old:
            # kept: the models not being rewritten and still shipped
            arrays = {key: old[key] for key in old.files
                      if key.split("/")[0] not in names and (MODELS / key.split("/")[0]).is_dir()}
    for run in sorted(MODELS.iterdir()):
        if names and run.name not in names:
            continue
        model, info, _ = load_run(run)
        r, v, s = start_state(info)
        graph = dense_graph(jnp.asarray(r, jnp.float32), box_sides(info["system"]["box"]), float(info["cutoff"]),
                            len(r) * (len(r) - 1))
        dr, dv = model.raw_prediction(jnp.asarray(v, jnp.float32), jnp.asarray(s), graph)
        result = rollout(model, info, r, v, s, box_sides(info["system"]["box"]), 10 * int(info["k"]), log=lambda m: None)
        for key, value in {"positions": r, "velocities": v, "species": s, "dr": dr, "dv": dv,
                           "rollout_positions": result.positions[-1], "rollout_velocities": result.velocities[-1]}.items():
            arrays[f"{run.name}/{key}"] = np.asarray(value)
        print(run.name, "done")
    np.savez_compressed(out, **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
