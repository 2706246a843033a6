"""The learned simulator (rollout), the evaluation against MD, and their commands."""

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import small_config

from ogn.data.dataset import load_frames
from ogn.evaluate import metrics
from ogn.io.h5md import read_trajectory
from ogn.model.checkpoint import load_run
from ogn.model.graph import dense_graph
from ogn.simulator import RolloutConfig, RolloutError, rollout
from ogn.systems import get_system


@pytest.fixture(scope="module")
def trained(small_run, lj_dataset):
    model, info, _ = load_run(small_run)
    frames = load_frames(lj_dataset, "test")
    return model, info, frames


def test_rollout_equals_repeated_predictions(trained):
    model, info, frames = trained
    r, v = frames.positions[0, 0], frames.velocities[0, 0]
    result = rollout(model, info, r, v, frames.species, frames.box, 15, log=lambda s: None)
    assert result.positions.shape == (3, len(r), 3)
    np.testing.assert_array_equal(result.steps, [5, 10, 15])
    rj, vj = jnp.asarray(r, jnp.float32), jnp.asarray(v, jnp.float32)
    for i in range(3):
        graph = dense_graph(rj, frames.box, info["cutoff"], 40_000)
        dr, dv = model(vj, jnp.asarray(frames.species), graph, jnp.ones(len(r)), info["k"] * info["dt"])
        rj, vj = rj + dr, vj + dv
        np.testing.assert_allclose(result.positions[i], rj, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(result.velocities[i], vj, rtol=1e-5, atol=1e-5)


def test_bfloat16_network_stays_close_to_float32(trained):
    """The bf16 option changes the network's arithmetic only: one prediction's [dr, dv] within bf16's
    precision (~3 significant digits, a few rounding steps deep) of float32's; the model itself untouched."""
    from ogn.cli import rollout as rollout_command
    from ogn.simulator.step import NETWORK_DTYPES

    model, info, frames = trained
    r, v = frames.positions[0, 0], frames.velocities[0, 0]
    f32 = rollout(model, info, r, v, frames.species, frames.box, 5, log=lambda s: None)
    bf16 = rollout(model, info, r, v, frames.species, frames.box, 5, RolloutConfig(network_dtype="bfloat16"),
                   log=lambda s: None)
    for start, a, b in ((r, f32.positions[0], bf16.positions[0]), (v, f32.velocities[0], bf16.velocities[0])):
        change = a - start
        error = np.sqrt(np.mean((b - a) ** 2)) / np.sqrt(np.mean(change**2))
        assert 0 < error < 0.03, error
    assert model.network.decoder.out.kernel[...].dtype == jnp.float32
    assert tuple(rollout_command.NETWORK_DTYPES) == NETWORK_DTYPES
    with pytest.raises(ValueError, match="network dtype must be one of"):
        RolloutConfig(network_dtype="float16")


def test_rollout_rejects_bad_requests(trained):
    model, info, frames = trained
    r, v, s, box = frames.positions[0, 0], frames.velocities[0, 0], frames.species, frames.box
    with pytest.raises(ValueError, match="multiple of the model's k = 5"):
        rollout(model, info, r, v, s, box, 12)
    with pytest.raises(ValueError, match="species 2 unknown"):
        rollout(model, info, r, v, np.where(s == 1, 2, s), box, 5)
    with pytest.raises(ValueError, match="smaller than twice the model's graph cutoff"):
        rollout(model, info, r[:50], v[:50], s[:50], 5.0, 5)
    with pytest.raises(ValueError, match="1 atom.s.; a learned rollout needs at least 2"):
        rollout(model, info, r[:1], v[:1], s[:1], box, 5)


def test_rollout_grows_the_graph_and_stops_on_nan(trained, monkeypatch):
    from ogn.simulator import step

    model, info, frames = trained
    r, v, s, box = frames.positions[0, 0], frames.velocities[0, 0], frames.species, frames.box
    reference = rollout(model, info, r, v, s, box, 10)
    calls = []
    real = step.rollout_capacity

    def tiny_first(n_edges):
        calls.append(n_edges)
        return 100 if len(calls) == 1 else real(n_edges)

    monkeypatch.setattr(step, "rollout_capacity", tiny_first)
    messages = []
    grown = rollout(model, info, r, v, s, box, 10, log=messages.append)
    assert any("beyond its capacity 100: redoing the predictions" in m for m in messages)
    np.testing.assert_allclose(grown.positions, reference.positions, rtol=1e-6, atol=1e-6)

    from flax import nnx

    broken = nnx.clone(model)  # the fixture's model is shared
    broken.target_normalizer.m2[...] = jnp.full(6, jnp.inf)
    broken.target_normalizer.count[...] = jnp.asarray(1.0)
    monkeypatch.setattr(step, "rollout_capacity", real)
    with pytest.raises(RolloutError, match=r"non-finite positions or velocities at prediction 1 \(MD step 5\)"):
        rollout(broken, info, r, v, s, box, 10)


def test_metrics():
    box = 10.0
    a = np.zeros((2, 4, 3))
    b = a.copy()
    b[:, 0, 0] = 9.9  # 0.1 away through the boundary
    np.testing.assert_allclose(metrics.rmse(b, a, box), np.sqrt(0.01 / 12))
    positions = np.stack([np.zeros((3, 3)), np.ones((3, 3))])
    np.testing.assert_allclose(metrics.msd(positions), [0.0, 0.0])  # the whole box drifting is not diffusion
    positions[1] = 0.0
    positions[1, 0, 0] = 3.0  # centre of mass moves by 1: displacements 2, -1, -1 about it
    np.testing.assert_allclose(metrics.msd(positions), [0.0, 2.0])
    np.testing.assert_allclose(metrics.msd(positions, np.array([2.0, 1.0, 1.0])), [0.0, 1.5**2])  # shift 1.5
    assert metrics.velocity_scale(get_system("lj")) == pytest.approx(np.sqrt(3.0))
    assert metrics.velocity_scale(get_system("lj"), 0.5) == pytest.approx(np.sqrt(0.5))  # a glass
    t = np.linspace(0, 4, 401)
    ballistic_then_diffusive = np.where(t < 1, t**2, t)  # log-log slope 2, then 1 from t = 1
    assert metrics.cage_length(get_system("lj"), t, ballistic_then_diffusive) == pytest.approx(1.0, rel=0.03)
    ideal = np.random.default_rng(0).uniform(0, box, (20, 400, 3))
    _, g = metrics.rdf(ideal, box, 4.0, bins=20)
    assert np.abs(g[5:] - 1).max() < 0.1  # an ideal gas has g = 1


def test_evaluate_writes_report_with_baselines(small_run, lj_dataset, tmp_path):
    from ogn.evaluate.report import evaluate_run

    s = evaluate_run(small_run, lj_dataset, tmp_path, n_starts=2, horizon=10, long_steps=20, energy_starts=2,
                     log=lambda m: None)
    assert set(s["final_rmse"]) == {"ogn", "standing still", "constant velocity", "zero velocity", "MD at 5 dt",
                                    "MD from a 0.001 sigma kick"}
    # velocity Verlet at 5 dt = 0.025 blows up in the LJ liquid at T = 3 (measured: T ~ 1e33 by 20 steps),
    # which is the paper's point; constant velocity is finite and no better than MD's own scale
    assert s["final_rmse"]["MD at 5 dt"]["position"] is None
    assert 0 < s["final_rmse"]["constant velocity"]["velocity"] < 5 * np.sqrt(3.0)
    assert s["velocity_scale"] == pytest.approx(np.sqrt(3.0))
    # zero velocity scores the thermal scale; the kicked MD, the floor, is far below every learned error here
    assert s["final_rmse"]["zero velocity"]["velocity"] == pytest.approx(np.sqrt(3.0), rel=0.1)
    assert s["final_rmse"]["MD from a 0.001 sigma kick"]["position"] < 0.01
    assert len(s["long_rollout"]["ogn_energy_change_per_atom"]) == 2
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["final_rmse"] == s["final_rmse"]
    report = (tmp_path / "report.md").read_text()
    assert "| MD at 5 dt | blew up |" in report
    assert f"**Verdict.** {s['verdict']['sentence']}" in report and not s["verdict"]["met"]  # 40 steps of training
    assert set(s["verdict"]["checks"]) == {"position", "velocity", "energy"}
    for name in s["figures"]:
        assert (tmp_path / name).stat().st_size > 0 and f"]({name})" in report


def test_rollout_command_writes_a_trajectory(small_run, lj_dataset, tmp_path):
    from ogn.cli import main

    out = tmp_path / "r.h5"
    init = lj_dataset / "test" / "traj-000.h5"
    assert main(["rollout", str(small_run), "--init", str(init), "--steps", "20", "--out", str(out)]) == 0
    t, start = read_trajectory(out), read_trajectory(init, frames=-1)
    first = int(start.steps)  # the start is frame 0, and the steps go on from its step
    assert t.status == "complete" and list(t.steps) == [first, first + 5, first + 10, first + 15, first + 20]
    np.testing.assert_allclose(t.positions[0], start.positions, rtol=1e-6)  # stored in float32, as computed
    assert t.positions.dtype == np.float32
    assert np.isnan(t.potential_energy).all() and np.isfinite(t.kinetic_energy).all()  # energies are opt-in
    assert main(["rollout", str(small_run), "--init", str(init), "--steps", "20", "--out", str(out),
                 "--energies"]) == 0
    assert np.isfinite(read_trajectory(out).potential_energy).all()
    assert main(["rollout", str(small_run), "--init", str(init), "--steps", "20", "--out", str(out), "--every", "2"]) == 0
    assert list(read_trajectory(out).steps) == [first, first + 10, first + 20]
    assert main(["rollout", str(small_run), "--init", str(init), "--steps", "7", "--out", str(out)]) == 2
    assert read_trajectory(out).status == "complete"  # the earlier file is untouched


def test_rollout_streams_its_frames_to_the_file(small_run, lj_dataset, tmp_path, monkeypatch):
    """`ogn rollout` writes each chunk's kept predictions as they come (memory does not grow with the
    rollout): the file holds exactly the frames an in-memory rollout keeps, in H5MD and extxyz, and a
    rollout that fails leaves the earlier output untouched and what it had done beside it."""
    import ogn.simulator.driver
    from ogn.io.structures import read_extxyz_frames
    from ogn.simulator.files import rollout_to_file

    init = lj_dataset / "test" / "traj-000.h5"
    start = read_trajectory(init, frames=-1)
    model, info, _ = load_run(small_run)
    config = RolloutConfig(every=2, chunk_atom_predictions=3 * len(start.species))  # 3 predictions a chunk
    kept = rollout(model, info, start.positions, start.velocities, start.species, start.box, 50, config,
                   log=lambda m: None)
    h5, xyz = tmp_path / "r.h5", tmp_path / "r.extxyz"
    for out in (h5, xyz):
        rollout_to_file(small_run, init, out, 50, config, log=lambda m: None)
    t, frames = read_trajectory(h5), read_extxyz_frames(xyz)
    assert list(t.steps - t.steps[0]) == [0, *kept.steps] == [f.step - frames[0].step for f in frames]
    np.testing.assert_array_equal(t.positions[1:], kept.positions)
    np.testing.assert_array_equal(t.velocities[1:], kept.velocities)
    np.testing.assert_allclose(np.stack([f.positions for f in frames[1:]]), kept.positions, rtol=1e-6)

    real_chunk = ogn.simulator.driver.Driver._chunk

    def blow_up_second(self, state, n, with_frames):  # the rollout fails after its first chunk has been written
        if int(state.prediction) > 0:
            raise RolloutError("non-finite positions")
        return real_chunk(self, state, n, with_frames)

    monkeypatch.setattr(ogn.simulator.driver.Driver, "_chunk", blow_up_second)
    with pytest.raises(RolloutError):
        rollout_to_file(small_run, init, h5, 50, RolloutConfig(chunk_atom_predictions=3 * len(start.species)),
                        log=lambda m: None)
    assert read_trajectory(h5).status == "complete" and len(read_trajectory(h5).steps) == len(t.steps)
    failed = read_trajectory(tmp_path / "r.failed.h5")
    assert failed.status.startswith("failed: RolloutError") and len(failed.steps) == 4  # the start + 3


def test_rollout_keeps_every_eth_prediction_and_the_final_state(trained):
    """`every` thins what is kept (memory follows the output, not the rollout's length); the final state
    and every prediction's m v^2 per species are kept whatever `every` is."""
    model, info, frames = trained
    r, v = frames.positions[0, 0], frames.velocities[0, 0]
    full = rollout(model, info, r, v, frames.species, frames.box, 30, log=lambda s: None)
    thin = rollout(model, info, r, v, frames.species, frames.box, 30, RolloutConfig(every=2), log=lambda s: None)
    np.testing.assert_array_equal(thin.steps, [10, 20, 30])
    np.testing.assert_array_equal(thin.positions, full.positions[1::2])
    np.testing.assert_array_equal(thin.final_velocities, full.velocities[-1])
    np.testing.assert_array_equal(thin.species_mv2, full.species_mv2)
    a = frames.species == 0  # LJ masses are 1
    np.testing.assert_allclose(full.species_mv2[:, 0], np.sum(full.velocities[:, a].astype(np.float64) ** 2, axis=(1, 2)))


def test_cell_list_graphs_give_the_dense_rollout(trained, monkeypatch):
    from ogn.simulator import step

    model, info, frames = trained
    r, v, s, box = frames.positions[0, 3], frames.velocities[0, 3], frames.species, frames.box
    dense = rollout(model, info, r, v, s, box, 20)
    monkeypatch.setattr(step, "DENSE_MAX_ATOMS", 0)
    sparse = rollout(model, info, r, v, s, box, 20, RolloutConfig(skin=0.3))
    np.testing.assert_allclose(sparse.positions, dense.positions, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sparse.velocities, dense.velocities, rtol=1e-5, atol=1e-4)


def test_reproduce_rejects_unknown_figures_and_labels_quick_figures(tmp_path):
    from ogn.reproduce import SCALES, reproduce

    with pytest.raises(ValueError, match="unknown figure 'fig9'"):
        reproduce("fig9", "quick", tmp_path)
    assert "quick scale" in SCALES["quick"].note() and SCALES["paper"].note() == ""


@pytest.mark.slow
def test_reproduce_fig4b_quick(tmp_path):
    from ogn.reproduce import reproduce

    fig_dir = reproduce("fig4b", "quick", tmp_path, log=lambda s: None)
    metrics_ = json.loads((fig_dir / "lj-fast" / "metrics.json").read_text())
    assert metrics_["k"] == 5 and "quick scale" in metrics_["note"]
    assert (fig_dir / "lj-fast" / "energy.png").exists()


@pytest.mark.slow  # over 15 s on 2 cores: `make test-slow`
def test_bench_rollout_times_every_engine_and_counts_the_network(lj_dataset, tmp_path):
    """The runtime table: one row per size with all five timings (the last a trained run with a short graph
    cutoff), the graphs' sizes and the FLOP rate, and Figs. 4C/4D beside the Markdown file (tiny run: 10 MD
    steps at the preset's N)."""
    from flax import nnx

    from ogn.bench import bench_rollout, prediction_flops
    from ogn.model.config import ModelConfig
    from ogn.model.network import OGN
    from ogn.train import train_and_evaluate

    config = small_config(lj_dataset, steps=10, test_every=10, checkpoint_every=10)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, graph_cutoff=1.5))
    run = tmp_path / "short"
    train_and_evaluate(config, run, log=lambda s: None)
    assert json.loads((run / "run.json").read_text())["cutoff"] == 1.5
    out = tmp_path / "B.md"
    (row,) = bench_rollout(["lj"], [265], md_steps=10, threads=1, out=out, figures_dir=tmp_path,
                           log=lambda s: None, runs={"lj": run})
    for key in ("jax_md", "lammps_1", "lammps_n", "ogn", "ogn_gflops", "run"):
        assert row[key] > 0
    # the command's steady time and start-up are differences of whole-command wall times (t(40) - t(20) MD
    # steps here): at this tiny size they are within the noise of process start-up, so only finite
    assert np.isfinite(row["command"]) and np.isfinite(row["startup"]) and "| start-up (s) |" in out.read_text()
    assert 120 < row["edges_per_atom"] < 150  # 4/3 pi 3^3 x 1.2 atoms per sigma^3 = 136
    assert 10 < row["run_edges_per_atom"] < 25  # 4/3 pi 1.5^3 x 1.2 = 17 (fewer: no overlaps below ~0.9)
    text = out.read_text()
    assert "| lj | 265 | 5 |" in text and (tmp_path / "bench-rollout-4c.png").exists()
    assert f"lj `{run}`" in text
    # XLA's count grows with the edges as the dense layers' multiply-adds do: per edge, twice the edge MLPs'
    # kernel sizes (the first layer's edge block at half its rows) at least
    net = OGN(2, ModelConfig(layers=2), nnx.Rngs(0))
    frames = load_frames(lj_dataset, "test")
    r, v = frames.positions[0, 0], frames.velocities[0, 0]
    edges = [int(dense_graph(jnp.asarray(r, jnp.float32), frames.box, c, 1).n_edges) for c in (1.5, 2.5)]
    flops = [prediction_flops(net, v, frames.species, dense_graph(jnp.asarray(r, jnp.float32), frames.box, c, e))
             for c, e in zip((1.5, 2.5), edges)]
    layers = net.network.layers
    per_edge = sum(e.edge_block.kernel.size // (2 if i == 0 else 1) + e.out.kernel.size
                   for i, e in enumerate(layer.edge_mlp for layer in layers))
    per_edge += net.network.edge_encoder.hidden.kernel.size + net.network.edge_encoder.out.kernel.size
    assert (flops[1] - flops[0]) / (edges[1] - edges[0]) > 2 * per_edge


