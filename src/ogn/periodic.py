"""The one minimum image: every displacement between atoms of a periodic box goes through it.

jax-md's `space.periodic` computes the same (to float32 rounding) but importing jax-md builds its rigid-body
tables eagerly (seconds of start-up); graphs and metrics need only this line.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def minimum_image(d, box):
    """`d` (..., 3) with whole box lengths removed per axis: each component in [-box/2, box/2]. `box`: the
    side (a cube) or the (3,) sides. NumPy in, NumPy out; JAX in, JAX out."""
    xp = np if isinstance(d, np.ndarray) else jnp
    box = xp.asarray(box, dtype=d.dtype)
    return d - box * xp.round(d / box)


def box_sides(box, source: str = "box") -> np.ndarray:
    """(3,) float64 side lengths of an orthorhombic box from a side (a cube), three sides, or a diagonal
    (3, 3) cell. A tilted (triclinic) cell, or a side that is not positive and finite, is an error naming
    `source`."""
    b = np.asarray(box, dtype=np.float64)
    if b.shape == (3, 3):
        if np.any(b[~np.eye(3, dtype=bool)] != 0):
            raise ValueError(f"{source}: triclinic cell {b.tolist()}; ogn supports orthorhombic boxes only")
        b = np.diag(b).copy()
    elif b.shape == ():
        b = np.full(3, float(b))
    if b.shape != (3,):
        raise ValueError(f"{source}: a box is one side or three sides, got shape {b.shape}")
    if not np.all(np.isfinite(b) & (b > 0)):
        raise ValueError(f"{source}: box sides must be positive and finite, got {b.tolist()}")
    return b


def box_text(box) -> str:
    """'Lx x Ly x Lz' for messages."""
    return " x ".join(f"{b:.6g}" for b in box_sides(box))
