"""The model contract, run over every network in the registry (permutation, translation, periodic images,
locality, a batch equals its single configurations, exact momentum; rotations for the symmetric ones),
the paper network's own structure (layer coupling, edge orders, features, aggregation), the online
normaliser, and the cube-symmetry augmentation."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from ogn.data.symmetry import apply_symmetry, cube_symmetries
from ogn.model.config import ModelConfig
from ogn.model.graph import dense_graph, neighbor_list_graph
from ogn.model.network import OGN
from ogn.model.normalizer import Normalizer
from ogn.model.registry import NETWORKS
from ogn.systems import get_system

CUTOFF = 3.0
CAPACITY = 40_000


@pytest.fixture(scope="module")
def config(request):
    """An LJ liquid configuration (from LAMMPS) with velocities and species."""
    snap = request.getfixturevalue("lammps_snapshot")("lj")
    return snap.positions, snap.velocities, snap.species, get_system("lj").sides


def make_model(layers=2, order="per-node", seed=0):
    model = OGN(2, ModelConfig(layers=layers, edge_first_layer=order), nnx.Rngs(seed))
    # non-trivial statistics, so that the normalisers take part
    rng = np.random.default_rng(1)
    n = 50
    model.node_normalizer.update(jnp.asarray(np.c_[np.eye(2)[rng.integers(0, 2, n)], rng.normal(0, 1.7, (n, 3))]))
    vectors = rng.uniform(-3, 3, (n, 3))
    model.edge_normalizer.update(jnp.asarray(np.c_[vectors, np.linalg.norm(vectors, axis=1)]))
    model.target_normalizer.update(jnp.asarray(rng.normal(0, 0.01, (n, 6))))
    return model


def predict(model, positions, velocities, species, box, capacity=CAPACITY):
    graph = dense_graph(jnp.asarray(positions), box, CUTOFF, capacity)
    assert int(graph.n_edges) <= capacity
    dr, dv = model.raw_prediction(jnp.asarray(velocities), jnp.asarray(species), graph)
    return np.concatenate([np.asarray(dr), np.asarray(dv)], -1)


def test_permutation_equivariance(config):
    positions, velocities, species, box = config
    model = make_model()
    perm = np.random.default_rng(0).permutation(len(species))
    out = predict(model, positions, velocities, species, box)
    out_perm = predict(model, positions[perm], velocities[perm], species[perm], box)
    np.testing.assert_allclose(out_perm, out[perm], rtol=1e-5, atol=1e-7)


def test_translation_invariance_and_periodic_images(config):
    positions, velocities, species, box = config
    model = make_model()
    out = predict(model, positions, velocities, species, box)
    shifted = predict(model, positions + np.array([0.37, -1.2, 2.9]), velocities, species, box)
    images = np.random.default_rng(0).integers(-3, 4, positions.shape)
    unwrapped = predict(model, np.mod(positions, box) + images * box, velocities, species, box)
    np.testing.assert_allclose(shifted, out, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(unwrapped, out, rtol=1e-5, atol=1e-7)


def test_padding_and_edge_order_do_not_change_the_output(config):
    positions, velocities, species, box = config
    out = predict(make_model(order="per-node"), positions, velocities, species, box)
    np.testing.assert_allclose(
        predict(make_model(order="per-node"), positions, velocities, species, box, capacity=2 * CAPACITY), out,
        rtol=1e-5, atol=1e-7,
    )
    np.testing.assert_allclose(predict(make_model(order="per-edge"), positions, velocities, species, box), out,
                               rtol=1e-5, atol=1e-7)


def _far_pair(positions, box, cutoff):
    """An atom i and an atom j farther than cutoff from i (minimum image)."""
    d = positions[:, None] - positions[None]
    r = np.linalg.norm(d - box * np.round(d / box), axis=-1)
    i = 0
    return i, int(np.argmax(r[i])), r[i].max()


def test_no_influence_beyond_the_cutoff_with_one_layer(config):
    positions, velocities, species, box = config
    i, j, r = _far_pair(np.asarray(positions), box, CUTOFF)
    assert r > CUTOFF
    kicked = np.array(velocities)
    kicked[j] += 5.0
    one = make_model(layers=1)
    assert np.array_equal(predict(one, positions, kicked, species, box)[i],
                          predict(one, positions, velocities, species, box)[i])
    # the same kick does reach i through two layers (the check above can fail)
    two = make_model(layers=2)
    assert not np.allclose(predict(two, positions, kicked, species, box)[i],
                           predict(two, positions, velocities, species, box)[i])


def test_edge_latents_reach_the_next_layer(config):
    positions, velocities, species, box = config
    model = make_model(layers=2)
    graph = dense_graph(jnp.asarray(positions), box, CUTOFF, CAPACITY)
    net = model.network
    nodes0 = net.node_encoder(model.node_normalizer(model.node_features(jnp.asarray(velocities),
                                                                          jnp.asarray(species))))
    edges0 = net.edge_encoder(model.edge_normalizer(model.edge_features(graph, None)))
    nodes1, edges1 = net.layers[0](nodes0, edges0, nodes0, edges0, graph)
    folded = net.layers[0](nodes0, None, nodes0, edges0, graph)  # the first layer's shortcut, e = e0
    for a, b in zip(folded, (nodes1, edges1)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)
    nodes2, _ = net.layers[1](nodes1, edges1, nodes0, edges0, graph)
    changed = edges1.at[0].add(1.0)  # one edge's latent, edge 0 is real (sender 0)
    nodes2_changed, _ = net.layers[1](nodes1, changed, nodes0, edges0, graph)
    moved = np.flatnonzero(np.abs(np.asarray(nodes2_changed - nodes2)).max(-1) > 0)
    assert set(moved) == {int(graph.senders[0]), int(graph.receivers[0])}


@pytest.mark.float64
def test_neighbor_list_graph_equals_dense_graph(config):
    from jax_md import partition, space

    positions, _, _, box = config
    wrapped = jnp.asarray(np.mod(positions, box))
    displacement_fn, _ = space.periodic(box)
    neighbor_fn = partition.neighbor_list(displacement_fn, box, CUTOFF, dr_threshold=0.5,
                                          format=partition.NeighborListFormat.Sparse)
    idx = neighbor_fn.allocate(wrapped).idx
    nl = neighbor_list_graph(wrapped, box, CUTOFF, idx, CAPACITY)
    dense = dense_graph(wrapped, box, CUTOFF, CAPACITY)
    assert int(nl.n_edges) == int(dense.n_edges)
    assert idx.shape[1] > 1.2 * int(nl.n_edges)  # the list's skin shell and spare room, packed away
    short = neighbor_list_graph(wrapped, box, CUTOFF, idx, int(nl.n_edges) - 5)
    assert int(short.n_edges) == int(nl.n_edges)  # a graph too small still reports what it needed

    def edge_set(g):
        real = np.asarray(g.senders) < len(positions)
        return {(int(s), int(r)) for s, r in zip(np.asarray(g.senders)[real], np.asarray(g.receivers)[real])}

    assert edge_set(nl) == edge_set(dense)
    for g in (nl, dense):  # e_ij = r_j - r_i by minimum image (paper 4.2 i), checked by numpy
        real = np.asarray(g.senders) < len(positions)
        i, j = np.asarray(g.senders)[real], np.asarray(g.receivers)[real]
        expected = np.mod(positions, box)[j] - np.mod(positions, box)[i]
        expected -= box * np.round(expected / box)
        np.testing.assert_allclose(np.asarray(g.edge_vectors)[real], expected, atol=1e-10)


@pytest.mark.float64
def test_normalizer_statistics_equal_everything_seen():
    rng = np.random.default_rng(0)
    norm = Normalizer(4)
    seen = []
    for size in (7, 1, 300, 55):
        x = rng.normal(3.0, [0.1, 1.0, 10.0, 1e-3], (size, 4))
        mask = rng.random(size) < 0.7
        norm.update(jnp.asarray(x), jnp.asarray(mask))
        seen.append(x[mask])
    seen = np.concatenate(seen)
    assert float(norm.count[...]) == len(seen)
    # the statistics are float32 (the network's precision): equal to float32 rounding
    np.testing.assert_allclose(norm.mean[...], seen.mean(0), rtol=1e-6)
    np.testing.assert_allclose(norm.std, seen.std(0), rtol=1e-5)
    roundtrip = np.asarray(norm.inverse(norm(jnp.asarray(seen, jnp.float32))))
    assert np.all(np.abs(roundtrip - seen) <= 1e-6 * np.abs(seen).max(0))


def test_cube_symmetries_are_the_48_distinct_orthogonal_maps():
    mats = cube_symmetries()
    assert mats.shape == (48, 3, 3)
    assert len({m.tobytes() for m in mats}) == 48
    for m in mats:
        np.testing.assert_array_equal(m @ m.T, np.eye(3))
    np.testing.assert_array_equal(mats[0], np.eye(3))


@pytest.mark.float64
def test_each_symmetry_maps_a_pair_to_the_pair_md_gives(config, lammps_snapshot):
    """The target of the transformed input (by MD from it) is the transformed target."""
    from ogn.md.simulate import init_state, make_force_field, run_nve

    system = get_system("lj")
    snap = lammps_snapshot("lj")
    ff = make_force_field(system, snap.species, precision="float64")
    k = 5

    def md_target(positions, velocities):
        neighbor = ff.allocate(jnp.asarray(np.mod(positions, system.sides)))
        state = init_state(ff, positions, velocities, neighbor)
        frames = []
        run_nve(ff, state, neighbor, k, k, on_frames=frames.append)
        dr = frames[-1].positions[-1] - positions
        dr -= system.sides * np.round(dr / system.sides)
        return np.concatenate([dr, frames[-1].velocities[-1] - velocities], -1)

    positions = np.mod(snap.positions, system.sides)
    target = md_target(positions, snap.velocities)
    assert np.abs(target[:, :3]).max() > 0.01  # the atoms moved
    for m in cube_symmetries():
        p, v, t = (np.asarray(x) for x in apply_symmetry(jnp.asarray(m), system.sides, positions, snap.velocities,
                                                          target))
        np.testing.assert_allclose(md_target(p, v), t, rtol=0, atol=1e-9)


@pytest.mark.float64
def test_edge_features_add_the_distance_with_finite_gradients_on_padding(config):
    positions, _velocities, _species, box = config
    graph = dense_graph(jnp.asarray(np.mod(positions, box)), box, CUTOFF, CAPACITY)
    real = np.asarray(graph.senders) < len(positions)
    assert not real.all()  # the capacity leaves padding to check
    features = np.asarray(make_model().edge_features(graph, None))
    np.testing.assert_allclose(features[:, :3], np.asarray(graph.edge_vectors))
    np.testing.assert_allclose(features[:, 3], np.linalg.norm(np.asarray(graph.edge_vectors), axis=1), rtol=1e-12)
    assert (features[~real] == 0).all()
    model = make_model()
    grad = jax.grad(lambda v: model.edge_features(graph._replace(edge_vectors=v), None).sum())(graph.edge_vectors)
    assert np.isfinite(np.asarray(grad)).all()
    paper = OGN(2, ModelConfig(edge_features="displacement"), nnx.Rngs(0))
    np.testing.assert_array_equal(np.asarray(paper.edge_features(graph, None)), np.asarray(graph.edge_vectors))


def test_mean_degree_aggregation_divides_the_edge_sums_by_the_edges_per_node_seen(config):
    positions, velocities, species, box = config
    graph = dense_graph(jnp.asarray(np.mod(positions, box)), box, CUTOFF, CAPACITY)
    v, s = jnp.asarray(velocities), jnp.asarray(species)
    model = OGN(2, ModelConfig(layers=2, aggregation="mean-degree"), nnx.Rngs(0))
    model.update_statistics(v, s, graph, jnp.zeros((len(positions), 6)))
    degree = int(graph.n_edges) / len(positions)
    nodes = model.node_normalizer(model.node_features(v, s))
    edges = model.edge_normalizer(model.edge_features(graph, None))
    out = np.asarray(model.standardised_output(v, s, graph))
    # float32 outputs of order 1: the scale is rounded differently here and in the model (1 ulp), and
    # XLA's summation order differs between CPUs, so agreement is to float32 rounding, not bitwise
    net = model.network

    def with_scale(scale):
        return np.asarray(net.decoder(net.latents(nodes, edges, graph, scale)[0]))

    np.testing.assert_allclose(out, with_scale(1 / degree), rtol=1e-5, atol=1e-5)
    assert not np.allclose(out, with_scale(1.0), atol=1e-3)


def test_model_config_rejects_bad_values():
    with pytest.raises(ValueError, match="aggregation"):
        ModelConfig(aggregation="max")
    with pytest.raises(ValueError, match="edge_features"):
        ModelConfig(edge_features="angles")
    with pytest.raises(ValueError, match="edge_first_layer"):
        ModelConfig(edge_first_layer="sideways")
    with pytest.raises(ValueError, match="layers"):
        dataclasses.replace(ModelConfig(), layers=0)


def test_initialisation_scales_weights_by_fan_in():
    model = OGN(2, ModelConfig(layers=1, latent=64, hidden=64), nnx.Rngs(0))
    kernel = np.asarray(model.network.layers[0].node_mlp.hidden.kernel[...])  # fan-in 4 x 64
    assert abs(kernel.std() - 1 / np.sqrt(256)) < 0.1 / np.sqrt(256)
    edge = model.network.layers[0].edge_mlp
    blocks = np.concatenate([np.asarray(b.kernel[...]) for b in (edge.edge_block, edge.sender_block,
                                                                     edge.receiver_block)])
    assert abs(blocks.std() - 1 / np.sqrt(384)) < 0.1 / np.sqrt(384)  # the split layer's whole fan-in
    assert not np.any(np.asarray(model.network.layers[0].node_mlp.hidden.bias[...]))
    jax.tree.leaves(nnx.state(model))  # the model is a plain pytree of arrays


def _equivariant_model(seed=0):
    model = OGN(2, ModelConfig(layers=2, latent=16, hidden=16, network="equivariant"), nnx.Rngs(seed))
    rng = np.random.default_rng(1)
    n = 50
    model.node_normalizer.update(jnp.asarray(np.c_[np.eye(2)[rng.integers(0, 2, n)], rng.uniform(0, 3, n)]))
    model.edge_normalizer.update(jnp.asarray(rng.normal(1.0, 0.5, (n, 3))))
    model.target_normalizer.update(jnp.asarray(rng.normal(0, 0.01, (n, 6))))
    return model


def _cluster(seed=0, n=30, box=20.0):
    """Atoms in a ball in the middle of a big box: no periodic image within the cutoff, so any rotation
    about the centre maps the graph onto itself."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(n, 3))
    positions = box / 2 + directions / np.linalg.norm(directions, axis=1, keepdims=True) * rng.uniform(0, 2.5, (n, 1))
    return positions, rng.normal(size=(n, 3)), rng.integers(0, 2, n), box


