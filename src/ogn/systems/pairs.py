"""Pair geometry over jax-md neighbor lists, safe for autodiff on padded entries."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def ordered_pair_geometry(displacement_fn, positions, pair_idx):
    """Geometry of the i<j pairs of an OrderedSparse (or Sparse) neighbor list.

    pair_idx: (2, C) int | rows i, j; padding entries hold N.
    Returns (i, j, dR, r, valid): dR = r_j - r_i by minimum image (C, 3); r (C,) is 1.0 on padding so
    that no division or power on a padded pair can produce inf/NaN in the energy or its gradient.
    """
    n_atoms = positions.shape[0]
    i, j = pair_idx[0], pair_idx[1]
    valid = (i < n_atoms) & (j < n_atoms)
    i = jnp.where(valid, i, 0)
    j = jnp.where(valid, j, 0)
    dR = jax.vmap(displacement_fn)(positions[j], positions[i])
    r2 = jnp.sum(dR * dR, axis=-1)
    r = jnp.sqrt(jnp.where(valid, r2, 1.0))
    return i, j, dR, r, valid
