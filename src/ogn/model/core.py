"""What a learnable core is: the contract between a network and the physics wrapper (`ogn.model.network`).

The wrapper owns the physics: the normalisers, the targets (and their exact inverse), momentum
conservation. A core owns the learning: which features it reads, and how its outputs become the
standardised change [dr-target, dv-target] of every atom. A new network implements this protocol and
adds one line to `ogn.model.registry.NETWORKS`; tests/test_model.py then runs the model contract on it.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple, Protocol

import jax

from ogn.model.config import ModelConfig
from ogn.model.graph import Graph


class CoreInputs(NamedTuple):
    """What the wrapper gives a core besides its standardised features."""

    velocities: jax.Array  # (N, 3) | in the data's units, not standardised
    masses: jax.Array  # (N,) | per atom, relative to their mean (1 for one species)
    message_scale: jax.Array  # () | 1 / (mean edges per node seen in training)
    node_mean_square: jax.Array  # (node_in,) | mean square of each raw node feature seen in training


class LearnableCore(Protocol):
    """A network in the registry (an `nnx.Module`)."""

    # Equivariant under rotations and reflections by construction: trained without the box's cube
    # symmetries, and its targets standardised by one scale per vector (a per-component mean or scale
    # would break the symmetry).
    symmetric: ClassVar[bool]

    def __init__(self, n_species: int, config: ModelConfig, rngs) -> None: ...

    @property
    def hops(self) -> int:
        """Edges between an atom and the farthest atom its prediction depends on: a domain's halo of ghost
        atoms must reach hops x the graph cutoff (`ogn.simulator.halo`)."""
        ...

    @staticmethod
    def feature_sizes(n_species: int, config: ModelConfig) -> tuple[int, int]:
        """(node_in, edge_in): the widths of the raw node and edge features, for the normalisers."""
        ...

    def node_features(self, velocities: jax.Array, species: jax.Array) -> jax.Array:
        """(N, node_in) raw node features."""
        ...

    def edge_features(self, graph: Graph, velocities: jax.Array) -> jax.Array:
        """(E, edge_in) raw edge features; zero on padding edges."""
        ...

    def __call__(self, nodes: jax.Array, edges: jax.Array, graph: Graph, inputs: CoreInputs) -> jax.Array:
        """(N, 6) the standardised [dr-target, dv-target] from standardised features."""
        ...