def test_equivariant_network_rotates_with_its_input():
    model = _equivariant_model()
    r, v, s, box = _cluster()
    out = predict(model, r, v, s, box)
    for seed in range(3):
        q, upper = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
        rotation = q * np.sign(np.diag(upper))  # a random orthogonal matrix
        rotation *= np.sign(np.linalg.det(rotation)) * (-1 if seed == 2 else 1)  # two rotations, one reflection
        r_rot = (r - box / 2) @ rotation.T + box / 2
        out_rot = predict(model, r_rot, v @ rotation.T, s, box)
        np.testing.assert_allclose(out_rot[:, :3], out[:, :3] @ rotation.T, atol=1e-5 * np.abs(out).max())
        np.testing.assert_allclose(out_rot[:, 3:], out[:, 3:] @ rotation.T, atol=1e-5 * np.abs(out).max())
    assert np.abs(out).max() > 1e-4  # not trivially zero


def test_equivariant_network_is_permutation_and_translation_safe():
    model = _equivariant_model()
    r, v, s, box = _cluster(1)
    out = predict(model, r, v, s, box)
    perm = np.random.default_rng(0).permutation(len(s))
    np.testing.assert_allclose(predict(model, r[perm], v[perm], s[perm], box), out[perm], rtol=1e-5, atol=1e-7)
    shifted = np.mod(r + np.array([7.3, -2.1, 11.0]), box)  # across the periodic boundary
    np.testing.assert_allclose(predict(model, shifted, v, s, box), out, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------------------------------------
# the contract every registered network keeps


def contract_model(network: str, layers: int = 2, seed: int = 0, config_state=None):
    """An untrained model of `network` whose normalisers have seen a real configuration (non-trivial
    statistics take part), with random targets of realistic size."""
    model = OGN(2, ModelConfig(layers=layers, latent=16, hidden=16, network=network, aggregation="mean-degree",
                               graph_cutoff=CUTOFF, targets="kinematic"),
                nnx.Rngs(seed), step_time=0.025, species_masses=(1.0, 2.5))
    positions, velocities, species, box = config_state
    graph = dense_graph(jnp.asarray(positions), box, CUTOFF, CAPACITY)
    rng = np.random.default_rng(seed)
    changes = jnp.asarray(np.c_[rng.normal(0, 0.05, (len(species), 3)), rng.normal(0, 0.5, (len(species), 3))])
    model.update_statistics(jnp.asarray(velocities), jnp.asarray(species), graph, changes)
    # a layer initialised to zero (the pair network's readout, so that it starts at dr = v tau) would make
    # every check below pass trivially: give it weights
    params = nnx.state(model.network, nnx.Param)
    keys = iter(jax.random.split(jax.random.key(seed + 1), len(jax.tree.leaves(params))))
    nnx.update(model.network, jax.tree.map(
        lambda p: 0.3 * jax.random.normal(next(keys), p.shape, p.dtype) if not np.any(np.asarray(p)) else p, params))
    return model


@pytest.fixture(params=sorted(NETWORKS), ids=lambda name: name)
def network(request):
    return request.param


def test_contract_permutation_equivariance(network, config):
    positions, velocities, species, box = config
    model = contract_model(network, config_state=config)
    perm = np.random.default_rng(0).permutation(len(species))
    out = predict(model, positions, velocities, species, box)
    np.testing.assert_allclose(predict(model, positions[perm], velocities[perm], species[perm], box), out[perm],
                               rtol=1e-4, atol=1e-6 * np.abs(out).max())


def test_contract_translation_and_periodic_images(network, config):
    positions, velocities, species, box = config
    model = contract_model(network, config_state=config)
    out = predict(model, positions, velocities, species, box)
    images = np.random.default_rng(0).integers(-3, 4, positions.shape)
    for moved in (positions + np.array([0.37, -1.2, 2.9]), np.mod(positions, box) + images * box):
        np.testing.assert_allclose(predict(model, moved, velocities, species, box), out, rtol=1e-4,
                                   atol=1e-5 * np.abs(out).max())


def test_contract_no_influence_beyond_two_cutoffs_with_one_layer(network, config):
    """One message layer and a readout over the edges (the pair network's) see at most two graph cutoffs;
    an atom farther away (the configuration tiled 2 x 2 x 2 to have one) changes nothing."""
    from ogn.io.types import Structure

    positions, velocities, species, box = config
    tiled = Structure(positions, species, box, velocities).tiled(2)
    i, j, r = _far_pair(tiled.positions, tiled.box, CUTOFF)
    assert r > 2 * CUTOFF
    kicked = np.array(tiled.velocities)
    kicked[j] += 5.0
    one = contract_model(network, layers=1, config_state=config)
    np.testing.assert_array_equal(predict(one, tiled.positions, kicked, tiled.species, tiled.box, 8 * CAPACITY)[i],
                                  predict(one, tiled.positions, tiled.velocities, tiled.species, tiled.box,
                                          8 * CAPACITY)[i])


def test_contract_a_batch_equals_its_single_configurations(network, config):
    from ogn.train.batches import merged_graph

    positions, velocities, species, box = config
    model = contract_model(network, config_state=config)
    rng = np.random.default_rng(2)
    second_r = np.mod(positions + rng.normal(0, 0.05, positions.shape), box)
    second_v = velocities[rng.permutation(len(species))]
    graph, _ = merged_graph(jnp.asarray(np.stack([positions, second_r])), box, CUTOFF, CAPACITY)
    dr, dv = model.raw_prediction(jnp.asarray(np.concatenate([velocities, second_v])),
                                  jnp.asarray(np.tile(species, 2)), graph)
    batch = np.concatenate([np.asarray(dr), np.asarray(dv)], -1)
    single = np.concatenate([predict(model, positions, velocities, species, box),
                             predict(model, second_r, second_v, species, box)])
    np.testing.assert_allclose(batch, single, rtol=1e-4, atol=1e-6 * np.abs(single).max())


def test_contract_momentum_is_exact(network, config):
    positions, velocities, species, box = config
    model = contract_model(network, config_state=config)
    masses = jnp.asarray(np.asarray([1.0, 2.5])[species])
    graph = dense_graph(jnp.asarray(positions), box, CUTOFF, CAPACITY)
    v = jnp.asarray(velocities)
    _, dv = model(v, jnp.asarray(species), graph, masses, 0.025)
    momentum_change = np.abs(np.asarray(jnp.sum(masses[:, None] * dv, 0))).max()
    scale = float(jnp.sum(masses[:, None] * jnp.abs(dv)))
    assert scale > 0 and momentum_change < 1e-6 * scale


def test_pair_network_is_antisymmetric_without_the_projection(config):
    """Newton's third law by construction: the pair network's raw dv (before `conserve_momentum`) already
    keeps the total momentum to float32 rounding, and so does its position correction the centre of mass."""
    positions, velocities, species, box = config
    model = contract_model("pair", config_state=config)
    masses = np.asarray([1.0, 2.5])[species]
    graph = dense_graph(jnp.asarray(positions), box, CUTOFF, CAPACITY)
    v = jnp.asarray(velocities)
    dr, dv = (np.asarray(x, np.float64) for x in model.raw_prediction(v, jnp.asarray(species), graph))
    for change in (dv, dr - 0.025 * np.asarray(v) - 0.0125 * dv):  # kinematic: dr = v tau + tau dv / 2 + correction
        total = np.abs((masses[:, None] * change).sum(0)).max()
        assert total < 1e-5 * np.abs(masses[:, None] * change).sum()


def test_contract_symmetric_networks_rotate_with_their_input(network):
    if not NETWORKS[network].symmetric:
        pytest.skip(f"{network} is trained with the box's symmetries instead")
    r, v, s, box = _cluster(3)
    model = contract_model(network, config_state=(r, v, s, box))
    out = predict(model, r, v, s, box)
    q, upper = np.linalg.qr(np.random.default_rng(5).normal(size=(3, 3)))
    rotation = q * np.sign(np.diag(upper))
    out_rot = predict(model, (r - box / 2) @ rotation.T + box / 2, v @ rotation.T, s, box)
    for a in (slice(0, 3), slice(3, 6)):
        np.testing.assert_allclose(out_rot[:, a], out[:, a] @ rotation.T, atol=1e-5 * np.abs(out).max())


def explicit_images(positions, box, low, high, halo):
    """The atoms and periodic images inside the domain [low, high) widened by `halo`: (positions, index of
    the atom each is an image of, whether it is a local atom of the domain)."""
    m = int(np.ceil(halo / np.min(box)))
    shifts = np.stack(np.meshgrid(*[np.arange(-m, m + 1)] * 3, indexing="ij"), -1).reshape(-1, 3) * box
    images = (positions[None] + shifts[:, None]).reshape(-1, 3)
    owner = np.tile(np.arange(len(positions)), len(shifts))
    inside = np.all((images >= low - halo) & (images < high + halo), axis=1)
    local = np.all((images >= low) & (images < high), axis=1)
    order = np.argsort(~local[inside], kind="stable")  # local atoms first, as in LAMMPS
    return images[inside][order], owner[inside][order], local[inside][order]


def test_contract_a_domain_with_ghosts_to_the_receptive_field_predicts_as_the_periodic_box(network, config):
    """A LAMMPS rank's view: half the box, with ghost images out to hops x cutoff + skin. Its local atoms get
    the periodic prediction; with the halo one cutoff short, some do not (so the halo is not oversized)."""
    from ogn.simulator.halo import HaloPredictor, candidate_pairs

    positions, velocities, species, box = config
    model = contract_model(network, layers=1, config_state=config)
    periodic = predict(model, positions, velocities, species, box)
    low, high = np.zeros(3), np.asarray(box) * [0.5, 1, 1]
    predictor = HaloPredictor(model, CUTOFF, skin=0.3)
    assert predictor.hops == (2 if network == "pair" else 1)
    for halo, exact in ((predictor.halo, True), (predictor.halo - CUTOFF, False)):
        r, owner, local = explicit_images(np.mod(positions, box), np.asarray(box), low, high, halo)
        dr, dv = predictor(r, velocities[owner], species[owner], owner)
        out = np.concatenate([dr, dv], -1)[local]
        close = np.allclose(out, periodic[owner[local]], rtol=1e-4, atol=1e-5 * np.abs(periodic).max())
        assert close == exact, (halo, np.abs(out - periodic[owner[local]]).max())
    # told which atoms are local, it drops the edges between ghosts that cannot reach them: same prediction
    r, owner, local = explicit_images(np.mod(positions, box), np.asarray(box), low, high, predictor.halo)
    pruned = HaloPredictor(model, CUTOFF, skin=0.3)
    dr, dv = pruned(r, velocities[owner], species[owner], owner, n_local=int(local.sum()))
    assert (pruned._candidates[0] < len(r)).sum() < candidate_pairs(r, CUTOFF + 0.3).shape[1]
    np.testing.assert_allclose(np.concatenate([dr, dv], -1)[local], periodic[owner[local]], rtol=1e-4,
                               atol=1e-5 * np.abs(periodic).max())
