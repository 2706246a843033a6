"""Every network a run can name in `model.network`, registered once. The model contract tests
(tests/test_model.py) run over this table."""

from __future__ import annotations

from ogn.model.equivariant import EquivariantCore
from ogn.model.pair import PairCore
from ogn.model.paper import PaperCore

NETWORKS = {
    "ogn": PaperCore,  # the paper's network (4.2, 4.3)
    "equivariant": EquivariantCore,  # invariant features, vectors weighted by learned scalars
    "pair": PairCore,  # vector channels, antisymmetric pair readout, smooth radial basis
}


def network_class(name: str):
    """The core registered as `name`; a clear error naming the known ones otherwise."""
    if name not in NETWORKS:
        raise ValueError(f"model.network {name!r}: choose one of {tuple(NETWORKS)}")
    return NETWORKS[name]
