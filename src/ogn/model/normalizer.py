"""Online standardisation (paper 4.4 ii): every feature is standardised by the mean and variance of all
values seen so far, updated during training, frozen for evaluation, saved with the model."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


class Statistic(nnx.Variable):
    """Running statistics: state of the model that the optimizer does not touch."""


class Normalizer(nnx.Module):
    def __init__(self, size: int, std_epsilon: float = 1e-8):
        self.count = Statistic(jnp.zeros((), jnp.float32))
        self.mean = Statistic(jnp.zeros(size, jnp.float32))
        self.m2 = Statistic(jnp.zeros(size, jnp.float32))  # sum of squared deviations from the mean
        self.std_epsilon = std_epsilon

    def update(self, x: jax.Array, mask: jax.Array | None = None, axis_name: str | None = None) -> None:
        """Fold the rows of (M, size) `x` (where `mask`) into the statistics (Chan et al.'s pairwise merge,
        stable where sums of squares are not). `axis_name`: the data-parallel axis whose devices each hold
        a part of the batch: the batch's moments are summed over it, so every replica folds in the whole."""
        total_over = (lambda v: v) if axis_name is None else (lambda v: jax.lax.psum(v, axis_name))
        weight = jnp.ones(x.shape[0]) if mask is None else mask.astype(x.dtype)
        n_new = total_over(weight.sum())
        mean_new = total_over((weight[:, None] * x).sum(0)) / jnp.maximum(n_new, 1.0)
        m2_new = total_over((weight[:, None] * (x - mean_new) ** 2).sum(0))
        n_old = self.count[...]
        total = n_old + n_new
        delta = mean_new - self.mean[...]
        frac = n_new / jnp.maximum(total, 1.0)
        self.mean[...] = self.mean[...] + delta * frac
        self.m2[...] = self.m2[...] + m2_new + delta**2 * n_old * frac
        self.count[...] = total

    def mean_square(self) -> jax.Array:
        """(size,) the mean of x^2 over everything seen (0 before anything has been)."""
        return self.m2[...] / jnp.maximum(self.count[...], 1.0) + self.mean[...] ** 2

    @property
    def std(self) -> jax.Array:
        variance = self.m2[...] / jnp.maximum(self.count[...], 1.0)
        # a constant feature (one species) has zero variance: leave it centred, unscaled
        return jnp.where(variance > self.std_epsilon**2, jnp.sqrt(jnp.maximum(variance, self.std_epsilon**2)), 1.0)

    def __call__(self, x: jax.Array) -> jax.Array:
        return (x - self.mean[...]) / self.std

    def inverse(self, y: jax.Array) -> jax.Array:
        return y * self.std + self.mean[...]
