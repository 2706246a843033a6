"""The 48 symmetries of the cube (rotations and reflections) used to augment training data (paper 4.4 vii).

Each is a signed permutation matrix. One that maps the periodic box onto itself (all 48 for a cube; for
an orthorhombic box, those that permute only equal sides) turns wrapped positions (wrapped again),
velocities and [dr, dv] targets into another valid configuration pair; the others would not.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np


def cube_symmetries() -> np.ndarray:
    """(48, 3, 3) signed permutation matrices; index 0 is the identity."""
    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[range(3), perm] = signs
            mats.append(m)
    return np.array(mats)


def box_symmetries(box) -> np.ndarray:
    """(S, 3, 3) the cube symmetries that map the orthorhombic `box` onto itself; index 0 is the identity."""
    sides = np.asarray(box, dtype=np.float64)
    mats = cube_symmetries()
    keeps = [np.allclose(np.abs(m) @ sides, sides, rtol=1e-9) for m in mats]
    return mats[np.asarray(keeps)]


def apply_symmetry(matrix: jax.Array, box, positions, velocities, targets):
    """Transform one configuration pair: positions (wrapped back into the box), velocities, [dr, dv]."""
    rotate = lambda x: x @ matrix.T
    dr, dv = targets[:, :3], targets[:, 3:]
    return jnp.mod(rotate(positions), box), rotate(velocities), jnp.concatenate([rotate(dr), rotate(dv)], -1)
