"""The paper's network (4.2, 4.3): node features [one-hot species, v], edge features r_j - r_i (and
|r_j - r_i| by default), the encoder and MPNN trunk, and a node decoder to the standardised [dr, dv]."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from ogn.model.config import EDGE_FEATURES, ModelConfig
from ogn.model.core import CoreInputs
from ogn.model.graph import Graph
from ogn.model.layers import MLP, EncodeProcess


class PaperCore(EncodeProcess):
    """Registered as "ogn"."""

    symmetric = False

    def __init__(self, n_species: int, config: ModelConfig, rngs: nnx.Rngs):
        node_in, edge_in = self.feature_sizes(n_species, config)
        super().__init__(node_in, edge_in, config, rngs)
        self.decoder = MLP(config.latent, config.hidden, 6, rngs, config.bias_init, decoder=True)
        self.n_species = n_species
        self.with_distance = config.edge_features == "displacement+distance"
        self.scale_messages = config.aggregation == "mean-degree"

    @staticmethod
    def feature_sizes(n_species: int, config: ModelConfig) -> tuple[int, int]:
        return n_species + 3, EDGE_FEATURES[config.edge_features]

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

    def __call__(self, nodes: jax.Array, edges: jax.Array, graph: Graph, inputs: CoreInputs) -> jax.Array:
        # the network computes in its weights' dtype (bfloat16 after `with_network_dtype`); the normalisers
        # and the physics around it stay float32
        dtype = self.dtype
        scale = jnp.asarray(inputs.message_scale if self.scale_messages else 1.0, dtype)
        latent_nodes, _ = self.latents(nodes.astype(dtype), edges.astype(dtype), graph, scale)
        return self.decoder(latent_nodes).astype(nodes.dtype)
