"""Datasets of k-step pairs, training configs, the epoch schedule, checkpoints and resume, and learning."""

import contextlib
import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import LJ_DATASET_SPEC as SPEC
from conftest import small_config

from ogn.data.dataset import DatasetError, load_frames, make_dataset, read_metadata
from ogn.io.h5md import read_trajectory
from ogn.model.checkpoint import load_run
from ogn.model.config import ModelConfig
from ogn.systems import get_system
from ogn.train import RunConfig, TrainConfig, load_config, train_and_evaluate
from ogn.train.batches import Schedule


def test_dataset_files_metadata_and_targets(lj_dataset):
    meta = read_metadata(lj_dataset)
    assert meta["spec"]["steps"] == 150 and meta["frames_per_trajectory"] == 155
    assert meta["system"]["name"] == "lj" and meta["system"]["neighbor_cutoff"] == 3.0
    seeds = [e["seed"] for e in meta["train"] + meta["test"]]
    assert len(set(seeds)) == 3  # independent trajectories
    frames = load_frames(lj_dataset, "train")
    assert frames.positions.shape == (2, 155, 265, 3)
    starts = frames.pair_starts(5)
    assert len(starts) == 2 * 150  # `steps` pairs per trajectory for every k <= k_max
    # targets from wrapped positions (through the minimum image) equal the unwrapped differences
    targets = frames.targets(starts, 5)
    t, f = starts[:, 0], starts[:, 1]
    np.testing.assert_allclose(targets[:, :, :3], frames.positions[t, f + 5] - frames.positions[t, f], atol=1e-12)
    crossed = np.floor(frames.positions[t, f + 5] / frames.box) != np.floor(frames.positions[t, f] / frames.box)
    assert crossed.any()  # some atoms crossed the box during a pair, so the check above means something
    wrapped = dataclasses.replace(frames, positions=np.mod(frames.positions, frames.box))
    np.testing.assert_allclose(wrapped.targets(starts, 5), targets, atol=1e-12)
    test = load_frames(lj_dataset, "test").spread_starts(5, 10)
    assert len(test) == 10 and len(np.unique(test[:, 1])) == 10


def test_dataset_keeps_complete_trajectories_and_refuses_another_spec(lj_dataset, tmp_path):
    before = read_trajectory(lj_dataset / "train/traj-000.h5", frames=slice(0, 1)).positions
    messages = []
    make_dataset(get_system("lj"), SPEC, lj_dataset, log=messages.append)
    assert sum("already there" in m for m in messages) == 3
    np.testing.assert_array_equal(read_trajectory(lj_dataset / "train/traj-000.h5", frames=slice(0, 1)).positions,
                                  before)
    with pytest.raises(DatasetError, match="different dataset"):
        make_dataset(get_system("lj"), dataclasses.replace(SPEC, steps=10), lj_dataset, log=messages.append)
    with pytest.raises(DatasetError, match="no dataset.json"):
        read_metadata(tmp_path)
    with pytest.raises(DatasetError, match="LJ units"):
        make_dataset(get_system("silica"), dataclasses.replace(SPEC, glass=True), tmp_path / "g", log=print)
    assert not (tmp_path / "g").exists()


def test_config_from_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: d\nmodel:\n  layers: 2\ntrain:\n  k: 5\n  learning_rate: 1e-4\n")
    config = load_config(path, steps=7)
    assert config.model.layers == 2 and config.train.k == 5 and config.train.steps == 7
    assert config.train.learning_rate == 1e-4  # YAML 1.1 reads 1e-4 as a string
    path.write_text("data: d\ntrain:\n  lr: 1\n")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['lr'\]"):
        load_config(path)
    path.write_text("data: d\ntrain:\n  k: 2.5\n")
    with pytest.raises(ValueError, match="train.k: expected an integer"):
        load_config(path)
    path.write_text("model: {layers: 2}\n")
    with pytest.raises(ValueError, match="names no dataset"):
        load_config(path)
    path.write_text("data: d\nmodel:\n  graph_cutoff: 0\n")
    with pytest.raises(ValueError, match="graph_cutoff must be > 0"):
        load_config(path)
    path.write_text("data: d\nmodel:\n  graph_cutoff: 2.5\n")
    assert load_config(path).model.graph_cutoff == 2.5


