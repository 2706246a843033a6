"""A learned integrator with the structure of the physics (`model.network: pair`), in the encoder /
message-passing / decoder frame of the paper's network:

- **Invariant features, equivariant vector channels.** Node scalars start from the species and the speed;
  each node also carries C vectors, started from its velocity. Every layer passes messages along the edges
  (PaiNN's form: scalar filters of a radial basis times a smooth envelope, gating the neighbour's vectors
  and the edge direction), and every layer sees the velocities again (the edge invariants r^ . v and a
  per-channel injection of v_i). Sums are divided by the mean number of neighbours.
- **Newton's third law by construction.** The change of velocity is read out as a sum of antisymmetric pair
  terms, dv_i = (1 / m_i) sum_j m_ij with m_ij = phi_ij r^_ij + psi_ij (v_j - v_i) + sum_c chi^c_ij (V^c_j
  - V^c_i), where phi, psi, chi are symmetric in i and j: m_ji = -m_ij, so the total momentum is exact with
  no projection. The position correction (targets `kinematic`: dr = v tau + tau dv / 2 + correction) is a
  second such sum, so the centre of mass moves exactly with P / M.
- **Smooth at the cutoff.** Every edge term carries a polynomial envelope that vanishes with its first
  derivatives at the graph cutoff: an atom crossing it changes nothing abruptly.

Rotating or reflecting the input rotates the output (no cube augmentation); the wrapper standardises the
targets with one scale per vector, which keeps both symmetries and the antisymmetry.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ogn.model.config import ModelConfig
from ogn.model.core import CoreInputs
from ogn.model.graph import Graph
from ogn.model.layers import gather, safe_sqrt_or_one, unit_vectors


def bessel_basis(distance: jax.Array, cutoff: float, n: int) -> jax.Array:
    """(E, n) sqrt(2 / rc) sin(k pi r / rc) / r, k = 1..n (DimeNet, NequIP); 0 on padding (r = 0)."""
    r = jnp.where(distance > 0, distance, 1.0)[:, None]
    k = jnp.arange(1, n + 1, dtype=distance.dtype)
    return jnp.sqrt(2.0 / cutoff) * jnp.sin(k * jnp.pi * r / cutoff) / r * (distance > 0)[:, None]


def envelope(distance: jax.Array, cutoff: float, p: int) -> jax.Array:
    """(E, 1) DimeNet's polynomial envelope u(x), x = r / rc: 1 at x = 0, and u, u' and u'' vanish at x = 1;
    0 beyond the cutoff and on padding."""
    x = distance / cutoff
    u = 1 - (p + 1) * (p + 2) / 2 * x**p + p * (p + 2) * x ** (p + 1) - p * (p + 1) / 2 * x ** (p + 2)
    return jnp.where((distance > 0) & (x < 1), u, 0.0)


def _dense(n_in: int, n_out: int, rngs: nnx.Rngs, use_bias: bool = True, zero: bool = False) -> nnx.Linear:
    init = nnx.initializers.zeros_init() if zero else nnx.initializers.lecun_normal()
    return nnx.Linear(n_in, n_out, use_bias=use_bias, kernel_init=init, rngs=rngs)


def segment_sum(values: jax.Array, ids: jax.Array, n: int) -> jax.Array:
    """Sum of edge values per node (padding edges, id N, are dropped), in float32 at least."""
    wide = jnp.promote_types(values.dtype, jnp.float32)
    return jax.ops.segment_sum(values.astype(wide), ids, num_segments=n).astype(values.dtype)


class MessageLayer(nnx.Module):
    """One PaiNN-style layer: messages (scalar filters gating neighbour vectors and the edge direction, plus
    the atom's own velocity), then the update that mixes scalars and vector norms."""

    def __init__(self, features: int, channels: int, edge_in: int, rngs: nnx.Rngs):
        self.features, self.channels = features, channels
        self.filter = _dense(edge_in, features + 2 * channels, rngs)
        self.node = _dense(features, features + 2 * channels, rngs)
        self.velocity_gate = _dense(features, channels, rngs)
        self.mix_u = _dense(channels, channels, rngs, use_bias=False)
        self.mix_w = _dense(channels, channels, rngs, use_bias=False)
        self.update = _dense(features + channels, features + 2 * channels, rngs)
        self.norm = nnx.LayerNorm(features, rngs=rngs)

    def __call__(self, s, vectors, edges, unit, smooth, graph: Graph, u, scale):
        """s (N, F), vectors (N, C, 3), edges (E, edge_in) standardised, unit (E, 3) r^_ij, smooth (E, 1) the
        envelope, u (N, 3) velocities in thermal units, scale: 1 / mean neighbours."""
        n, f, c = s.shape[0], self.features, self.channels
        gates = gather(jax.nn.silu(self.node(s)), graph.receivers) * self.filter(edges) * smooth
        a, b, d = gates[:, :f], gates[:, f:f + c], gates[:, f + c:]
        messages = b[:, :, None] * gather(vectors, graph.receivers) + d[:, :, None] * unit[:, None, :]
        s = s + segment_sum(a, graph.senders, n) * scale
        vectors = vectors + segment_sum(messages, graph.senders, n) * scale
        vectors = vectors + self.velocity_gate(s)[:, :, None] * u[:, None, :]
        mixed_u = jnp.einsum("ncx,cd->ndx", vectors, self.mix_u.kernel[...])
        mixed_w = jnp.einsum("ncx,cd->ndx", vectors, self.mix_w.kernel[...])
        norms = jnp.sqrt(jnp.sum(mixed_w**2, -1) + 1e-8)
        out = self.update(jnp.concatenate([s, norms], -1))
        a_ss, a_sv, a_vv = out[:, :f], out[:, f:f + c], out[:, f + c:]
        s = self.norm(s + jax.nn.silu(a_ss) + jnp.sum(a_sv * jnp.sum(mixed_u * mixed_w, -1), -1, keepdims=True) / c)
        vectors = vectors + a_vv[:, :, None] * mixed_u
        # an equivariant norm: every atom's vectors shrink by one invariant, so that depth cannot blow them up
        return s, vectors / jnp.sqrt(1.0 + jnp.mean(jnp.sum(vectors**2, -1), -1))[:, None, None]


class PairReadout(nnx.Module):
    """Symmetric pair coefficients from [s_i + s_j, symmetric edge invariants] -> antisymmetric vectors."""

    def __init__(self, features: int, hidden: int, channels: int, n_pair: int, rngs: nnx.Rngs):
        self.node = _dense(features, hidden, rngs, use_bias=False)
        self.edge = _dense(n_pair, hidden, rngs)
        self.out = _dense(hidden, 2 * (2 + channels), rngs, zero=True)  # an untrained model predicts dr = v tau
        self.channels = channels

    def __call__(self, s, vectors, pair, unit, smooth, graph: Graph, u, masses, scale):
        n, c = s.shape[0], self.channels
        h = self.node(s)
        hidden = jax.nn.silu(gather(h, graph.senders) + gather(h, graph.receivers) + self.edge(pair))
        coefficients = self.out(hidden) * smooth  # (E, 2 (2 + C)): for the correction, then for dv
        relative_u = gather(u, graph.receivers) - gather(u, graph.senders)
        relative_v = gather(vectors, graph.receivers) - gather(vectors, graph.senders)  # (E, C, 3)

        def pair_sum(k):
            w = coefficients[:, k * (2 + c):(k + 1) * (2 + c)]
            m = w[:, 0:1] * unit + w[:, 1:2] * relative_u + jnp.einsum("ec,ecx->ex", w[:, 2:], relative_v)
            return segment_sum(m, graph.senders, n) * scale / masses[:, None]

        return jnp.concatenate([pair_sum(0), pair_sum(1)], -1)


class PairCore(nnx.Module):
    """Registered as "pair". Uses `latent` (scalar features), `hidden` (the readout's width), `layers`,
    `vector_channels`, `radial_basis`, `envelope_exponent` and `graph_cutoff` (required)."""

    symmetric = True

    def __init__(self, n_species: int, config: ModelConfig, rngs: nnx.Rngs):
        if config.graph_cutoff is None:
            raise ValueError("model.network pair needs model.graph_cutoff (its radial basis and envelope end there)")
        node_in, edge_in = self.feature_sizes(n_species, config)
        f, c = config.latent, config.vector_channels
        self.n_species, self.cutoff = n_species, float(config.graph_cutoff)
        self.n_basis, self.p = config.radial_basis, config.envelope_exponent
        self.embed = _dense(node_in, f, rngs)
        self.vector_init = _dense(f, c, rngs)
        self.layers = nnx.List([MessageLayer(f, c, edge_in, rngs) for _ in range(config.layers)])
        self.readout = PairReadout(f, config.hidden, c, config.radial_basis + 3, rngs)

    @property
    def dtype(self):
        return self.embed.kernel[...].dtype

    @property
    def hops(self) -> int:
        """One per message layer, and one more for the readout, which reads the neighbours' latents."""
        return len(self.layers) + 1

    @staticmethod
    def feature_sizes(n_species: int, config: ModelConfig) -> tuple[int, int]:
        return n_species + 1, config.radial_basis + 2

    def node_features(self, velocities: jax.Array, species: jax.Array) -> jax.Array:
        speed = jnp.sqrt(jnp.sum(velocities**2, -1, keepdims=True))
        return jnp.concatenate([jax.nn.one_hot(species, self.n_species, dtype=velocities.dtype), speed], -1)

    def edge_features(self, graph: Graph, velocities: jax.Array) -> jax.Array:
        """(E, B + 2) the radial basis, r^ . v_i and r^ . v_j; zero on padding."""
        unit, distance = unit_vectors(graph.edge_vectors)
        v_i, v_j = gather(velocities, graph.senders), gather(velocities, graph.receivers)
        basis = bessel_basis(distance[:, 0], self.cutoff, self.n_basis)
        return jnp.concatenate([basis, jnp.sum(unit * v_i, -1, keepdims=True),
                                jnp.sum(unit * v_j, -1, keepdims=True)], -1) * (distance > 0)

    def __call__(self, nodes: jax.Array, edges: jax.Array, graph: Graph, inputs: CoreInputs) -> jax.Array:
        dtype = self.dtype
        unit, distance = unit_vectors(graph.edge_vectors)
        smooth = envelope(distance, self.cutoff, self.p)
        # velocities in units of their rms component (from the speed's statistics), so every term is O(1)
        u = inputs.velocities / safe_sqrt_or_one(inputs.node_mean_square[-1] / 3)
        scale = inputs.message_scale
        s = jax.nn.silu(self.embed(nodes.astype(dtype)))
        vectors = self.vector_init(s)[:, :, None] * u[:, None, :]
        for layer in self.layers:
            s, vectors = layer(s, vectors, edges.astype(dtype), unit, smooth, graph, u, scale)
        pair = self.pair_invariants(graph, unit, distance, u)
        return self.readout(s, vectors, pair, unit, smooth, graph, u, inputs.masses, scale).astype(nodes.dtype)

    def pair_invariants(self, graph: Graph, unit, distance, u) -> jax.Array:
        """(E, B + 3) what the readout sees of an edge, symmetric under i <-> j: the radial basis (in units of
        its value at the cutoff's midpoint), r^ . (u_j - u_i), |u_j - u_i| and (r^ . u_i)(r^ . u_j)."""
        u_i, u_j = gather(u, graph.senders), gather(u, graph.receivers)
        basis = bessel_basis(distance[:, 0], self.cutoff, self.n_basis) * np.sqrt(self.cutoff / 2) * self.cutoff / 2
        along = jnp.sum(unit * (u_j - u_i), -1, keepdims=True)
        apart = jnp.sqrt(jnp.sum((u_j - u_i) ** 2, -1, keepdims=True) + 1e-12)
        product = jnp.sum(unit * u_i, -1, keepdims=True) * jnp.sum(unit * u_j, -1, keepdims=True)
        return jnp.concatenate([basis, along, apart, product], -1) * (distance > 0)
