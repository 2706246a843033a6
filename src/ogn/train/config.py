"""The `train:` section of a run's config, the whole run config, and loading it from YAML (validated on
load, the Flax examples' frozen dataclasses)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from ogn.config import build_dataclass
from ogn.model.config import ModelConfig
from ogn.model.registry import network_class

SCHEDULES = ("exponential", "cosine")
OPTIMIZERS = ("adam", "amsgrad")


@dataclass(frozen=True)
class TrainConfig:
    k: int = 1  # MD steps per prediction
    steps: int = 20_000_000  # gradient steps (paper: 1000 epochs of 10 000 configurations)
    batch_size: int = 1  # configurations per gradient step (paper: 1)
    learning_rate: float = 1e-4  # paper: LR = 1e-4 * 0.1^(K / 1e7), floored at 1e-6
    lr_decay_rate: float = 0.1
    lr_decay_steps: float = 1e7  # the horizon: LR falls by lr_decay_rate every this many steps
    lr_final: float = 1e-6
    augment: bool = True  # a random symmetry of the box per configuration per epoch (none for the equivariant network)
    test_every: int = 1000  # paper: 1000
    test_pairs: int = 100  # paper: 100
    checkpoint_every: int = 10_000
    steps_per_call: int = 100  # gradient steps per compiled call; test/checkpoint periods round up to it
    edge_capacity_margin: float = 1.05  # edge capacity = margin x the most edges of any configuration
    # Training noise (DeepMind GNS), 0 = off (paper): each input state is perturbed by Gaussian noise of
    # this fraction of the data's velocity spread (per component) in v, and of that times k dt in r, and
    # the targets lead back to the true state k steps later, so the model learns to undo its own errors.
    noise: float = 0.0
    # Push-forward training (Brandstetter et al. 2022), 1 = off (paper): the model is applied unroll - 1
    # times without gradient from each start, and trained on the state it reaches, towards the true state
    # `unroll` predictions after the start; the test loss stays the one-prediction loss.
    unroll: int = 1
    unroll_warmup: int = 1000  # one-prediction steps before push-forward starts (an untrained model's are noise)
    seed: int = 0
    # The regime of interatomic potentials (NequIP, MACE, FlashMD); each off by default (the paper's choice).
    # "exponential" is the paper's LR * lr_decay_rate^(step / lr_decay_steps), floored at lr_final; "cosine"
    # rises linearly over warmup_steps to learning_rate, then falls as a half cosine to lr_final, reached
    # exactly at train.steps (lr_decay_* unused).
    schedule: str = "exponential"
    warmup_steps: int = 0  # steps of the linear warmup (both schedules)
    optimizer: str = "adam"  # "adam" (paper) or "amsgrad"
    grad_clip: float = 0.0  # largest global norm of a gradient step; 0 = no clipping (paper)
    # Exponential moving average of the weights, 0 = off (paper): the test loss, the checkpoint's weights
    # and so every rollout use the average; the raw weights are kept in the checkpoint for --resume.
    ema_decay: float = 0.0
    # Time reversal: MD is reversible, so the pair (r, v) -> (r', v') gives a second one, (r', -v') -> (r, -v),
    # with targets [-dr, dv]. This fraction of the training configurations is drawn reversed; 0 = off.
    time_reversal: float = 0.0
    velocity_weight: float = 1.0  # weight of the dv error against the dr error in the loss (1: the paper's mean)
    # Data parallel: the batch is split over this many of JAX's devices (GPUs; on a CPU, host devices made with
    # XLA_FLAGS=--xla_force_host_platform_device_count=N, which `ogn train --devices` sets); batch_size must be
    # a multiple. May change on --resume.
    devices: int = 1

    def __post_init__(self):
        for name in ("k", "steps", "batch_size", "test_every", "test_pairs", "checkpoint_every", "steps_per_call",
                     "unroll"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.lr_final <= self.learning_rate:
            raise ValueError(f"need 0 < lr_final <= learning_rate, got {self.lr_final}, {self.learning_rate}")
        if self.devices < 1 or self.batch_size % self.devices:
            raise ValueError(f"train.devices = {self.devices} must be >= 1 and divide train.batch_size = {self.batch_size}"
                             " (each device takes an equal part of every batch)")
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"train.warmup_steps must be >= 0 and below train.steps = {self.steps}, got {self.warmup_steps}")
        for name, holds, wants in _RULES:
            value = getattr(self, name)
            if not holds(value):
                raise ValueError(f"train.{name} {wants}, got {value!r}")


def _finite(x) -> bool:
    return bool(np.isfinite(x))


# (field, the test its value must pass, what the error says it must be)
_RULES = (
    ("unroll_warmup", lambda x: x >= 0, "must be >= 0"),
    ("learning_rate", lambda x: _finite(x) and x > 0, "must be positive and finite"),
    ("lr_decay_rate", lambda x: 0 < x <= 1, "is the factor per lr_decay_steps, in (0, 1]"),
    ("lr_decay_steps", lambda x: _finite(x) and x >= 1, "must be >= 1 (steps over which the rate falls by lr_decay_rate)"),
    ("noise", lambda x: 0 <= x < 1, "is a fraction of the velocity spread in [0, 1)"),
    ("schedule", lambda x: x in SCHEDULES, f"must be one of {SCHEDULES}"),
    ("optimizer", lambda x: x in OPTIMIZERS, f"must be one of {OPTIMIZERS}"),
    ("grad_clip", lambda x: _finite(x) and x >= 0, "is a gradient norm, >= 0 (0: off)"),
    ("ema_decay", lambda x: 0 <= x < 1, "must be in [0, 1) (0: off; 0.99-0.999 typical)"),
    ("time_reversal", lambda x: 0 <= x <= 1, "is a fraction of the configurations, in [0, 1]"),
    ("velocity_weight", lambda x: _finite(x) and x > 0, "must be positive and finite"),
    ("edge_capacity_margin", lambda x: x >= 1, "must be >= 1"),
)


@dataclass(frozen=True)
class RunConfig:
    data: str  # dataset directory (`ogn dataset`)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def config_from_dict(d: dict) -> RunConfig:
    d = dict(d or {})
    unknown = set(d) - {"data", "model", "train"}
    if unknown:
        raise ValueError(f"unknown section(s) {sorted(unknown)}; known: data, model, train")
    if "data" not in d:
        raise ValueError("the config names no dataset: add `data: DIR`, or pass --data")
    config = RunConfig(
        data=str(d["data"]),
        model=build_dataclass(ModelConfig, d.get("model", {}), "model"),
        train=build_dataclass(TrainConfig, d.get("train", {}), "train"),
    )
    network_class(config.model.network)  # an unknown network is a config error, found on load
    return config


SHIPPED_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def load_config(path: str | Path, **overrides) -> RunConfig:
    """A RunConfig from YAML; `overrides` data=..., steps=..., k=..., devices=... replace what the file says. A path that
    does not exist but names a shipped config (`configs/fast.yaml`, `fast.yaml`) is that config."""
    path = Path(path)
    if not path.is_file() and (SHIPPED_CONFIGS / path.name).is_file() and len(path.parts) <= 2:
        path = SHIPPED_CONFIGS / path.name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file; shipped configs: "
                                + ", ".join(sorted(p.name for p in SHIPPED_CONFIGS.glob("*.yaml"))))
    try:
        d = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a YAML text file ({err})") from err
    if not isinstance(d, dict):
        raise ValueError(f"{path}: expected a mapping with data, model and train at the top, got a {type(d).__name__}")  # noqa: TRY004
    if overrides.get("data") is not None:
        d["data"] = overrides["data"]
    for name in ("steps", "k", "devices"):
        if overrides.get(name) is not None:
            d.setdefault("train", {})[name] = overrides[name]
    try:
        return config_from_dict(d)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
