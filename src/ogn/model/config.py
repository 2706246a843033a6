"""The `model:` section of a run's config: which network, its size, and the physics wrapper's choices.

The paper's network is the default of every setting that it has; each departure is one word away and
measured in BENCHMARKS.md. Settings a network does not use are ignored by it (said per field).
"""

from __future__ import annotations

from dataclasses import dataclass

EDGE_ORDERS = ("per-node", "per-edge")
EDGE_FEATURES = {"displacement": 3, "displacement+distance": 4}
TARGETS = ("total", "residual", "kinematic")


@dataclass(frozen=True)
class ModelConfig:
    layers: int = 10  # MPNN layers: 10 for OGN, 2 for Fast-OGN
    latent: int = 64  # width of every MLP's output layer (paper: 64)
    hidden: int = 64  # width of every MLP's hidden layer (paper: 64)
    # The edge MLP's first layer is linear in [e, e0, n_i, n0_i, n_j, n0_j]: "per-node" applies its node
    # blocks once per node and gathers the results per edge, "per-edge" gathers the nodes first. Same
    # function, same parameters; per-node does fewer FLOPs (see BENCHMARKS.md). Paper network only.
    edge_first_layer: str = "per-node"
    # "zeros" (the spec) or "truncated_normal" (paper 4.4 iv: biases drawn like the weights). With
    # zero biases a ReLU MLP is positively homogeneous and the LayerNorm after it removes the scale of its
    # input: the edge encoder then sees the direction of r_j - r_i but not its length until biases grow.
    bias_init: str = "zeros"
    # "displacement" is the paper's e_ij = r_j - r_i; "displacement+distance" adds |r_j - r_i| (as
    # learning_to_simulate, the paper's ref. 11, does). Measured on LJ at k = 5 (BENCHMARKS.md): with the
    # distance the test loss leaves the "dr = v k dt, no forces" plateau at 0.506 after ~2000 steps and
    # reaches 0.03 at 3000; without it, it was still at 0.506 after 4000. Paper network only.
    edge_features: str = "displacement+distance"
    # "sum" is the paper's sum over edges in the node update; "mean-degree" divides both sums by the mean
    # number of edges per node seen in training (edge count / node count of the normalisers), so the
    # node MLP's inputs are O(1) instead of O(100): the same functions, better conditioned.
    aggregation: str = "sum"
    # The graph's cutoff; None is the paper's, the system's neighbor-list cutoff r_c (potential cutoff +
    # bin). Edges, and so the cost of a prediction, grow as its cube; two MPNN layers still see 2x as far.
    graph_cutoff: float | None = None
    # What the network learns of the change of positions (the wrapper's exact inverse builds its target):
    # "total" is the paper's [dr, dv]; "residual" is [dr - v k dt, dv], the displacement beyond ballistic
    # motion; "kinematic" is [dr - v tau - tau dv / 2, dv] (tau = k dt), exact for a constant force, so
    # that only what the change of force adds is left to learn.
    targets: str = "total"
    # The learnable core, by its name in `ogn.model.registry.NETWORKS`: "ogn" is the paper's network.
    network: str = "ogn"
    # The pair network's (`ogn.model.pair`) vector channels per atom, Bessel radial functions, and the
    # exponent of the polynomial envelope that takes every edge term smoothly to zero at the graph cutoff.
    vector_channels: int = 16
    radial_basis: int = 8
    envelope_exponent: int = 6

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
        if self.targets not in TARGETS:
            raise ValueError(f"targets must be one of {TARGETS}, got {self.targets!r}")
        for name in ("vector_channels", "radial_basis", "envelope_exponent"):
            if getattr(self, name) < 1:
                raise ValueError(f"model.{name} must be >= 1, got {getattr(self, name)}")
        if self.edge_features not in EDGE_FEATURES:
            raise ValueError(f"edge_features must be one of {tuple(EDGE_FEATURES)}, got {self.edge_features!r}")
