"""The one loop of the learned simulator, in the shape of ASE's `MolecularDynamics`: a `Simulator`'s step
runs as one compiled `lax.scan` per chunk of predictions, the host checks the chunk, and observers attached
with `attach(observer, interval)` see its results.

Host checks after every chunk, before anything is handed on:
- a neighbor list that overflowed, or a graph that needed more edges than its capacity: the chunk is redone
  from its first state with more room (`Simulator.refit_fn`), so no edge is ever dropped;
- a non-finite state: `RolloutError` naming the first bad prediction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np

from ogn.simulator.step import Simulator, SimulatorState


class RolloutError(RuntimeError):
    pass


@dataclass
class Frames:
    """What an observer sees of one chunk: its kept predictions on the host, and its last state."""

    first: int  # predictions made before this chunk
    count: int  # predictions in this chunk
    predictions: np.ndarray  # (F,) | 1-based index since the start of each kept prediction
    positions: np.ndarray  # (F, N, 3) float32 | unwrapped
    velocities: np.ndarray  # (F, N, 3) float32
    state: SimulatorState  # after the chunk's last prediction (on the device)


class Driver:
    """Runs `simulator` for any number of predictions, `chunk` per compiled call; `k`: MD steps per
    prediction (for messages). `log` says when a chunk is redone with more room."""

    def __init__(self, simulator: Simulator, chunk: int, k: int = 1, log: Callable[[str], None] = print):
        if chunk < 1:
            raise ValueError(f"a chunk needs at least one prediction, got {chunk}")
        self.simulator, self.chunk, self.k, self.log = simulator, chunk, k, log
        self.observers: list[tuple[Callable[[Frames], None], int]] = []
        self._scan = jax.jit(functools.partial(_scan, simulator.step_fn), static_argnums=(1, 2))

    def attach(self, observer: Callable[[Frames], None], interval: int = 0) -> None:
        """Call `observer(frames)` after every chunk with every `interval`-th prediction on the host
        (interval 0: none of them, only the chunk's counts and last state)."""
        if interval < 0:
            raise ValueError(f"interval must be >= 0, got {interval}")
        self.observers.append((observer, interval))

    def run(self, state: SimulatorState, n_predictions: int) -> SimulatorState:
        """`n_predictions` more predictions from `state`; the state after the last."""
        with_frames = any(interval for _, interval in self.observers)
        done = 0
        while done < n_predictions:
            n = min(self.chunk, n_predictions - done)
            state, frames = self._chunk(state, n, with_frames)
            for observer, interval in self.observers:
                observer(_select(frames, interval))
            done += n
        return state

    def _chunk(self, state: SimulatorState, n: int, with_frames: bool) -> tuple[SimulatorState, Frames]:
        while True:
            end, (positions, velocities, reports) = self._scan(state, n, with_frames)
            most, overflow = int(reports.edges.max()), bool(reports.overflow.any())
            if not overflow and most <= state.edge_capacity:
                break
            if overflow:
                self.log("a neighbor list outgrew its capacity: redoing the predictions with a larger one")
            else:
                self.log(f"the graph grew to {most} edges, beyond its capacity {state.edge_capacity}:"
                         " redoing the predictions")
            state = self.simulator.refit_fn(state, end, most)
        first = int(state.prediction)
        finite = np.asarray(reports.finite)
        if not finite.all():
            bad = first + int(np.argmin(finite)) + 1
            raise RolloutError(f"non-finite positions or velocities at prediction {bad} (MD step {bad * self.k});"
                               " the model has left the region it was trained on")
        predictions = first + 1 + np.arange(n)
        if with_frames:
            positions, velocities = np.asarray(positions), np.asarray(velocities)
        return end, Frames(first, n, predictions, positions, velocities, end)


def _scan(step_fn, state, n: int, with_frames: bool):
    def body(state, _):
        state, report = step_fn(state)
        frame = (state.positions, state.velocities) if with_frames else (None, None)
        return state, (*frame, report)

    return jax.lax.scan(body, state, None, length=n)


def _select(frames: Frames, interval: int) -> Frames:
    """The frames of every `interval`-th prediction (none for interval 0)."""
    if interval == 0 or frames.positions is None:
        empty = np.zeros(0, int)
        return Frames(frames.first, frames.count, empty, None, None, frames.state)
    kept = frames.predictions % interval == 0
    return Frames(frames.first, frames.count, frames.predictions[kept], frames.positions[kept],
                  frames.velocities[kept], frames.state)