def test_rollout_ends_with_a_physics_summary(small_run, lj_dataset, tmp_path, capsys):
    from ogn.cli import main

    init = lj_dataset / "test" / "traj-000.h5"
    assert main(["rollout", str(small_run), "--init", str(init), "--steps", "20", "--out", str(tmp_path / "r.h5")]) == 0
    err = capsys.readouterr().err
    assert "T: " in err and "total momentum: |P_end - P_start|" in err and "warning" not in err
    assert "total energy: not computed" in err  # the true potential is what the simulator replaces: opt-in
    assert main(["rollout", str(small_run), "--init", str(init), "--steps", "20", "--out", str(tmp_path / "r.h5"),
                 "--energies"]) == 0
    assert "total energy change:" in capsys.readouterr().err


def _write_start(tmp_path, lj_dataset, change):
    from ogn.io.lammps_data import write_lammps_data
    from ogn.io.types import Structure

    t = read_trajectory(lj_dataset / "test" / "traj-000.h5", frames=slice(0, 1))
    positions, velocities = change(t.positions[0].copy(), t.velocities[0].copy())
    path = tmp_path / "start.data"
    write_lammps_data(path, Structure(positions, t.species, t.box, velocities), (1.0, 1.0))
    return path


def _nan_position(r, v):
    r[7, 1] = np.nan
    return r, v


