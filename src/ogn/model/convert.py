"""Convert run directories from the first checkpoint format (arrays "leaf_0000", ... in tree-flattening
order) to the current one (arrays by tree path), and prove the conversion: the model's prediction on a
fixed state is the same before and after, bit for bit.

    python -m ogn.model.convert RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ogn.config import build_dataclass
from ogn.model.checkpoint import load_run, new_model, read_run_config, read_run_info, save_checkpoint
from ogn.model.config import ModelConfig
from ogn.model.graph import dense_graph
from ogn.model.normalizer import Statistic
from ogn.periodic import box_sides


def legacy_trees(run: Path):
    """(params, stats, opt_state) of an old checkpoint, filled in flattening order as the old reader did."""
    info = read_run_info(run)
    model_config = build_dataclass(ModelConfig, read_run_config(run).get("model", {}), "model")
    _, params, stats = nnx.split(new_model(info, model_config), nnx.Param, Statistic)
    opt_state = optax.adam(optax.constant_schedule(1e-3)).init(params)  # the structure of any scheduled Adam
    with np.load(run / "checkpoint.npz") as z:
        meta = bytes(z["meta"]).decode()
        leaves = [z[f"leaf_{i:04d}"] for i in range(len(z.files) - 1)]
    tree = (params, stats, opt_state)
    ref = jax.tree.leaves(tree)
    if len(leaves) != len(ref) or any(a.shape != np.shape(b) for a, b in zip(leaves, ref)):
        raise ValueError(f"{run}: the legacy checkpoint does not match its config")
    filled = jax.tree.unflatten(jax.tree.structure(tree), [jnp.asarray(x, r.dtype) for x, r in zip(leaves, ref)])
    return filled, meta, info, model_config


def probe_prediction(model, info: dict) -> np.ndarray:
    """(N, 6) the model's raw prediction on a fixed state of its training system (a jittered lattice with
    unit-scale velocities): a fingerprint of every weight and statistic."""
    system = info["system"]
    n, box = int(sum(system["counts"])), box_sides(system["box"])
    rng = np.random.default_rng(0)
    side = int(np.ceil(n ** (1 / 3)))
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n]
    positions = (grid + 0.5) * box / side + rng.normal(0, 0.02 * box / side, (n, 3))
    species = np.repeat(np.arange(len(system["counts"])), system["counts"])
    graph = dense_graph(jnp.asarray(positions, jnp.float32), box, float(info["cutoff"]), n * (n - 1))
    dr, dv = model.raw_prediction(jnp.asarray(rng.normal(size=(n, 3)), jnp.float32), jnp.asarray(species), graph)
    return np.concatenate([np.asarray(dr), np.asarray(dv)], -1)


def convert(run: Path) -> None:
    (params, stats, opt_state), meta, info, model_config = legacy_trees(run)
    graphdef = nnx.split(new_model(info, model_config), nnx.Param, Statistic)[0]
    before = probe_prediction(nnx.merge(graphdef, params, stats), info)
    legacy = run / "checkpoint.legacy.npz"  # kept until the converted one is proven
    shutil.copy2(run / "checkpoint.npz", legacy)
    save_checkpoint(run / "checkpoint.npz", {"params": params, "stats": stats, "opt_state": opt_state},
                    json.loads(meta))
    after = probe_prediction(load_run(run)[0], info)
    if not np.array_equal(before, after):
        os.replace(legacy, run / "checkpoint.npz")
        raise SystemExit(f"{run}: the converted checkpoint gives another prediction; the old one is back in place")
    legacy.unlink()
    print(f"{run}: converted; its prediction on a fixed state is identical")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        convert(Path(name))
