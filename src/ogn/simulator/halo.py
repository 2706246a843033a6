"""One prediction for a domain of atoms whose periodic images are atoms of their own: a LAMMPS rank's local
atoms and the ghost atoms around them (`ogn.simulator.lammps`).

The graph is built from free-space vectors (a ghost is an explicit image: no minimum image), from a list of
candidate pairs within cutoff + skin that is kept until the atoms are reordered (LAMMPS reorders them only
when it rebuilds its own lists) or until an atom has moved half the skin. A local atom's prediction is
exact when the ghosts reach `hops` x the graph cutoff beyond the domain, plus the skin (the model's
receptive field: `LearnableCore.hops`); ghosts' own predictions are wrong near the halo's edge and unused.

Shapes are padded to buckets (atoms, candidate pairs, edges) so that a domain whose atom count changes by
a few does not compile anew; a graph beyond its edge capacity is redone with more room, never truncated.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ogn.model.graph import Graph, neighbor_list_graph
from ogn.model.network import OGN, with_network_dtype
from ogn.simulator.step import rollout_capacity

BUCKET_GROWTH = 2 ** 0.25  # padded sizes are powers of this (19 % apart), at least MIN_BUCKET
MIN_BUCKET = 64


def bucket(n: int) -> int:
    """The padded size for `n` items: the next power of BUCKET_GROWTH, so that sizes a few apart share it."""
    if n <= MIN_BUCKET:
        return MIN_BUCKET
    return int(np.ceil(BUCKET_GROWTH ** np.ceil(np.log(n) / np.log(BUCKET_GROWTH) - 1e-9)))


def candidate_pairs(positions: np.ndarray, reach: float) -> np.ndarray:
    """(2, P) both directions of every pair of atoms closer than `reach` (free space)."""
    from scipy.spatial import cKDTree

    pairs = cKDTree(positions).query_pairs(reach, output_type="ndarray")
    return np.concatenate([pairs.T, pairs.T[::-1]], axis=1).astype(np.int32)


class HaloPredictor:
    """(dr, dv) of `model` for atoms given with their explicit images. `cutoff`: the model's graph cutoff;
    `skin`: how far atoms may move before the candidate pairs are rebuilt (LAMMPS's neighbor skin)."""

    def __init__(self, model: OGN, cutoff: float, skin: float, network_dtype: str = "float32"):
        if not skin > 0:
            raise ValueError(f"the skin must be positive, got {skin}")
        self.model = with_network_dtype(model, jnp.dtype(network_dtype)) if network_dtype != "float32" else model
        self.cutoff, self.skin = float(cutoff), float(skin)
        self.hops = int(model.network.hops)
        self.edge_capacity = MIN_BUCKET
        self._ids: np.ndarray | None = None  # the atom ids the candidates were built for, in order
        self._built_at: np.ndarray | None = None  # positions at that build
        self._candidates: np.ndarray | None = None  # (2, bucket) padded with the padded atom count
        self._predict = jax.jit(self._prediction, static_argnums=4)

    @property
    def halo(self) -> float:
        """How far beyond a domain its ghost atoms must reach."""
        return self.hops * self.cutoff + self.skin

    def _prediction(self, positions, velocities, species, candidates, capacity: int):
        graph: Graph = neighbor_list_graph(positions, None, self.cutoff, candidates, capacity)
        dr, dv = self.model.raw_prediction(velocities, species, graph)
        return dr, dv, graph.n_edges

    def _refresh(self, positions: np.ndarray, ids: np.ndarray, n_padded: int, n_local: int | None) -> None:
        """Rebuild the candidate pairs when the atoms were reordered, or one moved half the skin."""
        same = self._ids is not None and np.array_equal(ids, self._ids)
        if same:
            moved = np.max(np.sum((positions - self._built_at) ** 2, axis=-1), initial=0.0)
            if moved < (0.5 * self.skin) ** 2:
                return
        pairs = candidate_pairs(positions, self.cutoff + self.skin)
        if n_local is not None:
            pairs = pairs[:, self._reaching(positions, n_local)[pairs].any(axis=0)]
        padded = np.full((2, bucket(pairs.shape[1])), n_padded, np.int32)
        padded[:, :pairs.shape[1]] = pairs
        self._ids, self._built_at, self._candidates = ids.copy(), positions.copy(), padded

    def _reaching(self, positions: np.ndarray, n_local: int) -> np.ndarray:
        """(n,) whether an atom's edges can reach the first `n_local` atoms' predictions: an edge is used only
        at depth d <= hops from a local atom, so one endpoint lies within (hops - 1) graph cutoffs of the
        local atoms' box (+ the skin the candidates live for). Edges between the halo's outer ghosts are
        dropped: at 7155 atoms per rank, 2.4 ghosts per local atom."""
        if n_local == 0:
            return np.zeros(len(positions), bool)
        lo, hi = positions[:n_local].min(axis=0), positions[:n_local].max(axis=0)
        outside = np.maximum(np.maximum(lo - positions, positions - hi), 0.0)
        reach = (self.hops - 1) * self.cutoff + self.skin
        return np.sum(outside**2, axis=-1) <= reach**2

    def __call__(self, positions, velocities, species, ids, n_local: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(n, 3) dr and dv (float32, in the model's units) for (n, 3) `positions` (any float; free space),
        `velocities`, (n,) `species` and `ids` (any labels that change when the atoms are reordered). With
        `n_local`, only the first n_local atoms' predictions are wanted (exact); the ghosts' are not."""
        positions = np.asarray(positions, np.float64)
        n = len(positions)
        n_padded = bucket(n)
        self._refresh(positions, np.asarray(ids), n_padded, n_local)
        # float32 keeps ~1e-7 of the coordinates' magnitude: centre them on the domain first
        origin = 0.5 * (positions.min(axis=0) + positions.max(axis=0)) if n else np.zeros(3)
        r = np.zeros((n_padded, 3), np.float32)
        r[:n] = positions - origin
        v = np.zeros((n_padded, 3), np.float32)
        v[:n] = velocities
        s = np.zeros(n_padded, np.int32)
        s[:n] = species
        while True:
            dr, dv, n_edges = self._predict(r, v, s, self._candidates, self.edge_capacity)
            if int(n_edges) <= self.edge_capacity:
                return np.asarray(dr)[:n], np.asarray(dv)[:n]
            self.edge_capacity = bucket(rollout_capacity(int(n_edges)))