def test_graph_cutoff_beyond_half_the_box_is_refused(lj_dataset, tmp_path):
    config = small_config(lj_dataset)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, graph_cutoff=3.5))  # box 6.04
    with pytest.raises(ValueError, match="graph_cutoff 3.5 is more than half the dataset's smallest box side"):
        train_and_evaluate(config, tmp_path / "run", log=lambda s: None)


def test_schedule_covers_each_pair_once_per_epoch_and_resumes_identically():
    schedule = Schedule(n_pairs=37, batch_size=3, seed=4, n_symmetries=48)
    picks = schedule.picks(0, 37)  # 111 pairs: three epochs
    flat = picks.reshape(-1, 3)
    for e in range(3):
        assert sorted(flat[37 * e : 37 * (e + 1), 0]) == list(range(37))
    assert not np.array_equal(flat[:37], flat[37:74])
    assert len(np.unique(flat[:, 1])) > 10  # symmetries vary
    np.testing.assert_array_equal(np.concatenate([schedule.picks(0, 11), schedule.picks(11, 26)]), picks)
    np.testing.assert_array_equal(Schedule(37, 3, 4, 48).picks(20, 5), picks[20:25])
    assert not Schedule(37, 1, 4, 1).picks(0, 37)[..., 1].any()


def test_resume_continues_exactly_and_interrupt_leaves_a_checkpoint(lj_dataset, tmp_path):
    straight = tmp_path / "straight"
    train_and_evaluate(small_config(lj_dataset), straight, log=lambda s: None)

    @contextlib.contextmanager
    def interrupt_after_20(description, total, start=0):
        done = [start]

        def advance(n, **fields):
            done[0] += n
            if done[0] >= 20:
                raise KeyboardInterrupt

        yield advance

    split = tmp_path / "split"
    with pytest.raises(KeyboardInterrupt):
        train_and_evaluate(small_config(lj_dataset), split, log=lambda s: None, progress_factory=interrupt_after_20)
    assert json.loads((split / "run.json").read_text())["step"] == 20
    with pytest.raises(FileExistsError):
        train_and_evaluate(small_config(lj_dataset), split, log=lambda s: None)
    train_and_evaluate(small_config(lj_dataset), split, resume=True, log=lambda s: None)

    a, info_a, _ = load_run(straight)
    b, info_b, _ = load_run(split)
    assert info_a["step"] == info_b["step"] == 40
    from flax import nnx

    for x, y in zip(*(__import__("jax").tree.leaves(nnx.state(m)) for m in (a, b))):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    curve = (split / "curve.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in curve[1:]] == ["0", "20", "40"]
    with pytest.raises(ValueError, match="only train.steps and train.devices may change"):
        config = small_config(lj_dataset)
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, k=3))
        train_and_evaluate(config, split, resume=True, log=lambda s: None)


def test_edge_capacity_overflow_grows_and_redoes(lj_dataset):
    from ogn.train.batches import PairData
    from ogn.train.trainer import Trainer

    config = small_config(lj_dataset)
    train = PairData.from_frames(load_frames(lj_dataset, "train"), 5)
    test = PairData.from_frames(load_frames(lj_dataset, "test"), 5, starts=np.array([[0, 0], [0, 7]]))
    picks = Schedule(len(train.starts), 1, 0, True).picks(0, 10)
    ample = Trainer(config, train, test, 2, 3.0, 40_000, 0.025)
    small = Trainer(config, train, test, 2, 3.0, 1000, 0.025)  # ~36 000 edges needed
    # equal up to float32 rounding: a different padding length changes the order of the reductions
    np.testing.assert_allclose(small.run_steps(picks), ample.run_steps(picks), rtol=1e-6)
    assert small.capacity > 30_000
    assert small.evaluate() == pytest.approx(ample.evaluate(), rel=1e-6)


def test_short_training_learns(lj_dataset, tmp_path):
    """Predicting the mean of the standardised targets scores 1. Learning dr ~ v k dt alone halves that, so
    a test loss below 0.6 after 300 steps means the network uses its inputs (measured: 0.55)."""
    config = RunConfig(data=str(lj_dataset), model=ModelConfig(layers=2),
                       train=TrainConfig(k=5, steps=300, learning_rate=1e-3, test_every=300, test_pairs=10,
                                         steps_per_call=50))
    info = train_and_evaluate(config, tmp_path / "run", log=lambda s: None)
    print(f"test loss after 300 steps: {info['test_loss']:.3f}")
    assert info["test_loss"] < 0.6
    curve = (tmp_path / "run" / "curve.csv").read_text().splitlines()
    assert float(curve[1].split(",")[3]) > 1.0  # the untrained network's test loss
    assert (tmp_path / "run" / "curve.png").stat().st_size > 0


