"""Frozen dataclass settings built from YAML mappings, validated on load (the Flax examples' configs)."""

from __future__ import annotations

import typing


def build_dataclass(cls, values, where: str):
    """`cls(**values)` with every name checked against `cls`'s fields and every int, float and bool
    converted (YAML 1.1 reads 1e-4 as a string); errors say which setting of `where` is wrong."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping, got {values!r}")  # noqa: TRY004 (a config error)
    hints = typing.get_type_hints(cls)
    unknown = set(values) - set(hints)
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {sorted(unknown)}; known: {sorted(hints)}")
    kwargs = {}
    for name, value in values.items():
        kind = hints[name]
        try:
            kwargs[name] = kind(value) if kind in (int, float, bool) and not isinstance(value, kind) else value
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}.{name}: expected {kind.__name__}, got {value!r}") from err
        if kind is int and kwargs[name] != value:
            raise ValueError(f"{where}.{name}: expected an integer, got {value!r}")
    return cls(**kwargs)
