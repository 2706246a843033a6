"""The rotation-equivariant variant (`model.network: equivariant`), in the paper's encoder / MPNN /
decoder frame: the network sees only invariants, the species and speed of each atom, and per edge
|r_ij|, r^_ij . v_i and r^_ij . v_j (r_ij = r_j - r_i), and the decoders give scalars that weigh
vectors (EGNN / PaiNN-like):

    dr_i, dv_i = b_i v_i + 1/D sum_j [w_ij r^_ij + c_ij (v_j - v_i)]   (each with its own b, w, c)

so rotating or reflecting the input rotates the output exactly, and no cube augmentation is needed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from ogn.model.config import ModelConfig
from ogn.model.core import CoreInputs
from ogn.model.graph import Graph
from ogn.model.layers import MLP, EncodeProcess, gather, safe_sqrt_or_one, unit_vectors


class EquivariantCore(EncodeProcess):
    """Registered as "equivariant"."""

    symmetric = True

    def __init__(self, n_species: int, config: ModelConfig, rngs: nnx.Rngs):
        node_in, edge_in = self.feature_sizes(n_species, config)
        super().__init__(node_in, edge_in, config, rngs)
        self.decoder = MLP(config.latent, config.hidden, 2, rngs, config.bias_init, decoder=True)
        self.edge_decoder = MLP(config.latent, config.hidden, 4, rngs, config.bias_init, decoder=True)
        self.n_species = n_species
        self.scale_messages = config.aggregation == "mean-degree"

    @staticmethod
    def feature_sizes(n_species: int, config: ModelConfig) -> tuple[int, int]:
        return n_species + 1, 3

    def node_features(self, velocities: jax.Array, species: jax.Array) -> jax.Array:
        speed = jnp.sqrt(jnp.sum(velocities**2, -1, keepdims=True))
        return jnp.concatenate([jax.nn.one_hot(species, self.n_species, dtype=velocities.dtype), speed], -1)

    def edge_features(self, graph: Graph, velocities: jax.Array) -> jax.Array:
        unit, distance = unit_vectors(graph.edge_vectors)
        v_i, v_j = gather(velocities, graph.senders), gather(velocities, graph.receivers)
        return jnp.concatenate([distance, jnp.sum(unit * v_i, -1, keepdims=True),
                                jnp.sum(unit * v_j, -1, keepdims=True)], -1) * (distance > 0)

    def __call__(self, nodes: jax.Array, edges: jax.Array, graph: Graph, inputs: CoreInputs) -> jax.Array:
        velocities, n = inputs.velocities, nodes.shape[0]
        dtype = self.dtype
        inner = inputs.message_scale if self.scale_messages else 1.0
        latent_nodes, latent_edges = self.latents(nodes.astype(dtype), edges.astype(dtype), graph,
                                                  jnp.asarray(inner, dtype))
        b = self.decoder(latent_nodes).astype(velocities.dtype)  # (N, 2)
        w = self.edge_decoder(latent_edges).astype(velocities.dtype)  # (E, 4)
        # velocities in units of their rms component (from the speed's statistics), so every term is O(1)
        u = velocities / safe_sqrt_or_one(inputs.node_mean_square[-1] / 3)
        unit, _ = unit_vectors(graph.edge_vectors)
        real = (graph.senders < n)[:, None]
        relative = jnp.where(real, gather(u, graph.receivers) - gather(u, graph.senders), 0.0)
        per_edge = jnp.concatenate([w[:, 0:1] * unit + w[:, 1:2] * relative, w[:, 2:3] * unit + w[:, 3:4] * relative], -1)
        sums = jax.ops.segment_sum(per_edge, graph.senders, num_segments=n) * inputs.message_scale
        return jnp.concatenate([b[:, 0:1] * u, b[:, 1:2] * u], -1) + sums