def test_every_shipped_config_loads():
    from pathlib import Path

    paths = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))
    assert len(paths) >= 9
    for path in paths:
        generic = "data:" not in path.read_text()  # fast.yaml: for any dataset, given with --data
        config = load_config(path, data="data/mine" if generic else None)
        assert config.train.k >= 1 and config.model.layers in (2, 10)


def test_sigterm_stops_ogn_train_with_a_checkpoint(lj_dataset, tmp_path):
    """`kill`, `timeout` and batch schedulers send SIGTERM (and background jobs ignore SIGINT): training
    stops as on Ctrl-C, with a checkpoint that --resume continues."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    config = small_config(lj_dataset, steps=100_000, checkpoint_every=20)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "ogn.cli", "train", str(path), "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=os.environ | {"COLUMNS": "200"})
    deadline = time.time() + 300
    while not (run / "checkpoint.npz").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 143, output  # 128 + SIGTERM, as the shell reports it
    assert "interrupted: checkpoint at step" in output
    assert json.loads((run / "run.json").read_text())["step"] >= 20


@pytest.mark.float64
def test_residual_targets_are_the_exact_inverse_of_the_prediction(monkeypatch):
    """A network that outputs the standardised residual target exactly gives back the true [dr, dv]."""
    from flax import nnx

    from ogn.model.network import OGN

    rng = np.random.default_rng(0)
    v, changes = jnp.asarray(rng.normal(size=(20, 3))), jnp.asarray(rng.normal(size=(20, 6)))
    model = OGN(2, ModelConfig(layers=1, latent=8, hidden=8, targets="residual"), nnx.Rngs(0), step_time=0.025)
    model.target_normalizer.update(model.network_target(v, changes))
    exact = model.target_normalizer(model.network_target(v, changes))
    monkeypatch.setattr(OGN, "standardised_output", lambda self, *a: exact)
    dr, dv = model.raw_prediction(v, None, None)
    np.testing.assert_allclose(np.c_[dr, dv], changes, atol=1e-12)
    np.testing.assert_allclose(model.network_target(v, changes)[:, :3], changes[:, :3] - 0.025 * v)
    with pytest.raises(ValueError, match="residual targets need"):
        OGN(2, ModelConfig(targets="residual"), nnx.Rngs(0))


def test_noisy_inputs_keep_targets_on_the_true_state(lj_dataset):
    from ogn.data.symmetry import cube_symmetries
    from ogn.train.batches import PairData, batch_graph

    frames = load_frames(lj_dataset, "train")
    data = PairData.from_frames(frames, 5)
    picks = jnp.asarray([[0, 3, 0], [1, 10, 0]])
    sym = jnp.asarray(cube_symmetries(), jnp.float32)
    clean = batch_graph(data, picks, sym, 2.0, 40_000)
    noisy = batch_graph(data, picks, sym, 2.0, 40_000, noise=(0.01, 0.3), key=jax.random.key(1))
    v_clean, v_noisy, t_clean, t_noisy = clean[0], noisy[0], clean[3], noisy[3]
    assert 0.2 < float(jnp.std(v_noisy - v_clean)) < 0.4
    np.testing.assert_allclose(v_noisy + t_noisy[:, 3:], v_clean + t_clean[:, 3:], atol=1e-5)
    shift = np.asarray(t_clean[:, :3] - t_noisy[:, :3])
    assert 0.005 < shift.std() < 0.015


@pytest.mark.slow  # over 15 s on 2 cores: `make test-slow`
def test_training_with_residual_targets_and_noise_runs(lj_dataset, tmp_path):
    from ogn.model.equivariant import EquivariantCore

    config = small_config(lj_dataset, noise=0.05, augment=False)
    for network in ("ogn", "equivariant"):
        model = ModelConfig(layers=1, latent=16, hidden=16, targets="residual", network=network)
        info = train_and_evaluate(dataclasses.replace(config, model=model), tmp_path / network, log=lambda s: None)
        model, _, model_config = load_run(tmp_path / network)
        assert model_config.targets == "residual" and model.step_time == pytest.approx(5 * 0.005)
        assert isinstance(model.network, EquivariantCore) == (network == "equivariant")
        assert np.isfinite(info["test_loss"])


def test_push_forward_batch_ends_on_the_true_state(lj_dataset):
    """unroll = 2: one prediction (here a fixed change) from each start, then the target from the state
    reached to the true state two predictions (2k MD steps) after the start."""
    from ogn.data.symmetry import cube_symmetries
    from ogn.train.batches import PairData, batch_graph

    frames = load_frames(lj_dataset, "train")
    data = PairData.from_frames(frames, 5)
    picks = jnp.asarray([[0, 3, 0], [1, 40, 0]])
    sym = jnp.asarray(cube_symmetries(), jnp.float32)
    shift = lambda v, s, g: (jnp.full_like(v, 0.01), jnp.full_like(v, 0.1))
    velocities, _, _, targets, _ = batch_graph(data, picks, sym, 2.0, 40_000, unroll=2, predict=shift)
    true = frames.targets(np.asarray([[0, 3], [1, 40]]), 10).reshape(-1, 6)  # float64, over 2k = 10 MD steps
    np.testing.assert_allclose(targets, true - np.r_[[0.01] * 3, [0.1] * 3], atol=2e-5)
    np.testing.assert_allclose(velocities, np.concatenate([frames.velocities[0, 3], frames.velocities[1, 40]]) + 0.1,
                               atol=1e-5)


@pytest.mark.slow  # over 15 s on 2 cores: `make test-slow`
def test_push_forward_training_runs(lj_dataset, tmp_path):
    info = train_and_evaluate(small_config(lj_dataset, unroll=3, unroll_warmup=20), tmp_path / "run", log=lambda s: None)
    assert np.isfinite(info["test_loss"])
    # the equivariant model unrolled from the very first step, before any statistics: finite
    config = small_config(lj_dataset, unroll=2, unroll_warmup=0, augment=False, steps=20)
    config = dataclasses.replace(config, model=ModelConfig(layers=1, latent=16, hidden=16, network="equivariant"))
    assert np.isfinite(train_and_evaluate(config, tmp_path / "eq", log=lambda s: None)["test_loss"])
    with pytest.raises(ValueError, match="longer than the trajectories"):
        train_and_evaluate(small_config(lj_dataset, unroll=40), tmp_path / "run2", log=lambda s: None)


def test_a_reversed_pair_runs_the_same_pair_backwards_in_time(lj_dataset):
    """(r', -v') + [-dr, dv] = (r, -v): the reversed pick starts where the forward pair ends and leads back."""
    from ogn.train.batches import PairData, configurations

    data = PairData.from_frames(load_frames(lj_dataset, "train"), 5)
    identity = jnp.eye(3)[None]
    forward, backward = (configurations(data, jnp.asarray([[1, 7, 0, b]]), identity) for b in (0, 1))
    span = data.span
    np.testing.assert_array_equal(backward[0][0], data.positions[1, 7 + span])
    np.testing.assert_array_equal(backward[1][0], -data.velocities[1, 7 + span])
    np.testing.assert_array_equal(backward[2][0], forward[2][0] * jnp.asarray([-1, -1, -1, 1, 1, 1.0]))
    sides = data.sides
    back_to = np.mod(np.asarray(backward[0][0] + backward[2][0][:, :3]), sides)
    gap = np.abs(back_to - np.asarray(data.positions[1, 7]))
    np.testing.assert_allclose(np.minimum(gap, sides - gap), 0, atol=1e-4)
    np.testing.assert_allclose(backward[1][0] + backward[2][0][:, 3:], -data.velocities[1, 7], atol=1e-4)


def test_schedule_reverses_the_asked_fraction_and_none_by_default():
    picks = Schedule(1000, 1, 0, 48, reversal=0.5).picks(0, 2000)
    assert 0.45 < picks[..., 2].mean() < 0.55
    np.testing.assert_array_equal(Schedule(1000, 1, 0, 48, reversal=0.5).picks(700, 600), picks[700:1300])
    plain = Schedule(1000, 1, 0, 48).picks(0, 2000)
    assert not plain[..., 2].any()
    # the paper's runs see the pairs and symmetries they always saw
    np.testing.assert_array_equal(plain[..., :2], Schedule(1000, 1, 0, 48, reversal=0.0).picks(0, 2000)[..., :2])


def test_cosine_schedule_warms_up_and_ends_at_the_final_rate_at_the_last_step():
    from ogn.train.trainer import learning_rate_schedule

    c = TrainConfig(steps=1000, learning_rate=5e-3, lr_final=1e-5, schedule="cosine", warmup_steps=100)
    lr = learning_rate_schedule(c)
    assert float(lr(0)) == 0 and float(lr(50)) == pytest.approx(2.5e-3)
    assert float(lr(100)) == pytest.approx(5e-3) and float(lr(550)) == pytest.approx((5e-3 + 1e-5) / 2, rel=1e-3)
    assert float(lr(1000)) == pytest.approx(1e-5)
    paper = learning_rate_schedule(TrainConfig(learning_rate=1e-3, lr_decay_steps=100, lr_decay_rate=0.1, lr_final=1e-6))
    assert float(paper(100)) == pytest.approx(1e-4) and float(paper(0)) == pytest.approx(1e-3)


@pytest.mark.parametrize("setting", [{"schedule": "linear"}, {"optimizer": "sgd"}, {"ema_decay": 1.0},
                                     {"time_reversal": 1.5}, {"velocity_weight": 0.0}, {"grad_clip": -1.0},
                                     {"warmup_steps": 50, "steps": 50}])
def test_training_regime_settings_are_checked_on_load(setting):
    with pytest.raises(ValueError, match="train."):
        TrainConfig(**setting)


def test_velocity_weight_weighs_the_dv_error(small_run):
    from ogn.model.graph import dense_graph

    model, info, _ = load_run(small_run)
    frames = load_frames(info["dataset"], "test")
    r, v = jnp.asarray(frames.positions[0, 0], jnp.float32), jnp.asarray(frames.velocities[0, 0], jnp.float32)
    graph = dense_graph(jnp.mod(r, frames.box), frames.box, float(info["cutoff"]), len(r) * (len(r) - 1))
    targets = jnp.asarray(frames.targets(np.asarray([[0, 0]]), 5)[0], jnp.float32)
    species = jnp.asarray(frames.species)
    error = model.standardised_output(v, species, graph) - model.standardise(model.network_target(v, targets))
    e_r, e_v = float(jnp.mean(error[:, :3] ** 2)), float(jnp.mean(error[:, 3:] ** 2))
    assert float(model.loss(v, species, graph, targets)) == pytest.approx((e_r + e_v) / 2, rel=1e-5)
    assert float(model.loss(v, species, graph, targets, 3.0)) == pytest.approx((e_r + 3 * e_v) / 4, rel=1e-5)


def test_ema_weights_are_tested_shipped_and_resumed(lj_dataset, tmp_path):
    from flax import nnx

    from ogn.model.checkpoint import read_checkpoint

    regime = {"ema_decay": 0.9, "schedule": "cosine", "warmup_steps": 5, "grad_clip": 1.0, "optimizer": "amsgrad",
              "time_reversal": 0.5, "learning_rate": 3e-3}
    straight = tmp_path / "straight"
    train_and_evaluate(small_config(lj_dataset, **regime), straight, log=lambda s: None)
    _, arrays = read_checkpoint(straight / "checkpoint.npz")
    kernel = "params/network/decoder/out/kernel"
    assert not np.array_equal(arrays[kernel], arrays["training_" + kernel])  # the average is not the last step
    split = tmp_path / "split"
    with pytest.raises(KeyboardInterrupt):
        train_and_evaluate(small_config(lj_dataset, **regime), split, log=lambda s: None,
                           stop_requested=lambda: (split / "checkpoint.npz").exists())  # after step 20
    train_and_evaluate(small_config(lj_dataset, **regime), split, resume=True, log=lambda s: None)
    a, b = load_run(straight)[0], load_run(split)[0]
    for x, y in zip(jax.tree.leaves(nnx.state(a)), jax.tree.leaves(nnx.state(b))):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    curve = (straight / "curve.csv").read_text().splitlines()
    assert np.isfinite(float(curve[-1].split(",")[3]))
