"""The learned simulator: a trained OGN applied again and again, k MD steps per prediction.

The whole rollout is one compiled `lax.scan`. Positions stay unwrapped (the graph is built through the
periodic displacement, which needs no wrapping). Every prediction keeps the start's total momentum
exactly (the model's wrapper projects it, `conserve_momentum`). After the scan the host checks two things: a graph that
outgrew its edge capacity (the rollout is redone with a larger capacity: never a silently dropped edge) and
a non-finite prediction (a clear error naming the first bad prediction).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ogn.model.graph import dense_graph, neighbor_list_graph
from ogn.model.network import OGN, with_network_dtype
from ogn.periodic import box_sides, box_text
from ogn.progress import NoProgress


class RolloutError(RuntimeError):
    pass


@dataclass
class Rollout:
    positions: np.ndarray  # (S, N, 3) unwrapped, the kept predictions (every one by default: after k, 2k, ...);
    # none when they went to the rollout's on_frames
    velocities: np.ndarray  # (S, N, 3)
    steps: np.ndarray  # (S,) MD steps since the start of the kept predictions
    edge_capacity: int
    final_positions: np.ndarray  # (N, 3) after the last prediction, kept or not
    final_velocities: np.ndarray  # (N, 3)
    species_mv2: np.ndarray  # (P, n_species) sum of m v^2 over each species' atoms after every prediction


NETWORK_DTYPES = ("float32", "bfloat16")
DENSE_MAX_ATOMS = 2000  # above this, graphs come from jax-md cell lists (no O(N^2) step)
CHUNK_ATOM_PREDICTIONS = 500_000  # a rollout's compiled chunk: between chunks, progress and finiteness checks


def make_rollout_fn(model: OGN, box, cutoff: float, capacity: int, n_predictions: int, step_time: float,
                    neighbor_fn=None, thermostat: Callable | None = None) -> Callable:
    """jit-compiled rollout: (positions, velocities, species, masses, neighbor, key) -> per prediction positions
    and velocities, the most edges any graph needed, and whether the neighbor list overflowed. Without
    `neighbor_fn` the graph is built from all pairs, O(N^2); with a jax-md Sparse `neighbor_fn` (cutoff +
    skin, cell list) it is the list's pairs within `cutoff`, the list rebuilt only when an atom has moved
    more than half the skin. Either way the graph has `capacity` edge slots. With `thermostat` (a half step
    `(v, key) -> v`, `ogn.thermostats`), each prediction is wrapped in two half steps drawn from `key`."""
    graphdef, state = nnx.split(model)

    def step(model, r, v, species, masses, graph, centre_velocity):
        dr, dv = model(v, species, graph, masses, step_time, centre_velocity)
        return r + dr.astype(r.dtype), v + dv.astype(v.dtype)

    @jax.jit
    def rollout(positions, velocities, species, masses, neighbor=None, key=None, centre_velocity=None):
        model = nnx.merge(graphdef, state)
        if centre_velocity is None:  # conserved: the caller may pass the start's, computed once in float64
            centre_velocity = jnp.sum(masses[:, None] * velocities, axis=0) / jnp.sum(masses)

        def predict(carry, i):
            r, v, neighbor, finite = carry
            if thermostat is not None:
                before, after = jax.random.split(jax.random.fold_in(key, i))
                v = thermostat(v, before)
            if neighbor is None:
                graph, overflow = dense_graph(r, box, cutoff, capacity), False
            else:
                wrapped = jnp.mod(r, box)
                neighbor = neighbor.update(wrapped)
                graph = neighbor_list_graph(wrapped, box, cutoff, neighbor.idx, capacity)
                overflow = neighbor.did_buffer_overflow
            # graphs of non-finite states are garbage: only finite ones may ask for more room
            edges, overflow = jnp.where(finite, graph.n_edges, 0), finite & overflow
            r, v = step(model, r, v, species, masses, graph, centre_velocity)
            if thermostat is not None:
                v = thermostat(v, after)
            finite = finite & jnp.isfinite(r).all() & jnp.isfinite(v).all()
            return (r, v, neighbor, finite), (r, v, edges, overflow)

        carry = (positions, velocities, neighbor, jnp.asarray(True))
        (_, _, neighbor, _), (rs, vs, edges, overflow) = jax.lax.scan(predict, carry, jnp.arange(n_predictions))
        return rs, vs, edges.max(), jnp.any(overflow), neighbor

    return rollout


def sparse_neighbor_fn(box, cutoff: float, skin: float, capacity_multiplier: float = 1.25):
    from jax_md import partition, space

    box = jnp.asarray(box_sides(box))
    displacement_fn, _ = space.periodic(box)
    return partition.neighbor_list(displacement_fn, box, cutoff, dr_threshold=skin,
                                   capacity_multiplier=capacity_multiplier, format=partition.NeighborListFormat.Sparse)


def default_skin(cutoff: float, velocities, step_time: float) -> float:
    """The cell list's skin when none is given: twice the distance the start's fastest atom covers in one
    prediction, at least 0.1 and at most 0.5 x the cutoff. With 0.1 x the cutoff alone, one prediction
    outran half the skin and the list was rebuilt at nearly every prediction; this rule was 4-19 % faster
    on all four shipped systems at 10 000 atoms (BENCHMARKS.md). The skin is a speed setting only: the
    list is rebuilt whenever an atom has moved half of it, so no pair is ever dropped."""
    farthest = 2.0 * float(np.max(np.linalg.norm(np.asarray(velocities, np.float64), axis=-1))) * step_time
    # a non-finite start fails its own checks later; its skin must still be a number
    return float(np.clip(farthest, 0.1 * cutoff, 0.5 * cutoff)) if np.isfinite(farthest) else 0.1 * cutoff


def rollout_capacity(n_edges: int) -> int:
    """Edge slots for a rollout's graphs of ~`n_edges` edges. A padding slot costs the network as much as an
    edge, so the margin is waste; it is room for the count to grow by 2 % or by 8 times the square root of
    the count (a Poisson count's standard deviation: large for small graphs), whichever is more. A graph that
    outgrows it redoes its chunk with more room, never dropping an edge. (At ~3e5 edges, 10 000 atoms: 2 %
    of spare slots instead of the 10 % before, 2-3 % faster; BENCHMARKS.md.)"""
    return int(np.ceil(n_edges + max(0.02 * n_edges, 8.0 * np.sqrt(n_edges)))) + 1


class CompiledRollout:
    """`n_predictions` predictions of `model` from any state of these atoms, compiled once and reusable
    (`ogn rollout`, `ogn bench rollout`); a call may ask for another count (compiled once more). A run whose
    graph outgrew its edge capacity, or whose neighbor list overflowed, is redone with more room: no edge is
    ever dropped. The neighbor list is carried from one call to the next. `network_dtype` "bfloat16" runs
    the network (not the normalisers, graphs or positions) in bfloat16, an option for GPUs. `thermostat`:
    see make_rollout_fn; each call then takes a random key."""

    def __init__(self, model: OGN, box, cutoff: float, species, masses, step_time: float,
                 n_predictions: int, skin: float | None = None, log: Callable[[str], None] = print,
                 network_dtype: str = "float32", thermostat: Callable | None = None):
        if network_dtype not in NETWORK_DTYPES:
            raise ValueError(f"network dtype must be one of {NETWORK_DTYPES}, got {network_dtype!r}")
        if network_dtype != "float32":
            model = with_network_dtype(model, jnp.dtype(network_dtype))
        self.model, self.cutoff, self.n_predictions, self.log = model, cutoff, n_predictions, log
        self.box = box_sides(box)
        self.species = jnp.asarray(species)
        self.masses = jnp.asarray(masses, jnp.float32)  # (N,) per atom
        if self.masses.shape != self.species.shape or not bool(jnp.all(self.masses > 0)):
            raise ValueError(f"need one positive mass per atom, got shape {self.masses.shape} for {len(species)} atoms")
        self.step_time, self.thermostat = step_time, thermostat
        self.dense = len(self.species) <= DENSE_MAX_ATOMS
        self.skin = skin  # None: default_skin, from the velocities of the first call
        self.neighbor_fn = None
        self.neighbor = None
        self.edge_capacity = None
        self._fns: dict[int, Callable] = {}  # compiled rollouts by their number of predictions

    def edges_now(self, r) -> int:
        if self.dense:
            return int(dense_graph(r, self.box, self.cutoff, 1).n_edges)
        return int(neighbor_list_graph(jnp.mod(r, self.box), self.box, self.cutoff, self.neighbor.idx, 1).n_edges)

    def _fn(self, n_predictions: int) -> Callable:
        if n_predictions not in self._fns:
            self._fns[n_predictions] = make_rollout_fn(self.model, self.box, self.cutoff, self.edge_capacity,
                                                       n_predictions, self.step_time, self.neighbor_fn, self.thermostat)
        return self._fns[n_predictions]

    def _compile(self, capacity: int) -> None:
        self.edge_capacity, self._fns = capacity, {}

    def __call__(self, positions: jax.Array, velocities: jax.Array, key: jax.Array | None = None,
                 n_predictions: int | None = None, centre_velocity: jax.Array | None = None
                 ) -> tuple[jax.Array, jax.Array]:
        """(S, N, 3) positions (unwrapped) and velocities after each of `n_predictions` (default: the
        constructor's) predictions; `key` drives the thermostat; `centre_velocity` (3,) is the one every
        prediction keeps (default: that of `velocities`)."""
        if self.thermostat is not None and key is None:
            raise ValueError("a thermostatted rollout needs a random key")
        n_predictions = self.n_predictions if n_predictions is None else n_predictions
        if not self.dense and self.neighbor is None:
            if self.neighbor_fn is None:
                skin = default_skin(self.cutoff, velocities, self.step_time) if self.skin is None else self.skin
                self.neighbor_fn = sparse_neighbor_fn(self.box, self.cutoff, skin)
            self.neighbor = self.neighbor_fn.allocate(jnp.mod(positions, self.box))
        if self.edge_capacity is None:
            self._compile(rollout_capacity(self.edges_now(positions)))
        while True:
            rs, vs, most, overflow, neighbor = self._fn(n_predictions)(positions, velocities, self.species,
                                                                       self.masses, self.neighbor, key,
                                                                       centre_velocity)
            if bool(overflow):
                self.log("the neighbor list outgrew its capacity: redoing the rollout with a larger one")
                self.neighbor = self.neighbor_fn.allocate(jnp.mod(positions, self.box),
                                                          extra_capacity=self.neighbor.idx.shape[1] // 2)
            elif int(most) > self.edge_capacity:
                self.log(f"the graph grew to {int(most)} edges, beyond its capacity {self.edge_capacity}:"
                         " redoing the rollout")
                self._compile(rollout_capacity(int(most)))
            else:
                self.neighbor = neighbor
                return rs, vs


def rollout(
    model: OGN,
    info: dict,
    positions: np.ndarray,
    velocities: np.ndarray,
    species: np.ndarray,
    box,
    n_steps: int,
    log: Callable[[str], None] = print,
    skin: float | None = None,
    network_dtype: str = "float32",
    thermostat: Callable | None = None,
    seed: int = 0,
    progress_factory=None,
    every: int = 1,
    on_frames: Callable | None = None,
) -> Rollout:
    """Roll the model `n_steps` MD steps (a multiple of its k) from one state. `skin`: of the cell-list
    neighbor list used above DENSE_MAX_ATOMS atoms (default: `default_skin`); `network_dtype`: see CompiledRollout;
    `thermostat` (`ogn.thermostats.make_thermostat`) and its `seed`: an NVT rollout. The predictions run in
    compiled chunks of about CHUNK_ATOM_PREDICTIONS atom-predictions, between which `progress_factory`
    (ogn.progress) is advanced by the MD steps done. Only every `every`-th prediction is kept (memory grows
    with what is kept, not with the rollout's length), or given to `on_frames(steps, positions, velocities)`
    chunk by chunk and not kept at all; the final state and each species' m v^2 after every prediction are
    kept always."""
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    k, n_predictions = check_request(model, info, species, box, n_steps)
    cutoff = float(info["cutoff"])
    species = np.asarray(species)
    masses = np.asarray(info["system"]["masses"], np.float64)[species]
    step_time = k * float(info["dt"])
    chunk = min(n_predictions, max(1, CHUNK_ATOM_PREDICTIONS // len(species)))
    simulate = CompiledRollout(model, box, cutoff, species, masses, step_time, chunk, skin, log, network_dtype,
                               thermostat)
    r, v, key = jnp.asarray(positions, jnp.float32), jnp.asarray(velocities, jnp.float32), jax.random.key(seed)
    # the start's, in float64 once: chunks must not each re-round it from float32 velocities
    centre = jnp.asarray(np.einsum("n,nk->k", masses, np.asarray(velocities, np.float64)) / masses.sum(), jnp.float32)
    rs, vs, mv2 = [], [], []
    # with on_frames, the kept predictions go there chunk by chunk (a file) and are not held in memory
    keep = on_frames or (lambda steps, r, v: (rs.append(r), vs.append(v)))
    with (progress_factory or NoProgress)("rollout (MD steps)", n_steps) as advance:
        for first in range(0, n_predictions, chunk):
            n = min(chunk, n_predictions - first)
            r_chunk, v_chunk = simulate(r, v, jax.random.fold_in(key, first), n_predictions=n, centre_velocity=centre)
            r, v = r_chunk[-1], v_chunk[-1]
            r_chunk, v_chunk = np.asarray(r_chunk), np.asarray(v_chunk)
            finite = np.isfinite(r_chunk).all(axis=(1, 2)) & np.isfinite(v_chunk).all(axis=(1, 2))
            if not finite.all():
                bad = first + int(np.argmin(finite))
                raise RolloutError(f"non-finite positions or velocities at prediction {bad + 1} (MD step"
                                   f" {(bad + 1) * k}); the model has left the region it was trained on")
            kept = kept_every(first, n, every)
            if kept.any():
                keep(k * (first + 1 + np.flatnonzero(kept)), r_chunk[kept], v_chunk[kept])
            mv2.append(species_mv2(v_chunk, species, masses, model.n_species))
            advance(n * k)
    steps = k * np.arange(1, n_predictions + 1)
    return Rollout(frames_of(rs, len(species)), frames_of(vs, len(species)),
                   steps[kept_every(0, n_predictions, every)] if on_frames is None else steps[:0],
                   simulate.edge_capacity, np.asarray(r), np.asarray(v), np.concatenate(mv2))


def frames_of(blocks: list, n_atoms: int) -> np.ndarray:
    """(F, N, 3) float32 from blocks of frames; (0, N, 3) when none was kept (every > predictions, or the
    frames went to a file)."""
    return np.concatenate(blocks) if blocks else np.zeros((0, n_atoms, 3), np.float32)


def species_mv2(velocities: np.ndarray, species: np.ndarray, masses: np.ndarray, n_species: int) -> np.ndarray:
    """(F, n_species) sum over each species' atoms of m v^2, in float64, of (F, N, 3) velocities."""
    one_hot = np.eye(n_species)[species] * masses[:, None]  # (N, S) mass of each atom in its species' column
    return np.einsum("fnk,ns->fs", np.asarray(velocities, np.float64) ** 2, one_hot)


def kept_every(first: int, n: int, every: int) -> np.ndarray:
    """(n,) bool: which of predictions first + 1 .. first + n (1-based) are every `every`-th."""
    return (first + 1 + np.arange(n)) % every == 0


def check_request(model: OGN, info: dict, species, box, n_steps: int) -> tuple[int, int]:
    """(k, predictions) of a rollout of `n_steps` MD steps; a clear error for what the model cannot do."""
    k = int(info["k"])
    if n_steps < k or n_steps % k:
        raise ValueError(f"--steps counts MD steps and must be a positive multiple of the model's k = {k}, got {n_steps}")
    cutoff = float(info["cutoff"])
    if box_sides(box).min() < 2 * cutoff:
        raise ValueError(f"box {box_text(box)} has a side smaller than twice the graph cutoff {cutoff:.6g}")
    species = np.asarray(species)
    if species.min() < 0 or species.max() >= model.n_species:
        raise ValueError(f"species {int(species.max())} unknown to this model, which knows {model.n_species} species")
    return k, n_steps // k


def kinetic_energy(velocities, masses: np.ndarray, mvv2e: float):
    """Kinetic energy of (..., N, 3) velocities in float64: (...)."""
    v = np.asarray(velocities, np.float64)
    return 0.5 * mvv2e * np.einsum("n,...nk->...", masses, v**2)


def rescale_to_kinetic(velocities: np.ndarray, masses: np.ndarray, target: float, mvv2e: float) -> np.ndarray:
    """Velocities scaled about their centre-of-mass velocity so that the kinetic energy is `target`; the
    total momentum is kept. Unchanged where the target is below the centre of mass's own kinetic energy."""
    v = np.asarray(velocities, np.float64)
    centre = np.einsum("n,nk->k", masses, v) / masses.sum()
    relative = v - centre
    own = 0.5 * mvv2e * masses.sum() * np.sum(centre**2)
    internal = kinetic_energy(relative, masses, mvv2e)
    if target <= own or internal <= 0:
        return v
    return centre + relative * np.sqrt((target - own) / internal)


def energy_corrected_rollout(model: OGN, info: dict, system, positions, velocities, species, n_steps: int,
                             log: Callable[[str], None] = print, network_dtype: str = "float32",
                             every: int = 1, on_frames: Callable | None = None, skin: float | None = None) -> Rollout:
    """`rollout`, with the velocities rescaled after every prediction so that the total energy under the
    system's true potential stays that of the start (FlashMD's correction; opt-in: it needs a potential
    `ogn` knows and costs one energy evaluation per prediction). Momentum stays conserved. Keeps every
    `every`-th prediction, or gives it to `on_frames`, as `rollout` does."""
    import jax

    from ogn.md.simulate import make_force_field, redo_until_fits

    k, n_predictions = check_request(model, info, species, system.box, n_steps)
    box, species = system.sides, np.asarray(species)
    masses = system.atom_masses(species)
    mvv2e = system.units.mvv2e
    ff = make_force_field(system, species)
    simulate = CompiledRollout(model, box, float(info["cutoff"]), species, masses, k * float(info["dt"]), 1,
                               skin=skin, log=log, network_dtype=network_dtype)

    @jax.jit
    def potential(r, neighbor):
        neighbor = neighbor.update(r)
        return ff.energy_fn(r, neighbor.idx), neighbor

    neighbor = ff.allocate(np.mod(positions, box))

    def potential_energy(r):
        nonlocal neighbor
        wrapped = np.mod(np.asarray(r, np.float64), box)
        (energy, neighbor), _ = redo_until_fits(lambda nb: potential(wrapped, nb),
                                                lambda result: result[1].did_buffer_overflow, ff, wrapped, neighbor)
        return float(energy)

    total = potential_energy(positions) + kinetic_energy(velocities, masses, mvv2e)
    r, v = jnp.asarray(positions, jnp.float32), jnp.asarray(velocities, jnp.float32)
    rs, vs, mv2 = [], [], []
    keep = on_frames or (lambda steps, r, v: (rs.append(r), vs.append(v)))
    kept = kept_every(0, n_predictions, every)
    for i in range(n_predictions):
        r_next, v_next = simulate(r, v)
        r = r_next[0]
        v_new = rescale_to_kinetic(np.asarray(v_next[0]), masses, total - potential_energy(r), mvv2e)
        if not (np.isfinite(np.asarray(r)).all() and np.isfinite(v_new).all()):
            raise RolloutError(f"non-finite positions or velocities at prediction {i + 1} (MD step {(i + 1) * k})")
        v = jnp.asarray(v_new, jnp.float32)
        mv2.append(species_mv2(np.asarray(v)[None], species, masses, model.n_species)[0])
        if kept[i]:
            keep(np.array([(i + 1) * k]), np.asarray(r)[None], np.asarray(v)[None])
    steps = k * np.arange(1, n_predictions + 1)
    return Rollout(frames_of(rs, len(species)), frames_of(vs, len(species)),
                   steps[kept] if on_frames is None else steps[:0], simulate.edge_capacity, np.asarray(r),
                   np.asarray(v), np.stack(mv2))


# ----------------------------------------------------------------------------------------------------------
# checks before a rollout and the summary after it

TEMPERATURE_WARNING = 0.3  # relative distance from the training temperature that earns a warning
DENSITY_WARNING = 0.05  # relative distance from the training number density
COMPOSITION_WARNING = 0.05  # largest difference of a species' atom fraction
RUNAWAY_TEMPERATURE = 10.0  # a start hotter than this many times the training temperature is refused


def kinetic_temperature(velocities: np.ndarray, masses: np.ndarray, units) -> float:
    """T with 3N - 3 degrees of freedom, as LAMMPS's `compute temp` (and `ogn md`)."""
    return float(2 * kinetic_energy(velocities, masses, units.mvv2e) / ((3 * len(masses) - 3) * units.boltzmann))


def training_temperature(info: dict) -> float:
    """The temperature of the training data: the preset's, or the glass's for a melt-quenched dataset."""
    from ogn.md.run import GLASS_TEMPERATURE

    spec = info.get("dataset_spec", {})
    return float(spec.get("glass_temperature", GLASS_TEMPERATURE)) if spec.get("glass") else float(
        info["system"]["temperature"])


def check_start(info: dict, positions, velocities, species, box, source: str, units) -> list[str]:
    """Refuse a start that cannot be simulated (non-finite values, a runaway temperature); return warnings
    for one far from the training data (temperature, density, composition)."""
    system = info["system"]
    for name, values in (("positions", positions), ("velocities", velocities)):
        bad = ~np.isfinite(np.asarray(values)).all(axis=-1)
        if bad.any():
            raise ValueError(f"{source}: non-finite {name} for {int(bad.sum())} atom(s), the first atom {int(np.argmax(bad)) + 1}")
    masses = np.asarray(system["masses"], np.float64)[species]
    t_train, t_start = training_temperature(info), kinetic_temperature(velocities, masses, units)
    temperature_unit = units.temperature
    if t_start > RUNAWAY_TEMPERATURE * t_train:
        raise ValueError(f"{source}: its velocities give T = {t_start:.4g} {temperature_unit}, more than"
                         f" {RUNAWAY_TEMPERATURE:g}x the {t_train:.4g} the model was trained at; check the velocity units")
    warnings = []
    if abs(t_start / t_train - 1) > TEMPERATURE_WARNING:
        warnings.append(f"the start's T = {t_start:.4g} {temperature_unit} is {100 * abs(t_start / t_train - 1):.0f} %"
                        f" away from the training data's {t_train:.4g}")
    n_train = sum(system["counts"])
    density_train = n_train / np.prod(box_sides(system["box"]))
    density = len(species) / np.prod(box_sides(box))
    if abs(density / density_train - 1) > DENSITY_WARNING:
        warnings.append(f"the start's number density {density:.4g} differs by {100 * abs(density / density_train - 1):.0f} %"
                        f" from the training data's {density_train:.4g}")
    fractions_train = np.asarray(system["counts"]) / n_train
    fractions = np.bincount(species, minlength=len(fractions_train)) / len(species)
    if np.abs(fractions - fractions_train).max() > COMPOSITION_WARNING:
        names = system["species"]
        warnings.append("the start's composition " + ", ".join(f"{n} {f:.3f}" for n, f in zip(names, fractions))
                        + " differs from the training data's " + ", ".join(
                            f"{n} {f:.3f}" for n, f in zip(names, fractions_train)))
    return warnings


@dataclass
class PhysicsSummary:
    """How the physics held over a rollout, as `ogn md` reports it."""

    temperature_start: float
    temperature_end: float
    momentum_start: np.ndarray  # (3,) total momentum, mass * velocity units
    momentum_end: np.ndarray
    thermal_momentum: float  # sqrt(N m kB T), the scale of a random total momentum
    energy_change_per_atom: float | None  # E_total(end) - E_total(start) per atom; None without a potential
    thermal_energy: float  # kB T of the start
    units: object
    species_temperatures: dict[str, float] | None = None  # mean kinetic T of each species over the rollout
    temperature_mean: float | None = None  # mean kinetic T over the rollout

    def lines(self) -> list[str]:
        u = self.units
        change = np.abs(self.momentum_end - self.momentum_start).max() / self.thermal_momentum
        lines = [f"T: {self.temperature_start:.4g} -> {self.temperature_end:.4g} {u.temperature}"]
        if self.temperature_mean is not None:
            lines.append(f"mean T over the rollout: {self.temperature_mean:.4g} {u.temperature}; per species: "
                         + ", ".join(f"{name} {t:.4g}" for name, t in self.species_temperatures.items()))
        lines += [
            (f"total momentum: |P_end - P_start| = {change:.2e} sqrt(N m kB T) (conserved exactly up to float32"
             " rounding)"),
        ]
        if self.energy_change_per_atom is None:
            lines.append("total energy: not computed (--energies computes it where the system's potential is known)")
        else:
            lines.append(f"total energy change: {self.energy_change_per_atom:.4g} {u.energy} per atom ="
                         f" {self.energy_change_per_atom / self.thermal_energy:.3g} kB T")
        return lines


def physics_summary(info: dict, species, start: tuple, end: tuple, units, system=None,
                    species_mv2: np.ndarray | None = None) -> PhysicsSummary:
    """`start` and `end`: (positions, velocities); `system`: a System with a potential, or None;
    `species_mv2` (F, n_species), each species' sum of m v^2 per frame (`Rollout.species_mv2`): for the
    mean temperatures, total (3N - 3 degrees of freedom) and per species (3 per atom)."""
    masses = np.asarray(info["system"]["masses"], np.float64)[species]
    t0, t1 = (kinetic_temperature(v, masses, units) for _, v in (start, end))
    p0, p1 = (np.einsum("n,nk->k", masses, np.asarray(v, np.float64)) for _, v in (start, end))
    thermal_energy = units.boltzmann * t0
    thermal_momentum = float(np.sqrt(np.sum(masses) * np.mean(masses) * thermal_energy / units.mvv2e))
    change = None
    if system is not None:
        from ogn.md.simulate import frame_energies

        positions = np.stack([np.asarray(start[0], np.float64), np.asarray(end[0], np.float64)])
        velocities = np.stack([np.asarray(start[1], np.float64), np.asarray(end[1], np.float64)])
        potential, kinetic, _ = frame_energies(system, species, positions, velocities)
        total = potential + kinetic
        change = float(total[1] - total[0]) / len(species)
    summary = PhysicsSummary(t0, t1, p0, p1, thermal_momentum, change, thermal_energy, units)
    if species_mv2 is not None:
        counts = np.bincount(np.asarray(species), minlength=species_mv2.shape[1])
        to_temperature = units.mvv2e / units.boltzmann
        summary.temperature_mean = float(np.mean(species_mv2.sum(axis=1)) * to_temperature / (3 * len(species) - 3))
        summary.species_temperatures = {name: float(np.mean(species_mv2[:, s]) * to_temperature / (3 * counts[s]))
                                        for s, name in enumerate(info["system"]["species"]) if counts[s]}
    return summary


ROLLOUT_FORMATS = {".h5": "h5md", ".hdf5": "h5md", ".h5md": "h5md", ".xyz": "extxyz", ".extxyz": "extxyz"}  # by extension


def rollout_to_file(run_dir: str | Path, init: str | Path, out: str | Path, n_steps: int, frame: int = -1,
                    energies: bool = False, every: int = 1, network_dtype: str = "float32",
                    energy_correction: bool = False, thermostat: str | None = None, temperature: float | None = None,
                    damping: float | None = None, seed: int = 0, store_precision: str = "float32",
                    skin: float | None = None, log: Callable[[str], None] = print,
                    progress_factory=None) -> tuple[PhysicsSummary, list[str]]:
    """`ogn rollout`: load a trained run and a start, check both, roll out, write the start and every
    `every`-th prediction to `out` (H5MD, or extxyz by its extension), steps counted on from the start's.

    Returns the physics summary and the warnings issued before the run. Potential energies are evaluated
    (true potential) on the written frames only with `energies`. `thermostat` ("langevin" or "csvr") at
    `temperature` with time constant `damping` (default 100 MD steps) makes the rollout NVT, reproducibly
    from `seed`. Positions and velocities are stored in `store_precision` (float32: as computed). `skin`:
    the cell list's (default: `default_skin`), a speed setting only: no pair is ever dropped.
    `out` is checked before any work.
    """
    if every < 1:
        raise ValueError(f"--every counts predictions and must be >= 1, got {every}")
    if Path(out).suffix.lower() not in ROLLOUT_FORMATS:
        raise ValueError(f"{out}: unknown output format {Path(out).suffix!r}; use .h5 (H5MD) or .extxyz")
    if thermostat is not None and (energy_correction or temperature is None):
        raise ValueError("--thermostat needs --temperature, and excludes --energy-correction (which keeps NVE energy)")
    if thermostat is None and (temperature is not None or damping is not None):
        raise ValueError("--temperature and --damping set a thermostat: give --thermostat langevin or csvr too")
    if skin is not None and not skin > 0:
        raise ValueError(f"--skin must be > 0 (a length in the system's unit), got {skin}")
    if energies and ROLLOUT_FORMATS[Path(out).suffix.lower()] == "extxyz":
        raise ValueError(f"{out}: extxyz output has no place for --energies; write .h5 (H5MD) for them")
    from ogn.io.files import check_writable
    from ogn.md.run import load_init
    from ogn.model.checkpoint import load_run
    from ogn.systems import system_from_description
    from ogn.thermostats import make_thermostat
    from ogn.units import UNITS

    check_writable(out)
    model, info, _ = load_run(run_dir)
    system, start = load_init(system_from_description(info["system"]), str(init), frame)
    if system.potential is None and (energies or energy_correction):
        raise ValueError(f"{run_dir} was trained on {system.name!r}, whose potential ogn does not know: --energies and"
                         " --energy-correction need one")
    units = UNITS[info["system"]["units"]]
    masses = system.atom_masses(start.species)
    step_time = int(info["k"]) * system.dt
    half_step = None
    if thermostat is not None:
        damping = 100 * system.dt if damping is None else damping
        half_step = make_thermostat(thermostat, temperature, damping, step_time, masses, units)
    warnings = check_start(info, start.positions, start.velocities, start.species, system.box, str(init), units)
    for warning in warnings:
        log(f"warning: {warning}; the model was not trained on such states")
    ensemble = (f", {thermostat} thermostat at {temperature:g} {units.temperature} (damping {damping:g} {units.time},"
                f" seed {seed})" if thermostat else "")
    log(f"rolling {run_dir} (k = {info['k']}) for {n_steps} MD steps from {init}, N = {system.n_atoms}{ensemble}")
    with open_rollout_file(out, system, start.species, start.step, energies, {
            "system": system.describe(), "model": str(run_dir), "k": info["k"], "init": str(init),
            "network_dtype": network_dtype, "energy_correction": energy_correction,
            "thermostat": None if thermostat is None else {"name": thermostat, "temperature": temperature,
                                                           "damping": damping, "seed": seed},
            "potential_energy": "true potential" if energies else "not computed"}, store_precision) as write:
        # frames go to the file as they are predicted: memory does not grow with the rollout
        write(np.zeros(1, int), start.positions[None], start.velocities[None])
        if energy_correction:
            log("energy correction: velocities rescaled after every prediction to keep the start's total energy")
            result = energy_corrected_rollout(model, info, system, start.positions, start.velocities, start.species,
                                              n_steps, log=log, network_dtype=network_dtype, every=every,
                                              on_frames=write, skin=skin)
        else:
            result = rollout(model, info, start.positions, start.velocities, start.species, system.box, n_steps,
                             log=log, network_dtype=network_dtype, thermostat=half_step, seed=seed,
                             progress_factory=progress_factory, every=every, on_frames=write, skin=skin)
    # the true energy needs the potential the learned simulator replaces: only when asked for
    summary = physics_summary(info, start.species, (start.positions, start.velocities),
                              (result.final_positions, result.final_velocities), units,
                              system if energies or energy_correction else None, result.species_mv2)
    return summary, warnings


@contextmanager
def open_rollout_file(out: str | Path, system, species, first_step: int, energies: bool, metadata: dict,
                      store_precision: str):
    """Yields write(steps, positions, velocities), which appends frames to `out` (H5MD, or extxyz by its
    extension); `steps` count from the start, whose step is `first_step`. The frames get kinetic energies,
    and true potential energies when `energies`. The file is written under a temporary name and appears at
    `out` only when the block completes (a failure leaves it at failed_path(out))."""
    masses = system.atom_masses(species)
    if ROLLOUT_FORMATS[Path(out).suffix.lower()] == "extxyz":
        from ogn.io.structures import ExtxyzWriter

        with ExtxyzWriter(out, species, system.species_names, system.box, system.dt, system.units.time) as writer:
            yield lambda steps, r, v: writer.append(first_step + steps, r, v)
        return
    from ogn.io.h5md import TrajectoryWriter

    energy = None
    if energies:
        from ogn.md.simulate import make_frame_energies

        energy = make_frame_energies(system, species)

    def write(steps, positions, velocities):
        if energy is not None:
            potential, kinetic, _ = energy(positions, velocities)
        else:
            kinetic = kinetic_energy(velocities, masses, system.units.mvv2e)
            potential = np.full(len(kinetic), np.nan)
        writer.append(first_step + steps, positions, velocities, potential, kinetic)

    with TrajectoryWriter(out, species, system.box, system.dt, metadata, system.units.name,
                          dtype=store_precision) as writer:
        yield write
