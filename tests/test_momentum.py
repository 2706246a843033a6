"""Total linear momentum is conserved by every prediction, so by every rollout, to float32 rounding:
an untrained model on a random state with unequal masses, and each shipped model over 1000 MD steps."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from ogn.model.checkpoint import load_run
from ogn.model.config import ModelConfig
from ogn.model.network import OGN, conserve_momentum
from ogn.simulator import rollout
from ogn.systems import get_system

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for p in (ROOT / "models").iterdir() if (p / "checkpoint.npz").is_file())


def momentum_and_centre(masses, positions, velocities):
    """(S, 3) total momentum and centre of mass of (S, N, 3) frames, in float64."""
    m = np.asarray(masses, np.float64)
    return (np.einsum("n,snk->sk", m, velocities.astype(np.float64)),
            np.einsum("n,snk->sk", m, positions.astype(np.float64)) / m.sum())


def check_conserved(masses, r0, v0, result, step_time, thermal_momentum):
    p, centre = momentum_and_centre(masses, result.positions, result.velocities)
    p0, centre0 = momentum_and_centre(masses, r0[None], v0[None])
    # float32 rounding of sum_i m_i v_i over N atoms and S predictions: ~1e-7 sqrt(N S) of one term
    assert np.abs(p - p0).max() < 1e-4 * thermal_momentum, np.abs(p - p0).max() / thermal_momentum
    times = step_time * np.arange(1, len(p) + 1)[:, None]
    expected_centre = centre0 + p0 / np.sum(masses) * times
    length = np.abs(r0).max()
    assert np.abs(centre - expected_centre).max() < 1e-5 * length


@pytest.mark.float64
def test_projection_keeps_momentum_and_true_changes():
    rng = np.random.default_rng(0)
    n = 40
    masses = jnp.asarray(rng.uniform(1, 90, n))
    v = jnp.asarray(rng.normal(size=(n, 3)))
    dr, dv = jnp.asarray(rng.normal(size=(n, 3))), jnp.asarray(rng.normal(size=(n, 3)))
    dr2, dv2 = conserve_momentum(dr, dv, v, masses, 0.05)
    np.testing.assert_allclose(jnp.sum(masses[:, None] * dv2, 0), 0, atol=1e-10)
    np.testing.assert_allclose(jnp.sum(masses[:, None] * dr2, 0) / masses.sum(),
                               jnp.sum(masses[:, None] * v, 0) / masses.sum() * 0.05, atol=1e-10)
    # a change that already conserves momentum is left as it is
    dr3, dv3 = conserve_momentum(dr2, dv2, v, masses, 0.05)
    np.testing.assert_allclose(dr3, dr2, atol=1e-12)
    np.testing.assert_allclose(dv3, dv2, atol=1e-12)


def test_untrained_model_on_a_random_state_conserves_momentum():
    """Unequal masses, a drifting start (nonzero total momentum) and a network whose raw output carries a
    large mean: 1000 MD steps keep P and move the centre of mass at P / M."""
    system = get_system("silica")
    rng = np.random.default_rng(3)
    species = system.species()
    masses = system.atom_masses(species)
    model = OGN(2, ModelConfig(layers=2, latent=16, hidden=16, graph_cutoff=5.0), nnx.Rngs(1))
    model.target_normalizer.count[...] = jnp.asarray(1.0)
    model.target_normalizer.mean[...] = jnp.asarray([1e-3] * 3 + [0.5] * 3, jnp.float32)
    model.target_normalizer.m2[...] = jnp.asarray([1e-6] * 3 + [1.0] * 3, jnp.float32)
    r = rng.uniform(0, system.sides, (len(species), 3))
    v = rng.normal(0, 5.0, (len(species), 3)) + 2.0
    info = {"k": 10, "dt": system.dt, "cutoff": 5.0, "system": system.describe()}
    result = rollout(model, info, r, v, species, system.sides, 1000, log=lambda s: None)
    thermal = np.sqrt(np.sum(masses) * np.mean(masses) * 25.0)
    check_conserved(masses, r.astype(np.float32), v.astype(np.float32), result, 10 * system.dt, thermal)


@pytest.mark.parametrize("run", SHIPPED, ids=lambda p: p.name)
def test_shipped_model_conserves_momentum_over_1000_md_steps(run, lammps_snapshot):
    model, info, _ = load_run(run)
    system = info["system"]
    start = lammps_snapshot("lj" if system["name"] == "lj" else system["name"])
    masses = np.asarray(system["masses"])[start.species]
    result = rollout(model, info, start.positions, start.velocities, start.species, start.box, 1000,
                     log=lambda s: None)
    from ogn.units import UNITS

    units = UNITS[system["units"]]
    thermal = np.sqrt(np.sum(masses) * np.mean(masses) * units.boltzmann * system["temperature"] / units.mvv2e)
    check_conserved(masses, start.positions.astype(np.float32), start.velocities.astype(np.float32), result,
                    int(info["k"]) * float(info["dt"]), thermal)
