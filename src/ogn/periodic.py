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
    return d - box * xp.round(d / box)
