"""Convert run directories from the first checkpoint format (arrays "leaf_0000", ... in tree-flattening
order) to ogn-checkpoint-2 (arrays by tree path), and prove the conversion: the model's rollout from a
fixed state is the same before and after, bit for bit.

    python scripts/convert_checkpoint.py models/*
"""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ogn.config import build_dataclass
from ogn.model.checkpoint import load_run, new_model, read_run_config, read_run_info, save_checkpoint
from ogn.model.network import ModelConfig
from ogn.model.normalizer import Statistic
from ogn.rollout import rollout


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


def main(runs: list[str]) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from shipped_reference import start_state

    for name in runs:
        run = Path(name)
        (params, stats, opt_state), meta, info, model_config = legacy_trees(run)
        graphdef = nnx.split(new_model(info, model_config), nnx.Param, Statistic)[0]
        old = nnx.merge(graphdef, params, stats)
        r, v, s = start_state(info)
        box, steps = float(info["system"]["box"]), 20 * int(info["k"])
        before = rollout(old, info, r, v, s, box, steps, log=lambda m: None)
        save_checkpoint(run / "checkpoint.npz", {"params": params, "stats": stats, "opt_state": opt_state},
                        json.loads(meta))
        new, _, _ = load_run(run)
        after = rollout(new, info, r, v, s, box, steps, log=lambda m: None)
        same = np.array_equal(before.positions, after.positions) and np.array_equal(before.velocities, after.velocities)
        print(f"{run}: converted; rollout of {steps} MD steps identical: {same}")
        if not same:
            raise SystemExit(f"{run}: the converted checkpoint gives another rollout")


if __name__ == "__main__":
    main(sys.argv[1:])
