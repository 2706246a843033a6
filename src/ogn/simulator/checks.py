"""What is checked before a learned rollout, for every caller alike (`ogn rollout`, `ogn evaluate`,
`OGNDynamics`, the LAMMPS driver): refusals for what the model cannot do, warnings for starts far from
its training data."""

from __future__ import annotations

import numpy as np

from ogn.periodic import box_sides, box_text
from ogn.quantity import kinetic_temperature, training_temperature

TEMPERATURE_WARNING = 0.3  # relative distance from the training temperature that earns a warning
DENSITY_WARNING = 0.05  # relative distance from the training number density
COMPOSITION_WARNING = 0.05  # largest difference of a species' atom fraction
RUNAWAY_TEMPERATURE = 10.0  # a start (or thermostat target) hotter than this many times the training T is refused
THERMOSTAT_MISS = 0.1  # a thermostatted rollout whose mean T misses its target by this fraction is called out


def check_atoms(info: dict, species, box, source: str, cutoff: float | None = None) -> None:
    """Refuse atoms the model cannot simulate: unknown species, fewer than 2 atoms, or a box side shorter
    than twice the model's graph cutoff (minimum-image graphs would be wrong). `cutoff`: a larger one that
    must fit too (the potential's r_c, when energies are asked for)."""
    species = np.asarray(species)
    names = info["system"]["species"]
    if species.size < 2:
        raise ValueError(f"{source}: {species.size} atom(s); a learned rollout needs at least 2")
    if species.min() < 0 or species.max() >= len(names):
        raise ValueError(f"{source}: species {int(species.max())} unknown to this model, which knows {names}")
    sides = box_sides(box, source)
    graph_cutoff = float(info["cutoff"])
    if sides.min() < 2 * graph_cutoff:
        raise ValueError(f"{source}: box {box_text(sides)} has a side smaller than twice the model's graph cutoff"
                         f" {graph_cutoff:.6g}")
    if cutoff is not None and sides.min() < 2 * cutoff:
        raise ValueError(f"{source}: box {box_text(sides)} has a side smaller than twice the potential's cutoff"
                         f" r_c = {cutoff:.6g}, which the true energies need")


def predictions_for(info: dict, n_steps: int) -> int:
    """Predictions for `n_steps` MD steps, which must be a positive multiple of the model's k."""
    k = int(info["k"])
    if n_steps < k or n_steps % k:
        raise ValueError(f"--steps counts MD steps and must be a positive multiple of the model's k = {k}, got {n_steps}")
    return n_steps // k


def check_start(info: dict, positions, velocities, species, box, source: str, units) -> list[str]:
    """Refuse a start that cannot be simulated (non-finite values, a runaway temperature); return warnings
    for one far from the training data (temperature, density, composition)."""
    system = info["system"]
    for name, values in (("positions", positions), ("velocities", velocities)):
        bad = ~np.isfinite(np.asarray(values)).all(axis=-1)
        if bad.any():
            raise ValueError(f"{source}: non-finite {name} for {int(bad.sum())} atom(s), the first atom {int(np.argmax(bad)) + 1}")
    masses = np.asarray(system["masses"], np.float64)[species]
    t_train = training_temperature(system, info.get("dataset_spec", {}))
    t_start = float(kinetic_temperature(velocities, masses, units))
    if t_start > RUNAWAY_TEMPERATURE * t_train:
        raise ValueError(f"{source}: its velocities give T = {t_start:.4g} {units.temperature}, more than"
                         f" {RUNAWAY_TEMPERATURE:g}x the {t_train:.4g} the model was trained at; check the velocity units")
    warnings = []
    if abs(t_start / t_train - 1) > TEMPERATURE_WARNING:
        warnings.append(f"the start's T = {t_start:.4g} {units.temperature} is {100 * abs(t_start / t_train - 1):.0f} %"
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


def check_thermostat_target(info: dict, temperature: float, units) -> list[str]:
    """Refuse a thermostat target far beyond the training data (as a start would be); warn for one that is
    `TEMPERATURE_WARNING` away from it."""
    t_train = training_temperature(info["system"], info.get("dataset_spec", {}))
    if temperature > RUNAWAY_TEMPERATURE * t_train:
        raise ValueError(f"--temperature {temperature:g} {units.temperature} is more than {RUNAWAY_TEMPERATURE:g}x the"
                         f" {t_train:.4g} the model was trained at")
    if abs(temperature / t_train - 1) > TEMPERATURE_WARNING:
        return [(f"the thermostat's target T = {temperature:.4g} {units.temperature} is"
                 f" {100 * abs(temperature / t_train - 1):.0f} % away from the training data's {t_train:.4g}")]
    return []
