"""The learned model: a learnable core (`ogn.model.registry`) inside the physics wrapper `OGN`.

The wrapper takes configurations in physical units and gives the change of positions and velocities
over one prediction (k MD steps); the core sees standardised features and gives standardised targets
(learning_to_simulate's split between core and wrapper). The wrapper owns:
- the online normalisers of node features, edge features and targets (paper 4.4 ii);
- the targets and their exact inverse (`ModelConfig.targets`), so that training targets are built by the
  same arithmetic that turns a prediction back into (dr, dv);
- total-momentum conservation (`conserve_momentum`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ogn.model.config import ModelConfig
from ogn.model.core import CoreInputs
from ogn.model.graph import Graph
from ogn.model.layers import safe_sqrt_or_one
from ogn.model.normalizer import Normalizer
from ogn.model.registry import network_class


class OGN(nnx.Module):
    """The learned simulator's model: normalisers + a registered core. Physical units in and out."""

    def __init__(self, n_species: int, config: ModelConfig, rngs: nnx.Rngs, step_time: float = 0.0,
                 species_masses=None):
        """`step_time`: tau = k dt of one prediction, in the data's time unit (residual and kinematic targets
        need it); `species_masses`: (n_species,) masses, for cores that read them (default: all equal)."""
        if config.targets != "total" and not step_time > 0:
            raise ValueError(f"{config.targets} targets need the prediction's time step k dt > 0, got {step_time}")
        core = network_class(config.network)
        self.n_species = n_species
        self.targets = config.targets
        self.step_time = float(step_time)
        masses = np.ones(n_species) if species_masses is None else np.asarray(species_masses, np.float64)
        self.relative_masses = tuple(float(m) for m in masses / masses.mean())
        self.isotropic = core.symmetric
        node_in, edge_in = core.feature_sizes(n_species, config)
        self.network = core(n_species, config, rngs)
        self.node_normalizer = Normalizer(node_in)
        self.edge_normalizer = Normalizer(edge_in)
        self.target_normalizer = Normalizer(6)

    @property
    def augment(self) -> bool:
        """Whether training applies the box's cube symmetries (not for a core that is equivariant already)."""
        return not self.isotropic

    def node_features(self, velocities: jax.Array, species: jax.Array) -> jax.Array:
        return self.network.node_features(velocities, species)

    def edge_features(self, graph: Graph, velocities: jax.Array) -> jax.Array:
        return self.network.edge_features(graph, velocities)

    def network_target(self, velocities, changes: jax.Array) -> jax.Array:
        """(N, 6) what the network learns from (N, 6) true [dr, dv]: the exact inverse of `raw_prediction`."""
        if self.targets == "total":
            return changes
        ballistic = velocities * self.step_time
        if self.targets == "kinematic":
            ballistic = ballistic + 0.5 * self.step_time * changes[:, 3:]
        return changes.at[:, :3].add(-ballistic)

    def from_network_target(self, velocities, change: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(dr, dv) from the (N, 6) network target: `network_target` undone."""
        dr, dv = change[:, :3], change[:, 3:]
        if self.targets == "total":
            return dr, dv
        dr = dr + velocities * self.step_time
        if self.targets == "kinematic":
            dr = dr + 0.5 * self.step_time * dv
        return dr, dv

    def update_statistics(self, velocities, species, graph: Graph, changes: jax.Array,
                          axis_name: str | None = None) -> None:
        """Fold a batch into the normalisers; `axis_name`: the devices that each hold a part of it."""
        n = velocities.shape[0]
        self.node_normalizer.update(self.node_features(velocities, species), axis_name=axis_name)
        self.edge_normalizer.update(self.edge_features(graph, velocities), graph.senders < n, axis_name)
        self.target_normalizer.update(self.network_target(velocities, changes), axis_name=axis_name)

    def core_inputs(self, velocities, species) -> CoreInputs:
        # 1 / (mean edges per node seen), both counts from the normalisers
        scale = self.node_normalizer.count[...] / jnp.maximum(self.edge_normalizer.count[...], 1.0)
        masses = jnp.asarray(self.relative_masses, velocities.dtype)[species]
        return CoreInputs(velocities, masses, scale, self.node_normalizer.mean_square())

    def standardised_output(self, velocities, species, graph: Graph) -> jax.Array:
        """(N, 6): the network's prediction of the standardised target."""
        nodes = self.node_normalizer(self.node_features(velocities, species))
        edges = self.edge_normalizer(self.edge_features(graph, velocities))
        return self.network(nodes, edges, graph, self.core_inputs(velocities, species))

    def _target_scale(self) -> jax.Array:
        """(6,) the root mean square of the dr components and of the dv components, each repeated 3 times:
        one scale per vector, no mean, so that a rotation of the target is a rotation of the standardised one."""
        second_moment = self.target_normalizer.mean_square().reshape(2, 3).mean(-1)
        return jnp.repeat(safe_sqrt_or_one(second_moment), 3)

    def standardise(self, target: jax.Array) -> jax.Array:
        return target / self._target_scale() if self.isotropic else self.target_normalizer(target)

    def unstandardise(self, output: jax.Array) -> jax.Array:
        return output * self._target_scale() if self.isotropic else self.target_normalizer.inverse(output)

    def loss(self, velocities, species, graph: Graph, changes: jax.Array, velocity_weight: float = 1.0) -> jax.Array:
        """Mean squared error per atom and component of the standardised target (paper 4.4 iii: [dr, dv]);
        `velocity_weight` w weighs the dv components against the dr ones, (e_r^2 + w e_v^2) / (1 + w), so that
        w = 1 is the paper's plain mean."""
        target = self.standardise(self.network_target(velocities, changes))
        error = self.standardised_output(velocities, species, graph) - target
        if velocity_weight == 1.0:
            return jnp.mean(error**2)
        return (jnp.mean(error[:, :3] ** 2) + velocity_weight * jnp.mean(error[:, 3:] ** 2)) / (1 + velocity_weight)

    def raw_prediction(self, velocities, species, graph: Graph) -> tuple[jax.Array, jax.Array]:
        """(dr, dv), each (N, 3), in the units of the training data, as the network gives them."""
        return self.from_network_target(velocities, self.unstandardise(self.standardised_output(velocities, species, graph)))

    def __call__(self, velocities, species, graph: Graph, masses: jax.Array, step_time: float,
                 centre_velocity: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """(dr, dv) over one prediction (`step_time` = k dt) with total momentum conserved exactly; see
        `conserve_momentum` for `centre_velocity`."""
        dr, dv = self.raw_prediction(velocities, species, graph)
        return conserve_momentum(dr, dv, velocities, masses, step_time, centre_velocity)


def make_model(n_species: int, config: ModelConfig, rngs: nnx.Rngs, step_time: float = 0.0,
               species_masses=None) -> OGN:
    """An untrained model with the core `config.network` names."""
    return OGN(n_species, config, rngs, step_time, species_masses)


def with_network_dtype(model: OGN, dtype) -> OGN:
    """A copy of `model` whose network weights (not its normalisers) are `dtype`: bfloat16 halves the
    memory traffic and uses the tensor cores of a GPU; on a CPU without bf16 units it is slower."""
    model = nnx.clone(model)
    params = nnx.state(model.network, nnx.Param)
    nnx.update(model.network, jax.tree.map(lambda p: p.astype(dtype), params))
    return model


def conserve_momentum(dr: jax.Array, dv: jax.Array, velocities: jax.Array, masses: jax.Array, step_time: float,
                      centre_velocity: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Project a prediction onto the states of the same total momentum: shift dv so that the new
    centre-of-mass velocity is `centre_velocity` (default: the current one, sum m v / M), and give the
    centre of mass the displacement `centre_velocity` * step_time of a momentum-conserving flow.

    MD conserves momentum, so the true (dr, dv) is a fixed point: the projection is orthogonal in the
    mass-weighted norm and never increases that error of dv. It holds for any network, the paper's
    included; for a core whose dv is a sum of antisymmetric pair terms it changes nothing beyond rounding.
    A rollout passes its start's centre velocity, so that float32 rounding does not accumulate from one
    prediction to the next. (N, 3) dr, dv, velocities; (N,) masses; (3,) centre_velocity."""
    weights = (masses / jnp.sum(masses))[:, None].astype(dv.dtype)
    if centre_velocity is None:
        centre_velocity = jnp.sum(weights * velocities, axis=0)
    dv = dv - (jnp.sum(weights * (velocities + dv), axis=0) - centre_velocity)
    dr = dr - jnp.sum(weights * dr, axis=0) + centre_velocity * step_time
    return dr, dv
