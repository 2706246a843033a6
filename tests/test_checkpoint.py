"""The run-directory format: every shipped model loads by parameter name and gives the outputs it gave
before the format changed (tests/data/shipped_reference.npz, scripts/shipped_reference.py); damaged,
foreign and old checkpoints are refused with a message naming the file."""

import json
import shutil
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from ogn.model.checkpoint import load_run, read_checkpoint, save_checkpoint
from ogn.model.graph import dense_graph
from ogn.periodic import box_sides

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for p in (ROOT / "models").iterdir() if (p / "checkpoint.npz").is_file())


def test_every_model_is_shipped_with_a_reference():
    with np.load(ROOT / "tests/data/shipped_reference.npz") as ref:
        names = {key.split("/")[0] for key in ref.files}
    assert names == {p.name for p in SHIPPED} and len(SHIPPED) == 6


@pytest.mark.parametrize("run", SHIPPED, ids=lambda p: p.name)
def test_shipped_model_gives_its_reference_prediction(run):
    model, info, _ = load_run(run)
    with np.load(ROOT / "tests/data/shipped_reference.npz") as ref:
        r, v, s = (ref[f"{run.name}/{key}"] for key in ("positions", "velocities", "species"))
        dr_ref, dv_ref = ref[f"{run.name}/dr"], ref[f"{run.name}/dv"]
    graph = dense_graph(jnp.asarray(r, jnp.float32), box_sides(info["system"]["box"]), float(info["cutoff"]),
                        len(r) * (len(r) - 1))
    dr, dv = model.raw_prediction(jnp.asarray(v, jnp.float32), jnp.asarray(s), graph)
    # float32 network outputs of order 1; other CPUs sum in another order (rounding ~1e-6)
    np.testing.assert_allclose(dr, dr_ref, rtol=1e-4, atol=1e-5 * np.abs(dr_ref).max())
    np.testing.assert_allclose(dv, dv_ref, rtol=1e-4, atol=1e-5 * np.abs(dv_ref).max())


def _copy_run(tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(ROOT / "models/lj-fast-k5", run, ignore=shutil.ignore_patterns("evaluation"))
    return run


def test_truncated_checkpoint_is_refused_with_its_name(tmp_path):
    run = _copy_run(tmp_path)
    data = (run / "checkpoint.npz").read_bytes()
    (run / "checkpoint.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="checkpoint.npz: not a readable checkpoint"):
        load_run(run)


def test_renamed_parameter_is_refused_not_swapped(tmp_path):
    run = _copy_run(tmp_path)
    meta, arrays = read_checkpoint(run / "checkpoint.npz")
    arrays["params/network/decoder/out/weights"] = arrays.pop("params/network/decoder/out/kernel")
    np.savez(run / "checkpoint.npz", meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    with pytest.raises(ValueError, match="no array 'params/network/decoder/out/kernel'"):
        load_run(run)


def test_misshapen_parameter_is_refused(tmp_path):
    run = _copy_run(tmp_path)
    meta, arrays = read_checkpoint(run / "checkpoint.npz")
    arrays["params/network/decoder/out/kernel"] = arrays["params/network/decoder/out/kernel"][:-1]
    np.savez(run / "checkpoint.npz", meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    with pytest.raises(ValueError, match="decoder/out/kernel' has shape"):
        load_run(run)


def test_first_format_is_refused_with_the_way_to_convert(tmp_path):
    path = tmp_path / "checkpoint.npz"
    np.savez(path, leaf_0000=np.zeros(3), meta=np.frombuffer(json.dumps({"step": 1}).encode(), np.uint8))
    with pytest.raises(ValueError, match=r"convert it with `python -m ogn.model.convert RUN_DIR`"):
        read_checkpoint(path)
    import importlib.util

    assert importlib.util.find_spec("ogn.model.convert") is not None  # the message names what the package has


def test_checkpoint_file_gets_the_umask_mode(tmp_path):
    import os

    path = tmp_path / "c.npz"
    old = os.umask(0o022)
    try:
        save_checkpoint(path, {"params": {"a": np.zeros(2)}}, {"step": 0})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    meta, arrays = read_checkpoint(path)
    assert meta["step"] == 0 and list(arrays) == ["params/a"]
