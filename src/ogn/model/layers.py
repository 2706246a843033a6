"""Building blocks of the networks: initialised linear layers, the paper's MLPs (4.3 i, ii), the edge and
node updates of one MPNN layer (4.3 iii), and the encoder + MPNN trunk every core in the registry shares.

Graph conventions (`ogn.model.graph`): edge e_ij has sender i and receiver j; padding edges have both
ids equal to N, so gathers clip them onto a real node and segment sums drop them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ogn.model.config import ModelConfig
from ogn.model.graph import Graph

# jax's truncated normal (cut at 2 sigma) has a standard deviation of 0.8796 times its stddev argument
TRUNCATED_NORMAL_STD = 0.87962566103423978


def linear(n_in: int, n_out: int, rngs: nnx.Rngs, bias: str, fan_in: int | None = None,
           use_bias: bool = True) -> nnx.Linear:
    """Weights from a truncated normal with variance 1 / fan_in (the whole layer's fan-in when this is one
    block of a split layer); biases zero or drawn the same way (`ModelConfig.bias_init`)."""
    fan_in = fan_in or n_in
    init = nnx.initializers.variance_scaling(n_in / fan_in, "fan_in", "truncated_normal")
    bias_init = (nnx.initializers.zeros_init() if bias == "zeros"
                 else nnx.initializers.truncated_normal(1 / (np.sqrt(fan_in) * TRUNCATED_NORMAL_STD)))
    return nnx.Linear(n_in, n_out, use_bias=use_bias, kernel_init=init, bias_init=bias_init, rngs=rngs)


def gather(x: jax.Array, idx: jax.Array) -> jax.Array:
    return jnp.take(x, idx, axis=0, mode="clip")  # padding index N clips to a real node; its sums are dropped


def out_and_in_sums(edges: jax.Array, graph: Graph, n: int) -> jax.Array:
    """(N, 2 L): [sum_j e_ij, sum_j e_ji], both sums in one scatter (segments 0..N-1 by sender, N..2N-1 by
    receiver); padding edges (id N) go to segment 2N, beyond the last, and are dropped."""
    ids = jnp.concatenate([jnp.where(graph.senders < n, graph.senders, 2 * n),
                           jnp.where(graph.receivers < n, graph.receivers + n, 2 * n)])
    # summed in float32 at least: a bfloat16 running sum over ~100 edges loses ~5 % (measured, test_rollout)
    wide = jnp.promote_types(edges.dtype, jnp.float32)
    sums = jax.ops.segment_sum(jnp.concatenate([edges, edges]).astype(wide), ids, num_segments=2 * n)
    return jnp.concatenate([sums[:n], sums[n:]], -1).astype(edges.dtype)


def unit_vectors(vectors: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(E, 3) unit vectors and (E, 1) lengths; zero for the zero vectors of padding (double where: finite
    gradients there)."""
    squared = jnp.sum(vectors**2, -1, keepdims=True)
    real = squared > 0
    distance = jnp.sqrt(jnp.where(real, squared, 1.0))
    return jnp.where(real, vectors / distance, 0.0), distance * real


def safe_sqrt_or_one(mean_square: jax.Array) -> jax.Array:
    """sqrt, or 1 where nothing has been seen yet (as Normalizer.std): no division by a zero scale."""
    return jnp.sqrt(jnp.where(mean_square > 1e-30, mean_square, 1.0))


class MLP(nnx.Module):
    """One hidden layer with ReLU, an output layer with ReLU, then LayerNorm (paper 4.3 i, ii). The decoder
    variant has a linear output and no LayerNorm."""

    def __init__(self, n_in: int, hidden: int, n_out: int, rngs: nnx.Rngs, bias: str, decoder: bool = False):
        self.hidden = linear(n_in, hidden, rngs, bias)
        self.out = linear(hidden, n_out, rngs, bias)
        self.norm = None if decoder else nnx.LayerNorm(n_out, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.out(jax.nn.relu(self.hidden(x)))
        return y if self.norm is None else self.norm(jax.nn.relu(y))


class EdgeMLP(nnx.Module):
    """f_e^l([e^l_ij, e^0_ij], [n^l_i, n^0_i], [n^l_j, n^0_j]) with its first layer split into the edge,
    sender and receiver blocks."""

    def __init__(self, latent: int, hidden: int, rngs: nnx.Rngs, order: str, bias: str):
        fan_in = 6 * latent
        self.edge_block = linear(2 * latent, hidden, rngs, bias, fan_in)
        self.sender_block = linear(2 * latent, hidden, rngs, bias, fan_in, use_bias=False)
        self.receiver_block = linear(2 * latent, hidden, rngs, bias, fan_in, use_bias=False)
        self.out = linear(hidden, latent, rngs, bias)
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
            from_nodes = gather(self.sender_block(nodes), graph.senders) + gather(
                self.receiver_block(nodes), graph.receivers
            )
        else:
            from_nodes = self.sender_block(gather(nodes, graph.senders)) + self.receiver_block(
                gather(nodes, graph.receivers)
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
        sums = out_and_in_sums(edges, graph, n) * message_scale
        nodes = self.node_mlp(jnp.concatenate([nodes, nodes0, sums], -1))
        return nodes, edges


class EncodeProcess(nnx.Module):
    """The paper's encoder and MPNN layers (4.3 i-iii): standardised node (N, node_in) and edge (E, edge_in)
    features -> (N, L) node and (E, L) edge latents. A core adds its own decoder."""

    def __init__(self, node_in: int, edge_in: int, config: ModelConfig, rngs: nnx.Rngs):
        c = config
        b = c.bias_init
        self.node_encoder = MLP(node_in, c.hidden, c.latent, rngs, b)
        self.edge_encoder = MLP(edge_in, c.hidden, c.latent, rngs, b)
        self.layers = nnx.List([MPNNLayer(c.latent, c.hidden, rngs, c.edge_first_layer, b) for _ in range(c.layers)])

    @property
    def dtype(self):
        """The dtype of the weights: bfloat16 after `with_network_dtype`, else float32."""
        return self.node_encoder.hidden.kernel[...].dtype

    @property
    def hops(self) -> int:
        """Edges between an atom and the farthest atom its prediction depends on: one per MPNN layer (the
        node and edge decoders read only the last layer's latents)."""
        return len(self.layers)

    def latents(self, node_features: jax.Array, edge_features: jax.Array, graph: Graph,
                message_scale=1.0) -> tuple[jax.Array, jax.Array]:
        """(N, L) node and (E, L) edge latents after the last MPNN layer."""
        nodes0 = self.node_encoder(node_features)
        edges0 = self.edge_encoder(edge_features)
        nodes, edges = nodes0, None
        for layer in self.layers:
            nodes, edges = layer(nodes, edges, nodes0, edges0, graph, message_scale)
        return nodes, edges
