"""The run directory and its checkpoint format: what `ogn train` writes and every later stage reads.

    RUN/config.yaml     the resolved configuration (data, model, train)
    RUN/run.json        system, k, dt, graph cutoff, edge capacity, steps done, wall time, device, versions
    RUN/checkpoint.npz  every array by its tree path ("params/network/decoder/out/kernel", "stats/...",
                        "opt_state/..."), plus "meta": JSON with the format name and the step

Arrays are matched to the model by name, never by position, so a model whose modules change order or
gain a parameter cannot load another's weights in the wrong slots: a missing or misshapen array is an
error that names it.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import yaml
from flax import nnx

from ogn.config import build_dataclass
from ogn.io.files import atomic_write_bytes
from ogn.model.config import ModelConfig
from ogn.model.network import OGN, make_model
from ogn.model.normalizer import Statistic

CHECKPOINT_FORMAT = "ogn-checkpoint-2"
RUN_FORMAT = "ogn-run-1"


def _key(prefix: str, path) -> str:
    parts = []
    for p in path:
        for attr in ("key", "name", "idx"):
            if hasattr(p, attr):
                parts.append(str(getattr(p, attr)))
                break
        else:
            parts.append(str(p))
    if parts and parts[-1] == "value":  # nnx variables' own field: not part of the parameter's name
        parts.pop()
    return "/".join([prefix, *parts])


def flatten(prefix: str, tree) -> dict[str, np.ndarray]:
    """{"prefix/path/to/leaf": array} of a pytree (nnx.State, optax state)."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    named = {_key(prefix, path): np.asarray(leaf) for path, leaf in leaves}
    if len(named) != len(leaves):
        raise ValueError(f"two leaves of {prefix} share a name")
    return named


def unflatten(source: str, prefix: str, tree, arrays: dict[str, np.ndarray]):
    """`tree` with each leaf replaced by `arrays[its name]`, cast to the leaf's dtype; a missing or
    misshapen array is an error naming it and `source`."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    filled = []
    for path, ref in leaves:
        name = _key(prefix, path)
        if name not in arrays:
            raise ValueError(f"{source}: no array {name!r}; the checkpoint does not match the model in config.yaml")
        value = arrays[name]
        if value.shape != np.shape(ref):
            raise ValueError(f"{source}: {name!r} has shape {value.shape}, the model expects {np.shape(ref)}")
        filled.append(jnp.asarray(value, jnp.asarray(ref).dtype))
    return jax.tree_util.tree_unflatten(treedef, filled)


def save_checkpoint(path: str | Path, trees: dict, meta: dict) -> None:
    """`trees` ({"params": ..., "stats": ..., "opt_state": ...}) and `meta` into one .npz, atomically."""
    arrays = {}
    for prefix, tree in trees.items():
        arrays |= flatten(prefix, tree)
    meta = meta | {"format": CHECKPOINT_FORMAT}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def read_checkpoint(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, {name: array}); a missing, truncated, foreign or old-format file is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint")
    try:
        with np.load(path) as z:
            arrays = {name: z[name] for name in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a readable checkpoint, truncated or corrupt ({err})") from err
    if "meta" not in arrays:
        raise ValueError(f"{path}: not an ogn checkpoint (no meta record)")
    try:
        meta = json.loads(bytes(arrays.pop("meta")).decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: its meta record is corrupt ({err})") from err
    found = meta.get("format")
    if found != CHECKPOINT_FORMAT:
        hint = (" (parameters stored by position); convert it with `python -m ogn.model.convert RUN_DIR`"
                if any(k.startswith("leaf_") for k in arrays) else "")
        raise ValueError(f"{path}: checkpoint format {found!r}, this ogn reads {CHECKPOINT_FORMAT!r}{hint}")
    return meta, arrays


def read_run_config(run_dir: Path) -> dict:
    path = run_dir / "config.yaml"
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(config, dict):
        raise ValueError(f"{path}: expected a mapping with data, model and train, got {type(config).__name__}")  # noqa: TRY004
    return config


def read_run_info(run_dir: Path) -> dict:
    path = run_dir / "run.json"
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(info, dict) or info.get("format") != RUN_FORMAT:
        raise ValueError(f"{path}: not an ogn run description (format {RUN_FORMAT!r} expected)")
    return info


SHIPPED_MODELS = Path(__file__).resolve().parents[1] / "pretrained"  # package data; ./models links here


def resolve_run(run: str | Path) -> Path:
    """A run directory: `run` itself, or a shipped model by name (`lj-fast-k5`) when no such directory exists."""
    path = Path(run)
    if path.is_dir():
        return path
    if (SHIPPED_MODELS / path.name).is_dir() and len(path.parts) == 1:
        return SHIPPED_MODELS / path.name
    shipped = ", ".join(sorted(p.name for p in SHIPPED_MODELS.iterdir() if p.is_dir())) if SHIPPED_MODELS.is_dir() else ""
    raise FileNotFoundError(f"{run}: no such run directory" + (f"; shipped models: {shipped}" if shipped else ""))


def load_run(run_dir: str | Path) -> tuple[OGN, dict, ModelConfig]:
    """(model with the trained weights and frozen statistics, run info, model config) of a run directory."""
    run_dir = resolve_run(run_dir)
    for name in ("config.yaml", "run.json", "checkpoint.npz"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir}: no {name}; not a trained run directory")
    model_config = build_dataclass(ModelConfig, read_run_config(run_dir).get("model", {}), f"{run_dir}/config.yaml: model")
    info = read_run_info(run_dir)
    model = new_model(info, model_config)
    graphdef, params, stats = nnx.split(model, nnx.Param, Statistic)
    source = run_dir / "checkpoint.npz"
    meta, arrays = read_checkpoint(source)
    check_run_record(run_dir, info, meta)
    params = unflatten(source, "params", params, arrays)
    stats = unflatten(source, "stats", stats, arrays)
    return nnx.merge(graphdef, params, stats), info, model_config


def check_run_record(run_dir: Path, info: dict, meta: dict) -> None:
    """run.json must describe what the checkpoint was trained on: an edited k, dt, graph cutoff or system
    would roll the weights out as another model."""
    for key in ("k", "dt", "cutoff"):
        if key in meta and meta[key] != info.get(key):
            raise ValueError(f"{run_dir}/run.json says {key} = {info.get(key)}, but checkpoint.npz was trained with"
                             f" {key} = {meta[key]}; restore run.json (the checkpoint's record is the truth)")
    for key in ("name", "units", "species", "masses"):
        trained, said = meta.get("system", {}).get(key), info["system"].get(key)
        if trained is not None and trained != said:
            raise ValueError(f"{run_dir}/run.json says system {key} {said}, but checkpoint.npz was trained on"
                             f" {trained}; restore run.json (the checkpoint's record is the truth)")


def new_model(info: dict, config: ModelConfig, seed: int = 0) -> OGN:
    """An untrained model for the system and k that `info` (run.json) describes."""
    system = info["system"]
    return make_model(len(system["species"]), config, nnx.Rngs(seed), int(info["k"]) * float(info["dt"]),
                      system.get("masses"))
