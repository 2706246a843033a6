"""The OGN network (paper 4.2, 4.3): encoder, MPNN layers (edge update, then node update), decoder.

`OGNNetwork` is the learnable core: standardised node and edge features in, standardised [dr, dv] out.
`OGN` wraps it with the online normalisers and the physics: configurations in, changes of positions and
velocities over k MD steps out (learning_to_simulate's split between core and wrapper).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ogn.model.graph import Graph
from ogn.model.normalizer import Normalizer

EDGE_ORDERS = ("per-node", "per-edge")
EDGE_FEATURES = {"displacement": 3, "displacement+distance": 4}
TARGETS = ("total", "residual")
NETWORKS = ("ogn", "equivariant")


@dataclass(frozen=True)
class ModelConfig:
    layers: int = 10  # MPNN layers: 10 for OGN, 2 for Fast-OGN
    latent: int = 64  # width of every MLP's output layer (paper: 64)
    hidden: int = 64  # width of every MLP's hidden layer (paper: 64)
    # The edge MLP's first layer is linear in [e, e0, n_i, n0_i, n_j, n0_j]: "per-node" applies its node
    # blocks once per node and gathers the results per edge, "per-edge" gathers the nodes first. Same
    # function, same parameters; per-node does fewer FLOPs (see BENCHMARKS.md).
    edge_first_layer: str = "per-node"
    # "zeros" (the spec) or "truncated_normal" (paper 4.4 iv: biases drawn like the weights). With
    # zero biases a ReLU MLP is positively homogeneous and the LayerNorm after it removes the scale of its
    # input: the edge encoder then sees the direction of r_j - r_i but not its length until biases grow.
    bias_init: str = "zeros"
    # "displacement" is the paper's e_ij = r_j - r_i; "displacement+distance" adds |r_j - r_i| (as
    # learning_to_simulate, the paper's ref. 11, does). Measured on LJ at k = 5 (BENCHMARKS.md): with the
    # distance the test loss leaves the "dr = v k dt, no forces" plateau at 0.506 after ~2000 steps and
    # reaches 0.03 at 3000; without it, it was still at 0.506 after 4000.
    edge_features: str = "displacement+distance"
    # "sum" is the paper's sum over edges in the node update; "mean-degree" divides both sums by the mean
    # number of edges per node seen in training (edge count / node count of the normalisers), so the
    # node MLP's inputs are O(1) instead of O(100): the same functions, better conditioned.
    aggregation: str = "sum"
    # The graph's cutoff; None is the paper's, the system's neighbor-list cutoff r_c (potential cutoff +
    # bin). Edges, and so the cost of a prediction, grow as its cube; two MPNN layers still see 2x as far.
    graph_cutoff: float | None = None
    # "total" is the paper's target [dr, dv]; "residual" predicts [dr - v k dt, dv], the displacement beyond
    # ballistic motion, standardised on its own, so the network spends its capacity on the forces instead
    # of re-deriving v k dt (which dominates dr at large k).
    targets: str = "total"
    # "ogn" is the paper's network; "equivariant" the rotation-equivariant variant (EquivariantOGN)
    network: str = "ogn"

    def __post_init__(self):
        if self.layers < 1 or self.latent < 1 or self.hidden < 1:
            raise ValueError(f"layers, latent and hidden must be >= 1, got {self.layers}, {self.latent}, {self.hidden}")
        if self.bias_init not in ("zeros", "truncated_normal"):
            raise ValueError(f"bias_init must be 'zeros' or 'truncated_normal', got {self.bias_init!r}")
        if self.edge_first_layer not in EDGE_ORDERS:
            raise ValueError(f"edge_first_layer must be one of {EDGE_ORDERS}, got {self.edge_first_layer!r}")
        if self.aggregation not in ("sum", "mean-degree"):
            raise ValueError(f"aggregation must be 'sum' or 'mean-degree', got {self.aggregation!r}")
        if self.graph_cutoff is not None and not self.graph_cutoff > 0:
            raise ValueError(f"graph_cutoff must be > 0 (or null for the system's r_c), got {self.graph_cutoff}")
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}, got {self.network!r}")
        if self.targets not in TARGETS:
            raise ValueError(f"targets must be one of {TARGETS}, got {self.targets!r}")
        if self.edge_features not in EDGE_FEATURES:
            raise ValueError(f"edge_features must be one of {tuple(EDGE_FEATURES)}, got {self.edge_features!r}")


def _linear(n_in: int, n_out: int, rngs: nnx.Rngs, bias: str, fan_in: int | None = None,
            use_bias: bool = True) -> nnx.Linear:
    """Weights from a truncated normal with variance 1 / fan_in (the whole layer's fan-in when this is one
    block of a split layer); biases zero or drawn the same way (`ModelConfig.bias_init`)."""
    fan_in = fan_in or n_in
    init = nnx.initializers.variance_scaling(n_in / fan_in, "fan_in", "truncated_normal")
    # jax's truncated normal (cut at 2 sigma) has a standard deviation of 0.8796 times its stddev argument
    bias_init = (nnx.initializers.zeros_init() if bias == "zeros"
                 else nnx.initializers.truncated_normal(1 / (np.sqrt(fan_in) * 0.87962566103423978)))
    return nnx.Linear(n_in, n_out, use_bias=use_bias, kernel_init=init, bias_init=bias_init, rngs=rngs)


def _gather(x: jax.Array, idx: jax.Array) -> jax.Array:
    return jnp.take(x, idx, axis=0, mode="clip")  # padding index N clips to a real node; its sums are dropped


def _out_and_in_sums(edges: jax.Array, graph: Graph, n: int) -> jax.Array:
    """(N, 2 L): [sum_j e_ij, sum_j e_ji], both sums in one scatter (segments 0..N-1 by sender, N..2N-1 by
    receiver); padding edges (id N) go to segment 2N, beyond the last, and are dropped."""
    ids = jnp.concatenate([jnp.where(graph.senders < n, graph.senders, 2 * n),
                           jnp.where(graph.receivers < n, graph.receivers + n, 2 * n)])
    # summed in float32 at least: a bfloat16 running sum over ~100 edges loses ~5 % (measured, test_rollout)
    wide = jnp.promote_types(edges.dtype, jnp.float32)
    sums = jax.ops.segment_sum(jnp.concatenate([edges, edges]).astype(wide), ids, num_segments=2 * n)
    return jnp.concatenate([sums[:n], sums[n:]], -1).astype(edges.dtype)


class MLP(nnx.Module):
    """One hidden layer with ReLU, an output layer with ReLU, then LayerNorm (paper 4.3 i, ii). The decoder
    variant has a linear output and no LayerNorm."""

    def __init__(self, n_in: int, hidden: int, n_out: int, rngs: nnx.Rngs, bias: str, decoder: bool = False):
        self.hidden = _linear(n_in, hidden, rngs, bias)
        self.out = _linear(hidden, n_out, rngs, bias)
        self.norm = None if decoder else nnx.LayerNorm(n_out, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.out(jax.nn.relu(self.hidden(x)))
        return y if self.norm is None else self.norm(jax.nn.relu(y))


class EdgeMLP(nnx.Module):
    """f_e^l([e^l_ij, e^0_ij], [n^l_i, n^0_i], [n^l_j, n^0_j]) with its first layer split into the edge,
    sender and receiver blocks."""

    def __init__(self, latent: int, hidden: int, rngs: nnx.Rngs, order: str, bias: str):
        fan_in = 6 * latent
        self.edge_block = _linear(2 * latent, hidden, rngs, bias, fan_in)
        self.sender_block = _linear(2 * latent, hidden, rngs, bias, fan_in, use_bias=False)
        self.receiver_block = _linear(2 * latent, hidden, rngs, bias, fan_in, use_bias=False)
        self.out = _linear(hidden, latent, rngs, bias)
        self.norm = nnx.LayerNorm(latent, rngs=rngs)
        self.order = order

    def __call__(self, edges: jax.Array | None, edges0: jax.Array, nodes: jax.Array, graph: Graph) -> jax.Array:
        """`edges` None: the first layer, where e^l = e^0 and [e, e0] W = e0 (W_e + W_e0) costs half."""
        if edges is None:
            kernel = self.edge_block.kernel[...]
            half = kernel.shape[0] // 2
            from_edges = edges0 @ (kernel[:half] + kernel[half:]) + self.edge_block.bias[...]
        else:
            from_edges = self.edge_block(jnp.concatenate([edges, edges0], -1))
        if self.order == "per-node":
            from_nodes = _gather(self.sender_block(nodes), graph.senders) + _gather(
                self.receiver_block(nodes), graph.receivers
            )
        else:
            from_nodes = self.sender_block(_gather(nodes, graph.senders)) + self.receiver_block(
                _gather(nodes, graph.receivers)
            )
        hidden = jax.nn.relu(from_edges + from_nodes)
        return self.norm(jax.nn.relu(self.out(hidden)))


class MPNNLayer(nnx.Module):
    def __init__(self, latent: int, hidden: int, rngs: nnx.Rngs, order: str, bias: str):
        self.edge_mlp = EdgeMLP(latent, hidden, rngs, order, bias)
        self.node_mlp = MLP(4 * latent, hidden, latent, rngs, bias)

    def __call__(self, nodes, edges, nodes0, edges0, graph: Graph, message_scale=1.0):
        """`edges` None in the first layer (they are edges0 there)."""
        n = nodes.shape[0]
        edges = self.edge_mlp(edges, edges0, jnp.concatenate([nodes, nodes0], -1), graph)
        sums = _out_and_in_sums(edges, graph, n) * message_scale
        nodes = self.node_mlp(jnp.concatenate([nodes, nodes0, sums], -1))
        return nodes, edges


class OGNNetwork(nnx.Module):
    """Standardised node features (N, node_in) and edge features (E, edge_in) -> (N, node_out): for the
    paper's network node_in = S + 3, edge_in = 3 or 4, node_out = 6 (standardised [dr, dv]). With
    `edge_out`, an edge decoder gives (E, edge_out) scalars per edge as well (the equivariant variant)."""

    def __init__(self, node_in: int, edge_in: int, config: ModelConfig, rngs: nnx.Rngs, node_out: int = 6,
                 edge_out: int = 0):
        c = config
        b = c.bias_init
        self.node_encoder = MLP(node_in, c.hidden, c.latent, rngs, b)
        self.edge_encoder = MLP(edge_in, c.hidden, c.latent, rngs, b)
        self.layers = nnx.List([MPNNLayer(c.latent, c.hidden, rngs, c.edge_first_layer, b) for _ in range(c.layers)])
        self.decoder = MLP(c.latent, c.hidden, node_out, rngs, b, decoder=True)
        self.edge_decoder = MLP(c.latent, c.hidden, edge_out, rngs, b, decoder=True) if edge_out else None

    def latents(self, node_features: jax.Array, edge_features: jax.Array, graph: Graph,
                message_scale=1.0) -> tuple[jax.Array, jax.Array]:
        """(N, L) node and (E, L) edge latents after the last MPNN layer."""
        nodes0 = self.node_encoder(node_features)
        edges0 = self.edge_encoder(edge_features)
        nodes, edges = nodes0, None
        for layer in self.layers:
            nodes, edges = layer(nodes, edges, nodes0, edges0, graph, message_scale)
        return nodes, edges

    def __call__(self, node_features: jax.Array, edge_features: jax.Array, graph: Graph,
                 message_scale=1.0) -> jax.Array:
        return self.decoder(self.latents(node_features, edge_features, graph, message_scale)[0])


def with_network_dtype(model: OGN, dtype) -> OGN:
    """A copy of `model` whose network weights (not its normalisers) are `dtype`: bfloat16 halves the
    memory traffic and uses the tensor cores of a GPU; on a CPU without bf16 units it is slower."""
    model = nnx.clone(model)
    params = nnx.state(model.network, nnx.Param)
    nnx.update(model.network, jax.tree.map(lambda p: p.astype(dtype), params))
    return model


class OGN(nnx.Module):
    """The learned simulator's model: normalisers + network. Physical units in and out."""

    def __init__(self, n_species: int, config: ModelConfig, rngs: nnx.Rngs, step_time: float = 0.0):
        """`step_time`: k dt of one prediction, in the data's time unit; needed by residual targets."""
        if config.targets == "residual" and not step_time > 0:
            raise ValueError(f"residual targets need the prediction's time step k dt > 0, got {step_time}")
        self.n_species = n_species
        self.ballistic_time = step_time if config.targets == "residual" else 0.0
        self.with_distance = config.edge_features == "displacement+distance"
        self.scale_messages = config.aggregation == "mean-degree"
        node_in, edge_in, outputs = self.shapes(n_species, config)
        self.network = OGNNetwork(node_in, edge_in, config, rngs, **outputs)
        self.node_normalizer = Normalizer(node_in)
        self.edge_normalizer = Normalizer(edge_in)
        self.target_normalizer = Normalizer(6)

    @staticmethod
    def shapes(n_species: int, config: ModelConfig) -> tuple[int, int, dict]:
        """Node and edge feature sizes, and the decoders' outputs."""
        return n_species + 3, EDGE_FEATURES[config.edge_features], {"node_out": 6}

    def node_features(self, velocities: jax.Array, species: jax.Array) -> jax.Array:
        return jnp.concatenate([jax.nn.one_hot(species, self.n_species, dtype=velocities.dtype), velocities], -1)

    def edge_features(self, graph: Graph, velocities: jax.Array) -> jax.Array:
        """(E, 3 or 4) [r_j - r_i, |r_j - r_i|]; the paper's features do not use `velocities`."""
        if not self.with_distance:
            return graph.edge_vectors
        # padded edges have zero vectors; the where keeps the norm's gradient finite there
        squared = jnp.sum(graph.edge_vectors**2, -1, keepdims=True)
        distance = jnp.sqrt(jnp.where(squared > 0, squared, 1.0)) * (squared > 0)
        return jnp.concatenate([graph.edge_vectors, distance], -1)

    def network_target(self, velocities, changes: jax.Array) -> jax.Array:
        """(N, 6) what the network learns from (N, 6) true [dr, dv]: the exact inverse of `raw_prediction`."""
        return changes.at[:, :3].add(-velocities * self.ballistic_time)

    def update_statistics(self, velocities, species, graph: Graph, changes: jax.Array) -> None:
        n = velocities.shape[0]
        self.node_normalizer.update(self.node_features(velocities, species))
        self.edge_normalizer.update(self.edge_features(graph, velocities), graph.senders < n)
        self.target_normalizer.update(self.network_target(velocities, changes))

    def standardised_output(self, velocities, species, graph: Graph) -> jax.Array:
        """(N, 6): the network's prediction of the standardised [dr, dv]."""
        nodes = self.node_normalizer(self.node_features(velocities, species))
        edges = self.edge_normalizer(self.edge_features(graph, velocities))
        scale = 1.0
        if self.scale_messages:  # 1 / (mean edges per node seen), both counts from the normalisers
            scale = self.node_normalizer.count[...] / jnp.maximum(self.edge_normalizer.count[...], 1.0)
        # the network computes in its weights' dtype (bfloat16 after `with_network_dtype`); the normalisers
        # and the physics around it stay float32
        dtype = self.network.decoder.out.kernel[...].dtype
        out = self.network(nodes.astype(dtype), edges.astype(dtype), graph, jnp.asarray(scale, dtype))
        return out.astype(nodes.dtype)

    def standardise(self, target: jax.Array) -> jax.Array:
        return self.target_normalizer(target)

    def unstandardise(self, output: jax.Array) -> jax.Array:
        return self.target_normalizer.inverse(output)

    def loss(self, velocities, species, graph: Graph, changes: jax.Array) -> jax.Array:
        """Mean squared error per atom and component of the standardised target (paper 4.4 iii: [dr, dv])."""
        target = self.standardise(self.network_target(velocities, changes))
        error = self.standardised_output(velocities, species, graph) - target
        return jnp.mean(error**2)

    def raw_prediction(self, velocities, species, graph: Graph) -> tuple[jax.Array, jax.Array]:
        """(dr, dv), each (N, 3), in the units of the training data, as the network gives them."""
        change = self.unstandardise(self.standardised_output(velocities, species, graph))
        return change[:, :3] + velocities * self.ballistic_time, change[:, 3:]

    def __call__(self, velocities, species, graph: Graph, masses: jax.Array, step_time: float,
                 centre_velocity: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """(dr, dv) over one prediction (`step_time` = k dt) with total momentum conserved exactly; see
        `conserve_momentum` for `centre_velocity`."""
        dr, dv = self.raw_prediction(velocities, species, graph)
        return conserve_momentum(dr, dv, velocities, masses, step_time, centre_velocity)


class EquivariantOGN(OGN):
    """The rotation-equivariant variant (`model.network: equivariant`), in the same encoder / MPNN /
    decoder frame: the network sees only invariants, the species and speed of each atom, and per edge
    |r_ij|, r^_ij . v_i and r^_ij . v_j (r_ij = r_j - r_i), and the decoders give scalars that weigh
    vectors (EGNN / PaiNN-like):

        dr_i, dv_i = b_i v_i + 1/D sum_j [w_ij r^_ij + c_ij (v_j - v_i)]   (each with its own b, w, c)

    so rotating or reflecting the input rotates the output exactly, and no cube augmentation is needed.
    The targets are standardised isotropically (one scale each for dr and dv, no mean), which keeps that
    symmetry."""

    @staticmethod
    def shapes(n_species: int, config: ModelConfig) -> tuple[int, int, dict]:
        return n_species + 1, 3, {"node_out": 2, "edge_out": 4}

    def node_features(self, velocities: jax.Array, species: jax.Array) -> jax.Array:
        speed = jnp.sqrt(jnp.sum(velocities**2, -1, keepdims=True))
        return jnp.concatenate([jax.nn.one_hot(species, self.n_species, dtype=velocities.dtype), speed], -1)

    def edge_features(self, graph: Graph, velocities: jax.Array) -> jax.Array:
        unit, distance = _unit_vectors(graph.edge_vectors)
        v_i, v_j = _gather(velocities, graph.senders), _gather(velocities, graph.receivers)
        return jnp.concatenate([distance, jnp.sum(unit * v_i, -1, keepdims=True),
                                jnp.sum(unit * v_j, -1, keepdims=True)], -1) * (distance > 0)

    def _target_scale(self) -> jax.Array:
        """(6,) the root mean square of the dr components and of the dv components, each repeated 3 times."""
        n = self.target_normalizer
        second_moment = (n.m2[...] / jnp.maximum(n.count[...], 1.0) + n.mean[...] ** 2).reshape(2, 3).mean(-1)
        return jnp.repeat(_safe_sqrt_or_one(second_moment), 3)

    def standardise(self, target: jax.Array) -> jax.Array:
        return target / self._target_scale()

    def unstandardise(self, output: jax.Array) -> jax.Array:
        return output * self._target_scale()

    def standardised_output(self, velocities, species, graph: Graph) -> jax.Array:
        n = velocities.shape[0]
        nodes = self.node_normalizer(self.node_features(velocities, species))
        edges = self.edge_normalizer(self.edge_features(graph, velocities))
        scale = self.node_normalizer.count[...] / jnp.maximum(self.edge_normalizer.count[...], 1.0)
        dtype = self.network.decoder.out.kernel[...].dtype
        inner = scale if self.scale_messages else 1.0
        latent_nodes, latent_edges = self.network.latents(nodes.astype(dtype), edges.astype(dtype), graph,
                                                          jnp.asarray(inner, dtype))
        b = self.network.decoder(latent_nodes).astype(velocities.dtype)  # (N, 2)
        w = self.network.edge_decoder(latent_edges).astype(velocities.dtype)  # (E, 4)
        # velocities in units of their rms component (from the speed's statistics), so every term is O(1)
        stats = self.node_normalizer
        mean_square_speed = stats.m2[..., -1] / jnp.maximum(stats.count[...], 1.0) + stats.mean[..., -1] ** 2
        u = velocities / _safe_sqrt_or_one(mean_square_speed / 3)
        unit, _ = _unit_vectors(graph.edge_vectors)
        real = (graph.senders < n)[:, None]
        relative = jnp.where(real, _gather(u, graph.receivers) - _gather(u, graph.senders), 0.0)
        per_edge = jnp.concatenate([w[:, 0:1] * unit + w[:, 1:2] * relative, w[:, 2:3] * unit + w[:, 3:4] * relative], -1)
        sums = jax.ops.segment_sum(per_edge, graph.senders, num_segments=n) * scale
        return jnp.concatenate([b[:, 0:1] * u, b[:, 1:2] * u], -1) + sums


def _safe_sqrt_or_one(mean_square: jax.Array) -> jax.Array:
    """sqrt, or 1 where nothing has been seen yet (as Normalizer.std): no division by a zero scale."""
    return jnp.sqrt(jnp.where(mean_square > 1e-30, mean_square, 1.0))


def _unit_vectors(vectors: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(E, 3) unit vectors and (E, 1) lengths; zero for the zero vectors of padding (double where: finite
    gradients there)."""
    squared = jnp.sum(vectors**2, -1, keepdims=True)
    real = squared > 0
    distance = jnp.sqrt(jnp.where(real, squared, 1.0))
    return jnp.where(real, vectors / distance, 0.0), distance * real


def make_model(n_species: int, config: ModelConfig, rngs: nnx.Rngs, step_time: float = 0.0) -> OGN:
    """The model `config.network` names: the paper's OGN or the equivariant variant."""
    cls = EquivariantOGN if config.network == "equivariant" else OGN
    return cls(n_species, config, rngs, step_time)


def conserve_momentum(dr: jax.Array, dv: jax.Array, velocities: jax.Array, masses: jax.Array, step_time: float,
                      centre_velocity: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Project a prediction onto the states of the same total momentum: shift dv so that the new
    centre-of-mass velocity is `centre_velocity` (default: the current one, sum m v / M), and give the
    centre of mass the displacement `centre_velocity` * step_time of a momentum-conserving flow.

    MD conserves momentum, so the true (dr, dv) is a fixed point: the projection is orthogonal in the
    mass-weighted norm and never increases that error of dv. Unlike pairwise antisymmetric updates it
    holds for any network, the paper's included. A rollout passes its start's centre velocity, so that
    float32 rounding does not accumulate from one prediction to the next.
    (N, 3) dr, dv, velocities; (N,) masses; (3,) centre_velocity."""
    weights = (masses / jnp.sum(masses))[:, None].astype(dv.dtype)
    if centre_velocity is None:
        centre_velocity = jnp.sum(weights * velocities, axis=0)
    dv = dv - (jnp.sum(weights * (velocities + dv), axis=0) - centre_velocity)
    dr = dr - jnp.sum(weights * dr, axis=0) + centre_velocity * step_time
    return dr, dv