@pytest.mark.parametrize(("change", "message"), [
    (_nan_position, r"start.data:\d+: non-finite value in Atoms line '8 "),  # the reader names the line
    (lambda r, v: (r, v * 1e6), "start.data: its velocities give T = .* check the velocity units"),
])
def test_rollout_refuses_a_start_that_cannot_be_simulated(small_run, lj_dataset, tmp_path, capsys, change, message):
    import re

    from ogn.cli import main

    init = _write_start(tmp_path, lj_dataset, change)
    out = tmp_path / "r.h5"
    assert main(["rollout", str(small_run), "--init", str(init), "--steps", "5", "--out", str(out)]) == 2
    assert re.search(message, " ".join(capsys.readouterr().err.split()))
    assert not out.exists()


def test_rollout_warns_about_a_start_unlike_the_training_data(small_run, lj_dataset, tmp_path, capsys):
    from ogn.cli import main

    init = _write_start(tmp_path, lj_dataset, lambda r, v: (r, 2 * v))  # T x 4
    assert main(["rollout", str(small_run), "--init", str(init), "--steps", "5", "--out", str(tmp_path / "r.h5")]) == 0
    assert "away from the training data" in " ".join(capsys.readouterr().err.split())


def test_rollout_checks_the_output_before_any_work(small_run, lj_dataset, tmp_path, capsys):
    from ogn.cli import main

    init = lj_dataset / "test" / "traj-000.h5"
    out = tmp_path / "missing-dir" / "r.h5"
    assert main(["rollout", str(small_run), "--init", str(init), "--steps", "5", "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_start_check_names_non_finite_velocities(trained):
    from ogn.simulator.checks import check_start
    from ogn.units import LJ

    _, info, frames = trained
    v = frames.velocities[0, 0].copy()
    v[3, 2] = np.inf
    with pytest.raises(ValueError, match="x.h5: non-finite velocities for 1 atom.s., the first atom 4"):
        check_start(info, frames.positions[0, 0], v, frames.species, frames.box, "x.h5", LJ)
    assert check_start(info, frames.positions[0, 0], frames.velocities[0, 0], frames.species, frames.box, "x.h5",
                       LJ) == []


def test_energy_correction_keeps_the_total_energy_and_the_momentum(small_run, lj_dataset, tmp_path, capsys):
    from ogn.cli import main
    from ogn.md.simulate import frame_energies

    init = lj_dataset / "test" / "traj-000.h5"
    out = tmp_path / "r.h5"
    assert main(["rollout", str(small_run), "--init", str(init), "--frame", "0", "--steps", "50", "--out", str(out),
                 "--energy-correction", "--energies"]) == 0
    t, start = read_trajectory(out), read_trajectory(init, frames=slice(0, 1))
    system = get_system("lj")
    pe0, ke0, p0 = frame_energies(system, start.species, start.positions, start.velocities, "float64")
    total = t.potential_energy + t.kinetic_energy
    # float32 positions and velocities: the total energy is kept to ~1e-5 of the kinetic energy per step
    assert np.abs(total - (pe0[0] + ke0[0])).max() < 1e-4 * ke0[0]
    momentum = np.einsum("fnk->fk", t.velocities)  # LJ masses are 1
    assert np.abs(momentum - p0[0]).max() < 1e-4 * np.sqrt(len(t.species) * 3.0)


def test_rollout_command_passes_its_skin_to_the_cell_list(small_run, lj_dataset, tmp_path, monkeypatch, capsys):
    from ogn.cli import main
    from ogn.simulator import step

    init = lj_dataset / "test" / "traj-000.h5"
    out = tmp_path / "r.h5"
    assert main(["rollout", str(small_run), "--init", str(init), "--steps", "20", "--out", str(out), "--skin", "0"]) == 2
    assert "--skin must be positive and finite, got 0.0" in capsys.readouterr().err
    assert not out.exists()
    skins = []
    real = step.sparse_neighbor_fn
    monkeypatch.setattr(step, "DENSE_MAX_ATOMS", 0)  # the cell list, as above 2000 atoms
    monkeypatch.setattr(step, "sparse_neighbor_fn", lambda box, cutoff, skin: skins.append(skin) or real(box, cutoff, skin))
    assert main(["rollout", str(small_run), "--init", str(init), "--steps", "20", "--out", str(out), "--skin", "0.4"]) == 0
    assert skins == [0.4]


def test_default_skin_follows_the_fastest_atom():
    from ogn.simulator.step import default_skin

    v = np.zeros((4, 3))
    v[2] = [3.0, 4.0, 0.0]  # |v| = 5
    assert default_skin(5.0, v, 0.1) == pytest.approx(1.0)  # twice 5 x 0.1
    assert default_skin(5.0, v, 0.01) == pytest.approx(0.5)  # at least 0.1 x the cutoff
    assert default_skin(5.0, v, 1.0) == pytest.approx(2.5)  # at most 0.5 x the cutoff
    v[0, 0] = np.nan
    assert default_skin(5.0, v, 0.1) == pytest.approx(0.5)  # never a NaN skin
